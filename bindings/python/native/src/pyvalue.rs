//! Python objects straight from the component's canonical JSON (what `json.dumps` writes,
//! ASCII only): the value `json.loads` would give, built without `json.loads`. Events are
//! most of a stream, and their keys repeat, so one key object serves every event.
//!
//! Anything this reader does not take (a lone surrogate, which a Rust string cannot hold;
//! JSON it does not expect) is `None`, and the caller falls back to `json.loads`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyList, PyString};

/// Keys longer than this, or past this many, are not kept: memory stays bounded on
/// streams whose keys never repeat.
const MAX_KEY_LEN: usize = 64;
const MAX_KEYS: usize = 4096;

/// Member names to their Python strings. FNV-1a: the names are short and chosen by the
/// stream's writer, but a collision only costs a lookup, and the map is bounded.
type KeyMap = HashMap<Box<str>, Py<PyString>, BuildHasherDefault<Fnv>>;

#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// Turns canonical JSON into Python objects, keeping the key strings it has made.
#[derive(Default)]
pub struct Builder {
    keys: KeyMap,
}

impl Builder {
    /// The value of `json`, or None when it is not JSON this reader takes.
    pub fn value<'py>(&mut self, py: Python<'py>, json: &str) -> Option<Bound<'py, PyAny>> {
        let mut reader = Reader { json, at: 0, keys: &mut self.keys, py };
        let value = reader.value().ok()?;
        (reader.at == reader.json.len()).then_some(value)
    }
}

/// Not JSON this reader takes (the caller falls back), or a Python error.
struct Unsupported;

impl From<PyErr> for Unsupported {
    fn from(_: PyErr) -> Self {
        Unsupported
    }
}

