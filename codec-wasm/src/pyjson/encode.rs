//! `json.dumps(obj)` with CPython's defaults, and `str(obj)`. Iterative, so deep values
//! cost heap rather than stack.

use super::float_repr::{write_json_float, write_py_float_str};
use super::{decode_code_point, PyStr, Value};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// `PASS[b]` is true for bytes `encode_basestring_ascii` copies unchanged: ' '..='~' except
/// '"' and '\\'.
const PASS: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b <= 0x7E {
        t[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    t
};

enum Frame<'a> {
    Array(std::slice::Iter<'a, Value>),
    Object(std::slice::Iter<'a, (PyStr, Value)>),
}

pub(crate) fn encode(value: &Value, out: &mut Vec<u8>) {
    encode_with(value, out, true)
}

/// `json.dumps(value, ensure_ascii=False)`: non-ASCII text is written as UTF-8.
pub(crate) fn encode_unicode(value: &Value, out: &mut Vec<u8>) {
    encode_with(value, out, false)
}

fn encode_with(value: &Value, out: &mut Vec<u8>, ascii: bool) {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut next: Option<&Value> = Some(value);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Null => out.extend_from_slice(b"null"),
                Value::Bool(true) => out.extend_from_slice(b"true"),
                Value::Bool(false) => out.extend_from_slice(b"false"),
                Value::Int(text) => out.extend_from_slice(text.as_bytes()),
                Value::Float(f) => write_json_float(*f, out),
                Value::Str(s) => write_string(s.as_wtf8(), out, ascii),
                Value::Array(items) => {
                    let mut it = items.iter();
                    match it.next() {
                        None => out.extend_from_slice(b"[]"),
                        Some(first) => {
                            out.push(b'[');
                            stack.push(Frame::Array(it));
                            next = Some(first);
                            continue;
                        }
                    }
                }
                Value::Object(members) => {
                    let mut it = members.iter();
                    match it.next() {
                        None => out.extend_from_slice(b"{}"),
                        Some((k, first)) => {
                            out.push(b'{');
                            write_string(k.as_wtf8(), out, ascii);
                            out.extend_from_slice(b": ");
                            stack.push(Frame::Object(it));
                            next = Some(first);
                            continue;
                        }
                    }
                }
            }
        }
        // The current value is complete: continue or close the innermost container.
        match stack.last_mut() {
            None => return,
            Some(Frame::Array(it)) => match it.next() {
                Some(v) => {
                    out.extend_from_slice(b", ");
                    next = Some(v);
                }
                None => {
                    out.push(b']');
                    stack.pop();
                }
            },
            Some(Frame::Object(it)) => match it.next() {
                Some((k, v)) => {
                    out.extend_from_slice(b", ");
                    write_string(k.as_wtf8(), out, ascii);
                    out.extend_from_slice(b": ");
                    next = Some(v);
                }
                None => {
                    out.push(b'}');
                    stack.pop();
                }
            },
        }
    }
}

pub(crate) fn encode_str(text: &str, out: &mut Vec<u8>) {
    write_string(text.as_bytes(), out, true)
}

#[inline]
fn push_u_escape(out: &mut Vec<u8>, c: u32) {
    out.extend_from_slice(&[
        b'\\',
        b'u',
        HEX[((c >> 12) & 0xF) as usize],
        HEX[((c >> 8) & 0xF) as usize],
        HEX[((c >> 4) & 0xF) as usize],
        HEX[(c & 0xF) as usize],
    ]);
}

/// On generalized UTF-8: `ascii` is CPython's `encode_basestring_ascii`; else `encode_basestring`, which escapes only `"`,
/// `\` and control characters and writes everything else as it is.
fn write_string(s: &[u8], out: &mut Vec<u8>, ascii: bool) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let mut i = 0;
    while i < s.len() {
        let run_start = i;
        while let Some(&b) = s.get(i) {
            if !PASS[b as usize] {
                break;
            }
            i += 1;
        }
        out.extend_from_slice(s.get(run_start..i).unwrap_or(b""));
        let b = match s.get(i) {
            Some(&b) => b,
            None => break,
        };
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            _ if !ascii && b >= 0x7f => {
                let (_, n) = decode_code_point(s, i);
                out.extend_from_slice(s.get(i..i + n).unwrap_or(b""));
                i += n;
                continue;
            }
            _ => {
                let (c, n) = decode_code_point(s, i);
                if c >= 0x10000 {
                    let v = c - 0x10000;
                    push_u_escape(out, 0xD800 | (v >> 10));
                    push_u_escape(out, 0xDC00 | (v & 0x3FF));
                } else {
                    push_u_escape(out, c);
                }
                i += n;
                continue;
            }
        }
        i += 1;
    }
    out.push(b'"');
}

