//! `json.loads(bytes)` as CPython 3.11 does it (C scanner, `strict=True`). Iterative: the
//! nesting depth costs heap, not stack.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use super::{push_code_point, JsonError, PyStr, Value};

/// CPython's default `sys.get_int_max_str_digits()`.
const INT_MAX_STR_DIGITS: usize = 4300;

/// Objects with at least this many members get a hash index for duplicate detection.
const INDEX_THRESHOLD: usize = 16;

fn err(offset: usize, message: impl Into<String>) -> JsonError {
    JsonError {
        offset,
        message: message.into(),
        too_deep: false,
    }
}

/// Checks `input[start..]` is UTF-8 as Python's decoder with `errors='surrogatepass'` sees
/// it: valid UTF-8, plus 3-byte encodings of U+D800..U+DFFF (`ED A0..BF 80..BF`).
pub(crate) fn validate_wtf8(input: &[u8], start: usize) -> Result<(), JsonError> {
    let mut i = start;
    loop {
        let rest = input.get(i..).unwrap_or(&[]);
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let j = i + e.valid_up_to();
                match (input.get(j), input.get(j + 1), input.get(j + 2)) {
                    (Some(0xED), Some(&b1), Some(&b2))
                        if (0xA0..=0xBF).contains(&b1) && b2 & 0xC0 == 0x80 =>
                    {
                        i = j + 3;
                    }
                    _ => return Err(err(j, "invalid UTF-8")),
                }
            }
        }
    }
}

pub(crate) fn parse(input: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    // detect_encoding() picks utf-8-sig for a leading BOM, which strips exactly one.
    let start = if input.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    // Python decodes the whole input before scanning, so decode errors win.
    validate_wtf8(input, start)?;
    let mut p = Parser {
        buf: input,
        pos: start,
    };
    p.parse_document(max_depth)
}

