//! Python-exact JSON: `json.loads(bytes)` and `json.dumps(obj)` as CPython 3.11 does them.
//!
//! ansible-runner writes its event files with `json.dump(json.loads(line), f)`. To write the
//! same bytes we need both halves to behave exactly like CPython with default settings:
//!
//! * [`parse`] accepts exactly what `json.loads(some_bytes)` accepts (default `strict=True`):
//!   the bytes are decoded as UTF-8 with `errors='surrogatepass'` (so `ED A0 80`..`ED BF BF`
//!   are lone surrogates) after skipping one leading UTF-8 BOM; whitespace is only
//!   space/`\t`/`\n`/`\r`; `NaN`, `Infinity` and `-Infinity` are accepted; integers are kept as
//!   text of any length up to CPython's 4300-digit limit (`-0` becomes `0`); other numbers
//!   become `f64` exactly as `float(text)` does (overflow to ±inf, underflow to ±0.0); strings
//!   keep every code point, including lone surrogates; `\uD8xx\uDCxx` escape pairs combine,
//!   anything else stays separate (so raw CESU-8 surrogate bytes give two code points, as in
//!   Python); duplicate object keys keep the first position and the last value (dict
//!   semantics). The differences from Python are deliberate: nesting is limited by
//!   `max_depth` instead of the interpreter's recursion limit (about 990 with defaults), and
//!   Python's UTF-16/UTF-32 auto-detection (`json.detect_encoding`: inputs starting with a
//!   UTF-16/32 BOM or with a NUL in the first two bytes) is not implemented — such inputs are
//!   parsed as UTF-8, which always rejects them because NUL and `FE`/`FF` are never valid there.
//!   Invalid UTF-8 is reported before any syntax error, as Python's decode step does.
//! * [`encode`] appends `json.dumps(value)` with default settings (`ensure_ascii=True`,
//!   `allow_nan=True`, separators `", "` and `": "`), byte for byte, including `float.__repr__`.
//! * [`python_str`] gives `str(value)` as Python would print it (exact for scalars, an
//!   approximation of `repr` for containers).
//!
//! Neither function panics on any input; parsing and encoding are iterative, so depth is
//! bounded only by `max_depth` and memory. (Dropping/cloning/comparing a [`Value`] is
//! recursive as usual for Rust trees, so keep `max_depth` in the low thousands.)

pub(crate) mod canonical;
mod encode;
mod float_repr;
mod long_float;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

/// A JSON string as Python holds it: any code points including lone surrogates, stored as
/// "generalized UTF-8": UTF-8 that may also contain 3-byte encodings of U+D800..U+DFFF.
///
/// Unlike strict WTF-8, a high surrogate followed by a low surrogate is *not* merged:
/// Python keeps `"\xed\xa0\xbd\xed\xb8\x80"` (raw, surrogatepass) as two code points, a
/// different dict key from the escape pair `"\ud83d\ude00"`, which is one code point.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct PyStr(Vec<u8>);

impl PyStr {
    /// The raw generalized-UTF-8 bytes.
    pub fn as_wtf8(&self) -> &[u8] {
        &self.0
    }