pub(crate) fn python_str(value: &Value) -> String {
    match value {
        Value::Str(s) => s.to_string_lossy(),
        _ => {
            let mut out = String::new();
            python_repr(value, &mut out);
            out
        }
    }
}

/// Python `repr()` of the value (see [`super::python_str`] for what is approximated).
fn python_repr(value: &Value, out: &mut String) {
    enum Frame<'a> {
        Array(std::slice::Iter<'a, Value>),
        Object(std::slice::Iter<'a, (PyStr, Value)>),
    }
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut next: Option<&Value> = Some(value);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Null => out.push_str("None"),
                Value::Bool(true) => out.push_str("True"),
                Value::Bool(false) => out.push_str("False"),
                Value::Int(text) => out.push_str(text),
                Value::Float(f) => {
                    let mut buf = Vec::with_capacity(24);
                    write_py_float_str(*f, &mut buf);
                    out.push_str(std::str::from_utf8(&buf).unwrap_or("?"));
                }
                Value::Str(s) => repr_str(s, out),
                Value::Array(items) => {
                    let mut it = items.iter();
                    out.push('[');
                    if let Some(first) = it.next() {
                        stack.push(Frame::Array(it));
                        next = Some(first);
                        continue;
                    }
                    out.push(']');
                }
                Value::Object(members) => {
                    let mut it = members.iter();
                    out.push('{');
                    if let Some((k, first)) = it.next() {
                        repr_str(k, out);
                        out.push_str(": ");
                        stack.push(Frame::Object(it));
                        next = Some(first);
                        continue;
                    }
                    out.push('}');
                }
            }
        }
        match stack.last_mut() {
            None => return,
            Some(Frame::Array(it)) => match it.next() {
                Some(v) => {
                    out.push_str(", ");
                    next = Some(v);
                }
                None => {
                    out.push(']');
                    stack.pop();
                }
            },
            Some(Frame::Object(it)) => match it.next() {
                Some((k, v)) => {
                    out.push_str(", ");
                    repr_str(k, out);
                    out.push_str(": ");
                    next = Some(v);
                }
                None => {
                    out.push('}');
                    stack.pop();
                }
            },
        }
    }
}

/// Approximates `str.isprintable()` for non-ASCII code points.
fn is_printable_non_ascii(c: u32) -> bool {
    !matches!(c,
        0x80..=0xA0 | 0xAD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x1680 | 0x180E
        | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064 | 0x2066..=0x206F
        | 0x3000 | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xFFFE | 0xFFFF | 0xF0000..=0x10FFFF)
}

fn repr_str(s: &PyStr, out: &mut String) {
    let bytes = s.as_wtf8();
    let has_single = bytes.contains(&b'\'');
    let has_double = bytes.contains(&b'"');
    let quote = if has_single && !has_double { '"' } else { '\'' };
    out.push(quote);
    for c in s.code_points() {
        match c {
            0x5C => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0A => out.push_str("\\n"),
            0x0D => out.push_str("\\r"),
            _ if c == quote as u32 => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7E => out.push(c as u8 as char),
            _ if c >= 0x80 && is_printable_non_ascii(c) => {
                out.push(char::from_u32(c).unwrap_or('\u{FFFD}'))
            }
            _ if c <= 0xFF => out.push_str(&format!("\\x{c:02x}")),
            _ if c <= 0xFFFF => out.push_str(&format!("\\u{c:04x}")),
            _ => out.push_str(&format!("\\U{c:08x}")),
        }
    }
    out.push(quote);
}