enum Frame {
    Array(Vec<Value>),
    Object(ObjectBuilder, PyStr),
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    fn parse_document(&mut self, max_depth: usize) -> Result<Value, JsonError> {
        let mut stack: Vec<Frame> = Vec::new();
        'value: loop {
            // Parse one value starting at (whitespace before) self.pos.
            self.skip_ws();
            let mut v = match self.peek() {
                Some(b'[') => {
                    if stack.len() >= max_depth {
                        return Err(depth_error(self.pos, max_depth));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue 'value;
                    }
                }
                Some(b'{') => {
                    if stack.len() >= max_depth {
                        return Err(depth_error(self.pos, max_depth));
                    }
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        Value::Object(Vec::new())
                    } else {
                        let key = self.parse_key()?;
                        stack.push(Frame::Object(ObjectBuilder::new(), key));
                        continue 'value;
                    }
                }
                _ => self.parse_scalar()?,
            };
            // A complete value: hand it to the enclosing containers, closing as many as end.
            loop {
                match stack.last_mut() {
                    None => {
                        self.skip_ws();
                        if self.pos < self.buf.len() {
                            return Err(err(self.pos, "extra data after the JSON value"));
                        }
                        return Ok(v);
                    }
                    Some(Frame::Array(items)) => {
                        items.push(v);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                continue 'value;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                v = match stack.pop() {
                                    Some(Frame::Array(items)) => Value::Array(items),
                                    _ => return Err(err(self.pos, "internal parser error")),
                                };
                            }
                            _ => {
                                return Err(err(
                                    self.pos,
                                    "expected ',' or ']' after an array element",
                                ))
                            }
                        }
                    }
                    Some(Frame::Object(obj, key)) => {
                        obj.insert(std::mem::take(key), v);
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                *key = self.parse_key()?;
                                continue 'value;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                v = match stack.pop() {
                                    Some(Frame::Object(obj, _)) => Value::Object(obj.members),
                                    _ => return Err(err(self.pos, "internal parser error")),
                                };
                            }
                            _ => {
                                return Err(err(
                                    self.pos,
                                    "expected ',' or '}' after an object member",
                                ))
                            }
                        }
                    }
                }
            }
        }
    }

    /// At a key (whitespace already skipped): the string, then whitespace and ':'.
    fn parse_key(&mut self) -> Result<PyStr, JsonError> {
        if self.peek() != Some(b'"') {
            return Err(err(
                self.pos,
                "expected a property name enclosed in double quotes",
            ));
        }
        let key = self.parse_string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(err(self.pos, "expected ':' after an object key"));
        }
        self.pos += 1;
        Ok(key)
    }

    fn literal(&mut self, text: &[u8], v: Value) -> Result<Value, JsonError> {
        if self.buf.get(self.pos..self.pos + text.len()) == Some(text) {
            self.pos += text.len();
            Ok(v)
        } else {
            Err(self.expected_value())
        }
    }

    fn expected_value(&self) -> JsonError {
        if self.pos >= self.buf.len() {
            err(self.pos, "unexpected end of input, expected a value")
        } else {
            err(self.pos, "expected a value")
        }
    }

    fn parse_scalar(&mut self) -> Result<Value, JsonError> {
        match self.peek() {
            Some(b'"') => Ok(Value::Str(self.parse_string()?)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'N') => self.literal(b"NaN", Value::Float(f64::NAN)),
            Some(b'I') => self.literal(b"Infinity", Value::Float(f64::INFINITY)),
            Some(b'-') if self.buf.get(self.pos + 1) == Some(&b'I') => {
                self.literal(b"-Infinity", Value::Float(f64::NEG_INFINITY))
            }
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            _ => Err(self.expected_value()),
        }
    }

    #[inline]
    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.buf.get(self.pos) {
            self.pos += 1;
        }
    }

    /// CPython's `_match_number_unicode`: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`, where an
    /// incomplete fraction or exponent is simply not part of the number.
    fn parse_number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => {
                self.pos = start;
                return Err(self.expected_value());
            }
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.buf.get(self.pos + 1), Some(b'0'..=b'9')) {
            self.pos += 2;
            self.skip_digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            let save = self.pos;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if let Some(b'0'..=b'9') = self.peek() {
                self.skip_digits();
                is_float = true;
            } else {
                self.pos = save;
            }
        }
        let text = self.buf.get(start..self.pos).unwrap_or(b"");
        // The matched text is ASCII, so this never fails.
        let text = std::str::from_utf8(text).map_err(|_| err(start, "invalid number"))?;
        if is_float {
            // Rust's parser is correctly rounded like CPython's (dtoa.c); overflow gives
            // ±inf and underflow ±0.0, as float() does.
            match text.parse::<f64>() {
                Ok(f) => Ok(Value::Float(f)),
                Err(_) => Err(err(start, "invalid number")),
            }
        } else {
            let digits = int_end - start - negative as usize;
            if digits > INT_MAX_STR_DIGITS {
                return Err(err(
                    start,
                    format!("integer has {digits} digits, more than Python's limit of {INT_MAX_STR_DIGITS}"),
                ));
            }
            if text == "-0" {
                Ok(Value::Int(Box::from("0")))
            } else {
                Ok(Value::Int(Box::from(text)))
            }
        }
    }

    /// At the opening quote. The input is already known to be valid generalized UTF-8, and
    /// the bytes we look for are ASCII, so plain runs are copied verbatim.
    fn parse_string(&mut self) -> Result<PyStr, JsonError> {
        let buf = self.buf;
        let quote = self.pos;
        let start = quote + 1;
        let mut i = scan_plain(buf, start);
        match buf.get(i) {
            Some(b'"') => {
                self.pos = i + 1;
                return Ok(PyStr::from_vec_unchecked(
                    buf.get(start..i).unwrap_or(b"").to_vec(),
                ));
            }
            None => return Err(err(quote, "unterminated string")),
            _ => {}
        }
        let mut out: Vec<u8> = Vec::with_capacity(i - start + 16);
        out.extend_from_slice(buf.get(start..i).unwrap_or(b""));
        loop {
            match buf.get(i) {
                None => return Err(err(quote, "unterminated string")),
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(PyStr::from_vec_unchecked(out));
                }
                Some(b'\\') => {
                    let esc = match buf.get(i + 1) {
                        Some(&b) => b,
                        None => return Err(err(quote, "unterminated string")),
                    };
                    match esc {
                        b'"' | b'\\' | b'/' => out.push(esc),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0C),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let c = match hex4(buf, i + 2) {
                                Some(c) => c,
                                None => return Err(err(i, "invalid \\uXXXX escape")),
                            };
                            if (0xD800..0xDC00).contains(&c)
                                && buf.get(i + 6) == Some(&b'\\')
                                && buf.get(i + 7) == Some(&b'u')
                            {
                                if let Some(c2 @ 0xDC00..=0xDFFF) = hex4(buf, i + 8) {
                                    let joined = 0x10000 + ((c - 0xD800) << 10) + (c2 - 0xDC00);
                                    push_code_point(&mut out, joined);
                                    i += 12;
                                    continue;
                                }
                            }
                            push_code_point(&mut out, c);
                            i += 6;
                            continue;
                        }
                        _ => return Err(err(i, "invalid escape in string")),
                    }
                    i += 2;
                }
                Some(&b) if b < 0x20 => return Err(err(i, "invalid control character in string")),
                Some(_) => {
                    let j = scan_plain(buf, i + 1);
                    out.extend_from_slice(buf.get(i..j).unwrap_or(b""));
                    i = j;
                }
            }
        }
    }
}