impl From<std::convert::Infallible> for Unsupported {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

type Read<T> = Result<T, Unsupported>;

struct Reader<'a, 'py> {
    json: &'a str,
    at: usize,
    keys: &'a mut KeyMap,
    py: Python<'py>,
}

impl<'a, 'py> Reader<'a, 'py> {
    fn peek(&self) -> Option<u8> {
        self.json.as_bytes().get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, literal: &[u8]) -> Read<()> {
        if self.json.as_bytes()[self.at..].starts_with(literal) {
            self.at += literal.len();
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    fn value(&mut self) -> Read<Bound<'py, PyAny>> {
        self.skip_space();
        let py = self.py;
        Ok(match self.peek().ok_or(Unsupported)? {
            b'{' => self.object()?.into_any(),
            b'[' => self.array()?.into_any(),
            b'"' => {
                let text = self.string()?;
                PyString::new(py, &text).into_any()
            }
            b't' => {
                self.expect(b"true")?;
                true.into_pyobject(py)?.to_owned().into_any()
            }
            b'f' => {
                self.expect(b"false")?;
                false.into_pyobject(py)?.to_owned().into_any()
            }
            b'n' => {
                self.expect(b"null")?;
                py.None().into_bound(py)
            }
            b'N' => {
                self.expect(b"NaN")?;
                PyFloat::new(py, f64::NAN).into_any()
            }
            b'I' => {
                self.expect(b"Infinity")?;
                PyFloat::new(py, f64::INFINITY).into_any()
            }
            b'-' if self.json.as_bytes()[self.at..].starts_with(b"-Infinity") => {
                self.at += b"-Infinity".len();
                PyFloat::new(py, f64::NEG_INFINITY).into_any()
            }
            _ => self.number()?,
        })
    }

    fn object(&mut self) -> Read<Bound<'py, PyDict>> {
        self.at += 1; // {
        let dict = PyDict::new(self.py);
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(dict);
        }
        loop {
            self.skip_space();
            let key = self.key()?;
            self.skip_space();
            self.expect(b":")?;
            let value = self.value()?;
            // As json.loads: a repeated key keeps its first place and its last value.
            dict.set_item(key, value)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(dict);
                }
                _ => return Err(Unsupported),
            }
        }
    }

    fn array(&mut self) -> Read<Bound<'py, PyList>> {
        self.at += 1; // [
        let list = PyList::empty(self.py);
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(list);
        }
        loop {
            list.append(self.value()?)?;
            self.skip_space();
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(list);
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// A member name: the same object for the same short name.
    fn key(&mut self) -> Read<Bound<'py, PyString>> {
        if self.peek() != Some(b'"') {
            return Err(Unsupported);
        }
        let text = self.string()?;
        if let Some(known) = self.keys.get(text.as_ref()) {
            return Ok(known.bind(self.py).clone());
        }
        let key = PyString::new(self.py, &text);
        if text.len() <= MAX_KEY_LEN && self.keys.len() < MAX_KEYS {
            self.keys.insert(text.into(), key.clone().unbind());
        }
        Ok(key)
    }

    /// A string's text; a lone surrogate (valid in Python, not in Rust) is unsupported.
    fn string(&mut self) -> Read<Cow<'a, str>> {
        self.at += 1; // "
        let start = self.at;
        // The common case: no escape, a slice of the text (quotes and backslashes are ASCII,
        // so they always end a slice on a character boundary).
        let end = start + memchr::memchr2(b'"', b'\\', &self.json.as_bytes()[start..]).ok_or(Unsupported)?;
        self.at = end;
        if self.json.as_bytes()[end] == b'"' {
            self.at += 1;
            return Ok(Cow::Borrowed(&self.json[start..end]));
        }
        let mut out = String::from(&self.json[start..end]);
        loop {
            // At a backslash: one escape, then the plain run up to the next quote or escape.
            self.at += 1;
            let escape = *self.json.as_bytes().get(self.at).ok_or(Unsupported)?;
            self.at += 1;
            match escape {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => out.push(self.unicode_escape()?),
                _ => return Err(Unsupported),
            }
            let run = self.at;
            let end = run + memchr::memchr2(b'"', b'\\', &self.json.as_bytes()[run..]).ok_or(Unsupported)?;
            // A slice of the text: the quote and the backslash end it on a character boundary.
            out.push_str(&self.json[run..end]);
            self.at = end;
            if self.json.as_bytes()[end] == b'"' {
                self.at += 1;
                return Ok(Cow::Owned(out));
            }
        }
    }

    fn hex4(&mut self) -> Read<u32> {
        let digits = self.json.as_bytes().get(self.at..self.at + 4).ok_or(Unsupported)?;
        let digits = std::str::from_utf8(digits).map_err(|_| Unsupported)?;
        let unit = u32::from_str_radix(digits, 16).map_err(|_| Unsupported)?;
        self.at += 4;
        Ok(unit)
    }

    /// `\uXXXX` (the `\u` read), a surrogate pair taken whole.
    fn unicode_escape(&mut self) -> Read<char> {
        let unit = self.hex4()?;
        let code = match unit {
            0xD800..=0xDBFF => {
                self.expect(b"\\u")?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(Unsupported);
                }
                0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(Unsupported),
            _ => unit,
        };
        char::from_u32(code).ok_or(Unsupported)
    }

    /// An int (any size, as Python's) or a float (the nearest double, as Python's).
    fn number(&mut self) -> Read<Bound<'py, PyAny>> {
        let start = self.at;
        let mut is_float = false;
        while let Some(b) = self.peek() {
            match b {
                b'0'..=b'9' | b'-' | b'+' => {}
                b'.' | b'e' | b'E' => is_float = true,
                _ => break,
            }
            self.at += 1;
        }
        let text = &self.json[start..self.at];
        if text.is_empty() {
            return Err(Unsupported);
        }
        let py = self.py;
        if is_float {
            let value: f64 = text.parse().map_err(|_| Unsupported)?;
            return Ok(PyFloat::new(py, value).into_any());
        }
        match text.parse::<i64>() {
            Ok(value) => Ok(value.into_pyobject(py)?.into_any()),
            // Beyond 64 bits: Python's own int() of the digits.
            Err(_) => Ok(py.get_type::<pyo3::types::PyInt>().call1((text,))?),
        }
    }
}
