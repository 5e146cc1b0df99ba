//! Recognizing a JSON object that is already exactly what `encode(parse(text))` writes —
//! Python's `json.dumps` with its default separators and `ensure_ascii` — in one pass and
//! without building it. Upstream's worker writes every event line that way, so `process` can
//! copy such a line to its event file as it is; anything else (other spacing, escapes Python
//! would not write, duplicate keys, surrogates, a float not in its shortest form) is left to
//! the full parser, which gives the same result the slow way.

use std::ops::Range;

use super::float_repr::write_json_float;
use super::long_float::long_float_repr;

/// Python's default `sys.int_info.str_digits_check_threshold`: longer ints fail to parse.
const INT_MAX_STR_DIGITS: usize = 4300;

/// Where the values of some members are, in a canonical object.
#[derive(Debug, PartialEq, Eq)]
pub struct Members<const N: usize> {
    /// The value's bytes of each wanted member, in the order asked for.
    pub values: [Option<Range<usize>>; N],
}

/// The scanner's buffers, kept by a caller that scans line after line (two allocations
/// per line otherwise).
#[derive(Debug, Default)]
pub struct ScanSpace {
    keys: Vec<(u64, Range<usize>)>,
    scratch: Vec<u8>,
}

/// `Some` when `text` (one object, optionally followed by a single `\n`) is canonical and no
/// container in it is nested deeper than `max_depth`; then the ranges of the `wanted`
/// top-level keys' values.
pub fn scan_in<const N: usize>(space: &mut ScanSpace, text: &[u8], max_depth: usize, wanted: [&[u8]; N]) -> Option<Members<N>> {
    scan_paths_in(space, text, max_depth, wanted.each_ref().map(std::slice::from_ref))
}

/// [`scan_in`] with fresh buffers.
#[cfg(test)]
pub fn scan<const N: usize>(text: &[u8], max_depth: usize, wanted: [&[u8]; N]) -> Option<Members<N>> {
    scan_in(&mut ScanSpace::default(), text, max_depth, wanted)
}

/// [`scan_paths_in`] with fresh buffers.
#[cfg(test)]
pub fn scan_paths<const N: usize>(text: &[u8], max_depth: usize, wanted: [&[&[u8]]; N]) -> Option<Members<N>> {
    scan_paths_in(&mut ScanSpace::default(), text, max_depth, wanted)
}

/// [`scan_in`] for members at any depth: each wanted path is the keys from the top-level
/// object down (`[b"event_data", b"host"]`); a path through something other than an object
/// finds nothing.
pub fn scan_paths_in<const N: usize>(space: &mut ScanSpace, text: &[u8], max_depth: usize, wanted: [&[&[u8]]; N]) -> Option<Members<N>> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    let (end, members) = scan_object(space, body, max_depth, wanted)?;
    (end == body.len()).then_some(members)
}

/// [`scan_paths_in`] for the line at the start of `text`, before its newline is known: a
/// canonical line holds no newline but the one that ends it (strings escape theirs, and no
/// other whitespace is allowed), so the scan stops where the line ends, and the newline
/// search is saved. `Some` when the object is followed by `\n`: then the line's length
/// (without the newline) and the members.
pub fn scan_line_in<const N: usize>(space: &mut ScanSpace, text: &[u8], max_depth: usize, wanted: [&[&[u8]]; N]) -> Option<(usize, Members<N>)> {
    let (end, members) = scan_object(space, text, max_depth, wanted)?;
    (text.get(end) == Some(&b'\n')).then_some((end, members))
}

/// The canonical object at the start of `text`: where it ends, and the wanted members.
fn scan_object<const N: usize>(space: &mut ScanSpace, text: &[u8], max_depth: usize, wanted: [&[&[u8]]; N]) -> Option<(usize, Members<N>)> {
    assert!(N <= 32, "wanted paths are tracked in a u32");
    let mut path_prints = [[0; MAX_PATH_DEPTH]; 32];
    let mut depth_filters = [0u64; MAX_PATH_DEPTH];
    for (prints, path) in path_prints.iter_mut().zip(&wanted) {
        assert!(path.len() <= MAX_PATH_DEPTH, "a wanted path deeper than {MAX_PATH_DEPTH}");
        for ((print, key), filter) in prints.iter_mut().zip(path.iter()).zip(&mut depth_filters) {
            *print = fingerprint(key);
            *filter |= 1 << (print_bit(*print) % 64);
        }
    }
    if text.first() != Some(&b'{') {
        return None;
    }
    // Room for an event's keys at all open levels, so the scan seldom reallocates.
    let mut keys = std::mem::take(&mut space.keys);
    keys.clear();
    keys.reserve(64);
    let scratch = std::mem::take(&mut space.scratch);
    let mut scanner = Scanner { text, pos: 0, scratch, keys, paths: &wanted, path_prints, depth_filters, found: [const { None }; 32] };
    let everything = if N == 32 { u32::MAX } else { (1u32 << N) - 1 };
    let complete = scanner.object(1, max_depth, everything).is_some();
    space.keys = std::mem::take(&mut scanner.keys);
    space.scratch = std::mem::take(&mut scanner.scratch);
    if !complete {
        return None;
    }
    let mut values: [Option<Range<usize>>; N] = std::array::from_fn(|_| None);
    for (slot, found) in values.iter_mut().zip(scanner.found) {
        *slot = found;
    }
    Some((scanner.pos, Members { values }))
}