fn depth_error(offset: usize, max_depth: usize) -> JsonError {
    JsonError {
        too_deep: true,
        ..err(offset, format!("nesting deeper than the {max_depth}-level limit (max JSON depth)"))
    }
}

#[inline]
fn hex_digit(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some((b - b'0') as u32),
        b'a'..=b'f' => Some((b - b'a' + 10) as u32),
        b'A'..=b'F' => Some((b - b'A' + 10) as u32),
        _ => None,
    }
}

#[inline]
fn hex4(buf: &[u8], i: usize) -> Option<u32> {
    let s = buf.get(i..i + 4)?;
    let mut c = 0u32;
    for &b in s {
        c = (c << 4) | hex_digit(b)?;
    }
    Some(c)
}

/// Index of the first byte at or after `i` that is `"`, `\` or a control character
/// (< 0x20), or `buf.len()`.
#[inline]
fn scan_plain(buf: &[u8], i: usize) -> usize {
    i + crate::bytescan::plain_string_len(&buf[i.min(buf.len())..])
}

/// Object members with Python dict semantics for duplicate keys.
struct ObjectBuilder {
    members: Vec<(PyStr, Value)>,
    index: Option<KeyIndex>,
}

/// Open-addressing table of member positions, keyed by SipHash with per-table random keys
/// (inputs may carry attacker-chosen keys).
struct KeyIndex {
    hasher: RandomState,
    /// Hash of each member's key, parallel to `members`.
    hashes: Vec<u64>,
    /// Member position + 1; 0 is empty. Length is a power of two, at most half full.
    slots: Vec<usize>,
}

impl KeyIndex {
    fn build(members: &[(PyStr, Value)]) -> KeyIndex {
        let hasher = RandomState::new();
        let hashes: Vec<u64> = members.iter().map(|(k, _)| hasher.hash_one(&k.0)).collect();
        let mut index = KeyIndex {
            hasher,
            hashes,
            slots: Vec::new(),
        };
        index.rebuild((members.len() * 4).next_power_of_two().max(64));
        index
    }

    fn rebuild(&mut self, size: usize) {
        self.slots = vec![0; size];
        let mask = size - 1;
        for (pos, &h) in self.hashes.iter().enumerate() {
            let mut s = h as usize & mask;
            while self.slots[s] != 0 {
                s = (s + 1) & mask;
            }
            self.slots[s] = pos + 1;
        }
    }
}

impl ObjectBuilder {
    fn new() -> ObjectBuilder {
        ObjectBuilder {
            members: Vec::new(),
            index: None,
        }
    }

    fn insert(&mut self, key: PyStr, value: Value) {
        match &mut self.index {
            None => {
                if let Some(m) = self.members.iter_mut().find(|(k, _)| *k == key) {
                    m.1 = value;
                    return;
                }
                self.members.push((key, value));
                if self.members.len() >= INDEX_THRESHOLD {
                    self.index = Some(KeyIndex::build(&self.members));
                }
            }
            Some(index) => {
                let h = index.hasher.hash_one(&key.0);
                let mask = index.slots.len() - 1;
                let mut s = h as usize & mask;
                loop {
                    let slot = index.slots[s];
                    if slot == 0 {
                        break;
                    }
                    let pos = slot - 1;
                    if index.hashes.get(pos) == Some(&h) {
                        if let Some(m) = self.members.get_mut(pos) {
                            if m.0 == key {
                                m.1 = value;
                                return;
                            }
                        }
                    }
                    s = (s + 1) & mask;
                }
                self.members.push((key, value));
                index.hashes.push(h);
                index.slots[s] = self.members.len();
                if self.members.len() * 2 > index.slots.len() {
                    let size = index.slots.len() * 2;
                    index.rebuild(size);
                }
            }
        }
    }
}
