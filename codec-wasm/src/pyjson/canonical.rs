//! Recognizing a JSON object that is already exactly what `encode(parse(text))` writes —
//! Python's `json.dumps` with its default separators and `ensure_ascii` — in one pass and
//! without building it. Upstream's worker writes every event line that way, so `process` can
//! copy such a line to its event file as it is; anything else (other spacing, escapes Python
//! would not write, duplicate keys, surrogates, a float not in its shortest form) is left to
//! the full parser, which gives the same result the slow way.

use std::ops::Range;

use super::float_repr::write_json_float;

/// Python's default `sys.int_info.str_digits_check_threshold`: longer ints fail to parse.
const INT_MAX_STR_DIGITS: usize = 4300;

/// Where the values of some top-level members are, in a canonical object.
#[derive(Debug, PartialEq, Eq)]
pub struct Members<const N: usize> {
    /// The value's bytes of each wanted key, in the order asked for.
    pub values: [Option<Range<usize>>; N],
}

/// `Some` when `text` (one object, optionally followed by a single `\n`) is canonical and no
/// container in it is nested deeper than `max_depth`; then the ranges of the `wanted` keys'
/// values.
pub fn scan<const N: usize>(text: &[u8], max_depth: usize, wanted: [&[u8]; N]) -> Option<Members<N>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let mut scanner = Scanner { text: body, pos: 0, scratch: Vec::new() };
    let mut members = Members { values: std::array::from_fn(|_| None) };
    if body.first() != Some(&b'{') {
        return None;
    }
    scanner.object(1, max_depth, Some((&wanted, &mut members.values)))?;
    (scanner.pos == body.len()).then_some(members)
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    /// Reused for the float check.
    scratch: Vec<u8>,
}

type Wanted<'w, const N: usize> = Option<(&'w [&'w [u8]; N], &'w mut [Option<Range<usize>>; N])>;

impl Scanner<'_> {
    fn eat(&mut self, expected: &[u8]) -> Option<()> {
        if self.text[self.pos..].starts_with(expected) {
            self.pos += expected.len();
            Some(())
        } else {
            None
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn value(&mut self, depth: usize, max_depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1, max_depth, None::<(&[&[u8]; 0], &mut [Option<Range<usize>>; 0])>),
            b'[' => self.array(depth + 1, max_depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.eat(b"true"),
            b'f' => self.eat(b"false"),
            b'n' => self.eat(b"null"),
            b'N' => self.eat(b"NaN"),
            b'I' => self.eat(b"Infinity"),
            b'-' if self.text[self.pos..].starts_with(b"-Infinity") => self.eat(b"-Infinity"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object<const N: usize>(&mut self, depth: usize, max_depth: usize, mut wanted: Wanted<'_, N>) -> Option<()> {
        if depth > max_depth {
            return None;
        }
        self.eat(b"{")?;
        if self.eat(b"}").is_some() {
            return Some(());
        }
        // Canonical strings are unique spellings, so equal keys have equal bytes.
        let mut keys: Vec<Range<usize>> = Vec::new();
        loop {
            let key = self.string()?;
            if keys.iter().any(|k| self.text[k.clone()] == self.text[key.clone()]) {
                return None;
            }
            self.eat(b": ")?;
            let start = self.pos;
            self.value(depth, max_depth)?;
            if let Some((names, slots)) = wanted.as_mut() {
                // The key's text between its quotes equals a wanted name only when unescaped.
                let name = &self.text[key.start + 1..key.end - 1];
                if let Some(i) = names.iter().position(|n| *n == name) {
                    slots[i] = Some(start..self.pos);
                }
            }
            keys.push(key);
            if self.closes(b'}')? {
                return Some(());
            }
        }
    }

    fn array(&mut self, depth: usize, max_depth: usize) -> Option<()> {
        if depth > max_depth {
            return None;
        }
        self.eat(b"[")?;
        if self.eat(b"]").is_some() {
            return Some(());
        }
        loop {
            self.value(depth, max_depth)?;
            if self.closes(b']')? {
                return Some(());
            }
        }
    }

    /// After a member or element: `", "` (false: more follow) or the closing bracket (true).
    fn closes(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => self.eat(b", ").map(|_| false),
            b if b == close => {
                self.pos += 1;
                Some(true)
            }
            _ => None,
        }
    }

    /// A string as `ensure_ascii` writes it: printable ASCII raw (but `"` and `\`), the
    /// short escapes for `\b \t \n \f \r " \`, lowercase `\u00XX` for the other controls and
    /// everything from DEL up (characters beyond U+FFFF as surrogate pairs).
    fn string(&mut self) -> Option<Range<usize>> {
        let start = self.pos;
        self.eat(b"\"")?;
        loop {
            let rest = &self.text[self.pos..];
            let plain = rest.iter().position(|b| !matches!(b, 0x20..=0x7e) || *b == b'"' || *b == b'\\')?;
            self.pos += plain;
            match self.text[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return Some(start..self.pos);
                }
                b'\\' => {
                    let escape = *self.text.get(self.pos + 1)?;
                    match escape {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.pos += 2,
                        b'u' => {
                            let unit = self.escaped_unit(self.pos)?;
                            let short_form = matches!(unit, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d);
                            if (0x20..=0x7e).contains(&unit) || short_form || (0xdc00..=0xdfff).contains(&unit) {
                                return None;
                            }
                            if (0xd800..=0xdbff).contains(&unit) {
                                // A pair is one character beyond U+FFFF, written back as the
                                // same pair; a lone surrogate is left to the full parser.
                                let low = self.escaped_unit(self.pos + 6)?;
                                if !(0xdc00..=0xdfff).contains(&low) {
                                    return None;
                                }
                                self.pos += 6;
                            }
                            self.pos += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// The code unit of a `\uXXXX` escape at `at`, lowercase hex only (as Python writes it).
    fn escaped_unit(&self, at: usize) -> Option<u32> {
        let escape = self.text.get(at..at + 6)?;
        if &escape[..2] != b"\\u" || !escape[2..].iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
    }

    /// An int as `int.__repr__` writes it (no `-0`, within Python's digit limit), or a
    /// float exactly as `float.__repr__` writes the value it parses to.
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        let int_digits = self.pos - digits_start;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
            float = true;
        }
        let text = &self.text[start..self.pos];
        if !float {
            return (text != b"-0" && int_digits <= INT_MAX_STR_DIGITS).then_some(());
        }
        let value: f64 = std::str::from_utf8(text).ok()?.parse().ok()?;
        self.scratch.clear();
        write_json_float(value, &mut self.scratch);
        (self.scratch == text).then_some(())
    }

    /// One digit or more (a fraction or exponent without digits is not canonical).
    fn some_digits(&mut self) -> Option<()> {
        let before = self.pos;
        self.skip_digits();
        (self.pos > before).then_some(())
    }

    fn skip_digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
    }
}