/// Byte for byte, inline: keys and literals are short, and wasm's memcmp is a call and a
/// byte loop (the literals `true`, `null`... and key lookups called it on every line).
#[inline(always)]
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Length and three of the bytes: equal keys always agree, different ones seldom (keys
/// are mostly distinct words). Loads, no copies: wasm has no inline memcpy or memcmp.
fn fingerprint(key: &[u8]) -> u64 {
    match key {
        [] => 0,
        [first, .., last] => key.len() as u64 | (*first as u64) << 32 | (*last as u64) << 40 | (key[key.len() / 2] as u64) << 48,
        [only] => 1 | (*only as u64) << 32,
    }
}

/// A key's bit (0..256) for the filters of seen and wanted keys.
#[inline(always)]
fn print_bit(print: u64) -> usize {
    (print.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize
}

struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    /// Reused for the float check.
    scratch: Vec<u8>,
    /// The keys of the objects being read, innermost last, each with its [`fingerprint`]:
    /// one allocation per scan, and a memcmp only when fingerprints agree.
    keys: Vec<(u64, Range<usize>)>,
    paths: &'a [&'a [&'a [u8]]],
    /// The [`fingerprint`] of each wanted key, by path and depth.
    path_prints: [[u64; MAX_PATH_DEPTH]; 32],
    /// By depth, a bit per wanted key there ([`print_bit`] mod 64): most keys are no
    /// wanted one, and one test says so without going through the paths.
    depth_filters: [u64; MAX_PATH_DEPTH],
    found: [Option<Range<usize>>; 32],
}

/// How deep a wanted path may reach.
const MAX_PATH_DEPTH: usize = 4;

impl Scanner<'_> {
    fn eat_byte(&mut self, expected: u8) -> Option<()> {
        if self.text.get(self.pos) == Some(&expected) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// Two bytes, without a call to memcmp (wasm has no inline one).
    fn eat_pair(&mut self, first: u8, second: u8) -> Option<()> {
        match self.text.get(self.pos..self.pos + 2) {
            Some(&[a, b]) if a == first && b == second => {
                self.pos += 2;
                Some(())
            }
            _ => None,
        }
    }

    fn eat(&mut self, expected: &[u8]) -> Option<()> {
        let found = self.text.get(self.pos..self.pos + expected.len())?;
        if same(found, expected) {
            self.pos += expected.len();
            Some(())
        } else {
            None
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    /// A value; `paths` are the wanted paths that lead into it (bit i: `self.paths[i]`).
    fn value(&mut self, depth: usize, max_depth: usize, paths: u32) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(depth + 1, max_depth, paths),
            b'[' => self.array(depth + 1, max_depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.eat(b"true"),
            b'f' => self.eat(b"false"),
            b'n' => self.eat(b"null"),
            b'N' => self.eat(b"NaN"),
            b'I' => self.eat(b"Infinity"),
            b'-' if self.text.get(self.pos + 1) == Some(&b'I') => self.eat(b"-Infinity"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// An object at nesting `depth` (the top level is 1), where `paths` continue.
    fn object(&mut self, depth: usize, max_depth: usize, paths: u32) -> Option<()> {
        if depth > max_depth {
            return None;
        }
        self.eat_byte(b'{')?;
        if self.eat_byte(b'}').is_some() {
            return Some(());
        }
        let first_key = self.keys.len();
        // A bit per fingerprint seen in this object: only a key whose bit is already set
        // can repeat one, so the list of keys is searched seldom.
        let mut seen = [0u64; 4];
        loop {
            let key = self.string()?;
            // Canonical strings are unique spellings, so equal keys have equal bytes.
            let print = fingerprint(&self.text[key.start + 1..key.end - 1]);
            let bit = print_bit(print);
            if seen[bit / 64] & (1 << (bit % 64)) != 0
                && self.keys[first_key..].iter().any(|(p, k)| *p == print && same(&self.text[k.clone()], &self.text[key.clone()]))
            {
                return None;
            }
            seen[bit / 64] |= 1 << (bit % 64);
            self.eat_pair(b':', b' ')?;
            let start = self.pos;
            let wanted_here = paths != 0 && self.depth_filters.get(depth - 1).is_some_and(|f| f & 1 << (bit % 64) != 0);
            let (ends_here, continues) = if wanted_here { self.paths_through(paths, depth, key.clone(), print) } else { (0, 0) };
            self.value(depth, max_depth, continues)?;
            let mut ends = ends_here;
            while ends != 0 {
                self.found[ends.trailing_zeros() as usize] = Some(start..self.pos);
                ends &= ends - 1;
            }
            self.keys.push((print, key));
            if self.closes(b'}')? {
                self.keys.truncate(first_key);
                return Some(());
            }
        }
    }

    /// Of `paths`, those whose key at `depth` is `key` (`print` its fingerprint; a wanted name matches its text
    /// between the quotes only when unescaped): the ones that end at this member, and the
    /// ones that go on into its value.
    fn paths_through(&self, paths: u32, depth: usize, key: Range<usize>, print: u64) -> (u32, u32) {
        let name = &self.text[key.start + 1..key.end - 1];
        let (mut ends, mut continues, mut rest) = (0, 0, paths);
        while rest != 0 {
            let i = rest.trailing_zeros() as usize;
            rest &= rest - 1;
            let path = self.paths[i];
            if self.path_prints[i].get(depth - 1) == Some(&print) && path.get(depth - 1).is_some_and(|p| same(p, name)) {
                if path.len() == depth {
                    ends |= 1 << i;
                } else {
                    continues |= 1 << i;
                }
            }
        }
        (ends, continues)
    }

    fn array(&mut self, depth: usize, max_depth: usize) -> Option<()> {
        if depth > max_depth {
            return None;
        }
        self.eat_byte(b'[')?;
        if self.eat_byte(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth, max_depth, 0)?;
            if self.closes(b']')? {
                return Some(());
            }
        }
    }

    /// After a member or element: `", "` (false: more follow) or the closing bracket (true).
    fn closes(&mut self, close: u8) -> Option<bool> {
        match self.peek()? {
            b',' => self.eat_pair(b',', b' ').map(|_| false),
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
        self.eat_byte(b'"')?;
        loop {
            let rest = &self.text[self.pos..];
            self.pos += crate::bytescan::plain_ascii_len(rest);
            if self.pos == self.text.len() {
                return None;
            }
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
    /// Digit by digit: colour codes and non-ASCII text make escapes common in events.
    fn escaped_unit(&self, at: usize) -> Option<u32> {
        let &[b'\\', b'u', a, b, c, d] = self.text.get(at..at + 6)? else { return None };
        let hex = |digit: u8| match digit {
            b'0'..=b'9' => Some(u32::from(digit - b'0')),
            b'a'..=b'f' => Some(u32::from(digit - b'a' + 10)),
            _ => None,
        };
        Some(hex(a)? << 12 | hex(b)? << 8 | hex(c)? << 4 | hex(d)?)
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
        if short_float_repr(text) || long_float_repr(text, &mut self.scratch) {
            return Some(());
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

/// True when `text` (a JSON number with a fraction or exponent) is `float.__repr__` of the
/// value it parses to, known without parsing it: it has at most 15 significant digits, lies
/// in the normal range, and is laid out as repr lays out those digits. Parsing and
/// re-printing every float is most of the cost of a line with many (a `duration` in every
/// event). False means "not known": the caller then checks the slow way.
///
/// Why 15 digits suffice: two different decimals of at most 15 significant digits never
/// parse to the same double (DBL_DIG), so such a text is the only candidate of its length
/// or shorter that round-trips, hence repr's shortest digits, and no tie can arise.
pub(super) fn short_float_repr(text: &[u8]) -> bool {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e') {
        Some(e) => (&text[..e], Some(&text[e + 1..])),
        None => (text, None),
    };
    let (int, frac) = match mantissa.iter().position(|&b| b == b'.') {
        Some(dot) => (&mantissa[..dot], Some(&mantissa[dot + 1..])),
        None => (mantissa, None),
    };
    // The grammar already holds: digits, no leading zero but a lone one, a nonempty fraction.
    let ends_nonzero = |digits: &[u8]| digits.last().is_some_and(|&d| d != b'0');
    match exponent {
        // Repr's exponent form, for a decimal point more than 16 places right or 4 left of the
        // first digit: `d[.ddd]e[+-]XX`, no trailing zero, two exponent digits at least.
        Some(exponent) => {
            let (sign, digits) = match exponent.split_first() {
                Some((&sign @ (b'+' | b'-'), digits)) => (sign, digits),
                _ => return false,
            };
            let well_written = match digits {
                [b'0', d] => *d != b'0',
                [first, _] | [first, _, _] => *first != b'0',
                _ => false,
            };
            if !well_written || int.len() != 1 || int == b"0" || frac.is_some_and(|f| !ends_nonzero(f) || f.len() > 14) {
                return false;
            }
            let magnitude = digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
            // Far from the subnormals and from overflow, where the 15-digit rule fails.
            match sign {
                b'+' => (16..=300).contains(&magnitude),
                _ => (5..=300).contains(&magnitude),
            }
        }
        None => {
            let Some(frac) = frac else { return false };
            if int == b"0" {
                // 0.0, or `0.` then at most three zeros (a fourth is exponent form), then
                // digits ending in a nonzero one.
                let zeros = frac.iter().take_while(|&&d| d == b'0').count();
                frac == b"0" || (zeros <= 3 && ends_nonzero(frac) && frac.len() - zeros <= 15)
            } else if frac == b"0" {
                // A whole number below 10**16: its digits but for trailing zeros, then `.0`.
                let significant = int.len() - int.iter().rev().take_while(|&&d| d == b'0').count();
                int.len() <= 16 && significant <= 15
            } else {
                ends_nonzero(frac) && int.len() + frac.len() <= 15
            }
        }
    }
}