    /// The string as `&str`, or `None` if it holds a surrogate code point.
    pub fn as_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }

    /// The string with every surrogate code point replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> String {
        match std::str::from_utf8(&self.0) {
            Ok(s) => s.to_owned(),
            Err(_) => self
                .code_points()
                .map(|c| char::from_u32(c).unwrap_or('\u{FFFD}'))
                .collect(),
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn from_str(s: &str) -> PyStr {
        PyStr(s.as_bytes().to_vec())
    }

    /// Accepts generalized UTF-8 (valid UTF-8 plus encoded surrogates); `None` otherwise.
    pub fn from_wtf8(bytes: Vec<u8>) -> Option<PyStr> {
        if parse::validate_wtf8(&bytes, 0).is_ok() {
            Some(PyStr(bytes))
        } else {
            None
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of bytes of the generalized-UTF-8 form.
    pub fn len_bytes(&self) -> usize {
        self.0.len()
    }

    /// The code points, as Python would iterate the string (surrogates included).
    pub fn code_points(&self) -> CodePoints<'_> {
        CodePoints {
            bytes: &self.0,
            pos: 0,
        }
    }

    pub(crate) fn from_vec_unchecked(bytes: Vec<u8>) -> PyStr {
        PyStr(bytes)
    }
}

impl From<&str> for PyStr {
    fn from(s: &str) -> PyStr {
        PyStr::from_str(s)
    }
}

impl From<String> for PyStr {
    fn from(s: String) -> PyStr {
        PyStr(s.into_bytes())
    }
}

impl PartialEq<str> for PyStr {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for PyStr {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

/// Lossy display (surrogates shown as U+FFFD).
impl fmt::Display for PyStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(s) => f.write_str(s),
            Err(_) => f.write_str(&self.to_string_lossy()),
        }
    }
}

/// Iterator over the code points of a [`PyStr`] (values 0..=0x10FFFF, surrogates included).
#[derive(Clone, Debug)]
pub struct CodePoints<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Iterator for CodePoints<'_> {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let (c, n) = decode_code_point(self.bytes, self.pos);
        self.pos += n;
        Some(c)
    }
}

/// Decodes one code point of generalized UTF-8 at `i` (which must be `< bytes.len()`).
/// Returns the code point and its length in bytes. Never panics; malformed bytes (which a
/// `PyStr` never holds) decode as U+FFFD of length 1.
#[inline]
pub(crate) fn decode_code_point(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = match bytes.get(i) {
        Some(&b) => b as u32,
        None => return (0xFFFD, 1),
    };
    let cont = |k: usize| -> Option<u32> {
        match bytes.get(i + k) {
            Some(&b) if b & 0xC0 == 0x80 => Some((b & 0x3F) as u32),
            _ => None,
        }
    };
    if b0 < 0x80 {
        (b0, 1)
    } else if (0xC2..0xE0).contains(&b0) {
        match cont(1) {
            Some(c1) => (((b0 & 0x1F) << 6) | c1, 2),
            None => (0xFFFD, 1),
        }
    } else if (0xE0..0xF0).contains(&b0) {
        match (cont(1), cont(2)) {
            (Some(c1), Some(c2)) => {
                let c = ((b0 & 0x0F) << 12) | (c1 << 6) | c2;
                if c < 0x800 {
                    (0xFFFD, 1)
                } else {
                    (c, 3)
                }
            }
            _ => (0xFFFD, 1),
        }
    } else if (0xF0..0xF5).contains(&b0) {
        match (cont(1), cont(2), cont(3)) {
            (Some(c1), Some(c2), Some(c3)) => {
                let c = ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3;
                if !(0x10000..=0x10FFFF).contains(&c) {
                    (0xFFFD, 1)
                } else {
                    (c, 4)
                }
            }
            _ => (0xFFFD, 1),
        }
    } else {
        (0xFFFD, 1)
    }
}

