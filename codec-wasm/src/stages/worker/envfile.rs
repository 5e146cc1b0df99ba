//! The env files of a private data dir (`env/envvars`, `env/settings`, `env/passwords`):
//! upstream reads them as YAML or JSON. JSON and flat YAML mappings of scalars (what these
//! files hold) are read here; anything richer is refused with a reason.

use crate::pyjson::{self, PyStr, Value};

/// Parses a mapping file into (key, value) pairs, in file order.
pub fn mapping(text: &str, name: &str) -> Result<Vec<(String, Value)>, String> {
    if let Ok(Value::Object(members)) = pyjson::parse(text.as_bytes(), 64) {
        return Ok(members.into_iter().map(|(k, v)| (k.to_string_lossy(), v)).collect());
    }
    let mut out: Vec<(String, Value)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" || trimmed == "..." {
            continue;
        }
        let unsupported = || format!("{name}: line {}: only JSON or a flat YAML mapping of scalars is supported", n + 1);
        if line.starts_with([' ', '\t', '-']) {
            return Err(unsupported());
        }
        let (key, rest) = split_key(trimmed).ok_or_else(unsupported)?;
        let value = scalar(rest.trim()).ok_or_else(unsupported)?;
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    Ok(out)
}

/// `key: rest`, the key possibly quoted.
fn split_key(line: &str) -> Option<(String, &str)> {
    if line.starts_with(['"', '\'']) {
        let (key, len) = quoted(line)?;
        let rest = line[len..].trim_start().strip_prefix(':')?;
        return Some((key, rest));
    }
    let colon = line.find(": ").or_else(|| line.strip_suffix(':').map(|l| l.len()))?;
    Some((line[..colon].trim().to_string(), line.get(colon + 1..).unwrap_or("")))
}

/// A quoted YAML scalar at the start of `s`: its value and the bytes it took.
fn quoted(s: &str) -> Option<(String, usize)> {
    let quote = s.chars().next()?;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match (quote, c) {
            ('\'', '\'') => {
                if s[i + 1..].starts_with('\'') {
                    out.push('\'');
                    chars.next();
                } else {
                    return Some((out, i + 1));
                }
            }
            ('"', '"') => return Some((out, i + 1)),
            ('"', '\\') => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                other => out.push(other),
            },
            (_, c) => out.push(c),
        }
    }
    None
}

/// YAML 1.1 scalars as PyYAML's safe_load reads the common ones.
fn scalar(text: &str) -> Option<Value> {
    let text = match text.find(" #") {
        Some(i) if !text.starts_with(['"', '\'']) => text[..i].trim_end(),
        _ => text,
    };
    if text.starts_with(['"', '\'']) {
        let (value, len) = quoted(text)?;
        return text[len..].trim().is_empty().then(|| Value::Str(PyStr::from_str(&value)));
    }
    if text.starts_with(['[', '{', '|', '>', '&', '*', '!']) {
        return None;
    }
    Some(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Value::Bool(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Value::Bool(false),
        t if t.parse::<i64>().is_ok() && !t.starts_with('+') => Value::Int(t.parse::<i64>().ok()?.to_string().into()),
        t if t.contains('.') && t.parse::<f64>().is_ok() && t.chars().any(|c| c.is_ascii_digit()) => Value::Float(t.parse().ok()?),
        t => Value::Str(PyStr::from_str(t)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_and_flat_yaml_like_safe_load() {
        let json = mapping(r#"{"job_timeout": 5, "idle_timeout": 0}"#, "env/settings").unwrap();
        assert_eq!(json[0], ("job_timeout".into(), Value::Int("5".into())));
        let yaml = "---\n# settings\njob_timeout: 30\nsuppress_ansible_output: true\n\"^SSH [pP]assword:\\\\s*?$\": 'it''s'\nname: plain text # comment\nempty:\n";
        let got = mapping(yaml, "env/passwords").unwrap();
        assert_eq!(got[0], ("job_timeout".into(), Value::Int("30".into())));
        assert_eq!(got[1], ("suppress_ansible_output".into(), Value::Bool(true)));
        assert_eq!(got[2], ("^SSH [pP]assword:\\s*?$".into(), Value::Str(PyStr::from_str("it's"))));
        assert_eq!(got[3], ("name".into(), Value::Str(PyStr::from_str("plain text"))));
        assert_eq!(got[4], ("empty".into(), Value::Null));
    }

    #[test]
    fn nested_yaml_is_refused_with_the_line() {
        let err = mapping("a:\n  b: 1\n", "env/envvars").unwrap_err();
        assert!(err.contains("env/envvars: line 2"), "{err}");
    }
}