/// Appends the generalized-UTF-8 encoding of `c` (surrogates as 3-byte sequences).
#[inline]
pub(crate) fn push_code_point(out: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        out.push(c as u8);
    } else if c < 0x800 {
        out.extend_from_slice(&[0xC0 | (c >> 6) as u8, 0x80 | (c & 0x3F) as u8]);
    } else if c < 0x10000 {
        out.extend_from_slice(&[
            0xE0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xF0 | ((c >> 18) & 0x07) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// Integer text as Python's `int.__repr__` prints it (`-0` becomes `0`); arbitrary size.
    Int(Box<str>),
    Float(f64),
    Str(PyStr),
    Array(Vec<Value>),
    /// Keys in insertion order. Duplicate keys behave like a Python dict: the first position,
    /// the last value. ([`parse`] guarantees unique keys; hand-built objects should keep them
    /// unique too — [`encode`] writes whatever is there.)
    Object(Vec<(PyStr, Value)>),
}

impl Value {
    /// Object member lookup (first match); `None` for non-objects or a missing key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members
                .iter()
                .find(|(k, _)| k.0 == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Python truthiness: `None`, `False`, `0`, `0.0`, `-0.0`, `""`, `[]`, `{}` are falsy;
    /// everything else (NaN included) is truthy.
    pub fn is_truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Int(text) => {
                let digits = text.strip_prefix('-').unwrap_or(text);
                !digits.bytes().all(|b| b == b'0')
            }
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    pub fn as_py_str(&self) -> Option<&PyStr> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string as `&str` if this is a string without surrogates.
    pub fn as_str(&self) -> Option<&str> {
        self.as_py_str().and_then(PyStr::as_str)
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&[(PyStr, Value)]> {
        match self {
            Value::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// Byte offset in the input where the problem is (`input.len()` for an unexpected end).
    pub offset: usize,
    /// One line, e.g. "expected ',' or '}' after an object member".
    pub message: String,
    /// The input broke the nesting limit rather than the grammar.
    pub too_deep: bool,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.message, self.offset)
    }
}

impl std::error::Error for JsonError {}

/// Python `json.loads(input)` for a bytes object (see the module docs for the exact contract).
/// Containers nested deeper than `max_depth` are an error (`max_depth == 0` allows only
/// scalars; `[[]]` has depth 2).
pub fn parse(input: &[u8], max_depth: usize) -> Result<Value, JsonError> {
    parse::parse(input, max_depth)
}

/// Python `json.dumps(value)` with default settings, appended to `out`.
pub fn encode(value: &Value, out: &mut Vec<u8>) {
    encode::encode(value, out)
}

/// Python `json.dumps(value, ensure_ascii=False)`, appended to `out` (what upstream's
/// runner uses for the `command` artifact).
pub fn encode_unicode(value: &Value, out: &mut Vec<u8>) {
    encode::encode_unicode(value, out)
}

/// Python `json.dumps(text)`: one string, appended to `out`.
pub fn encode_str(text: &str, out: &mut Vec<u8>) {
    encode::encode_str(text, out)
}

/// Python `json.dumps(value)` with default settings as a `String` (always ASCII).
pub fn encode_to_string(value: &Value) -> String {
    let mut out = Vec::new();
    encode::encode(value, &mut out);
    ascii_string(out)
}

/// What [`encode`] wrote (or a line [`canonical::scan_in`] accepted) as a `String`: pure ASCII
/// by construction (ensure_ascii=True), so the lossy branch never replaces anything.
pub fn ascii_string(json: Vec<u8>) -> String {
    String::from_utf8(json).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Python `float.__repr__` (`nan`, `inf`, `-inf` for non-finite values, as `str(float)`):
/// for the tests, which check the writer through it.
#[cfg(test)]
pub fn float_repr(f: f64) -> String {
    let mut out = Vec::with_capacity(24);
    float_repr::write_py_float_str(f, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// `str(value)` as Python prints it: the integer text, `float.__str__` (`nan`, `inf`,
/// `-inf` lowercase; otherwise the repr), the string itself (surrogates shown as U+FFFD),
/// `True`/`False`/`None`. Containers are printed like Python's `repr` of a list/dict
/// (`[1, 'a', None]`, `{'k': 1.5}`), with string reprs approximated: the quote choice and
/// the escapes of ASCII characters are exact, but "printable" for non-ASCII is decided
/// by a short built-in list (C1 controls, non-space separators, common format characters,
/// private use, surrogates, U+FFFE/U+FFFF are escaped) instead of the Unicode database.
pub fn python_str(value: &Value) -> String {
    encode::python_str(value)
}
