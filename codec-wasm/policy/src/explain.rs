//! What a `process` run that stops at a problem tells the caller's status handler as the
//! `job_explanation`: upstream 2.4.3's Processor wording first (AWX shows it to the user,
//! and people search for it), then runnerwire's diagnosis. Upstream has wording for three
//! failures only; the rest it misses or crashes on, and get a sentence in its style.

use crate::problems::Problem;

/// Upstream's words when `readline()` returns nothing before the eof frame.
pub const EMPTY_LINE: &str = "Unexpected empty line encountered during worker stream. \
Worker did not produce events or streaming was aborted, check execution node health.";
/// Upstream's words when a line does not parse as JSON.
pub const BAD_LINE: &str = "Failed to JSON parse a line from worker stream.";
/// Upstream's words when reading the stream raises `OSError`.
pub const READ_FAILED: &str = "Failed to read from worker stream.";

/// The longest explanation: upstream quotes 1,000 bytes of a bad line; its own tests hold
/// the whole explanation under 2,000 characters.
pub const MAX_EXPLANATION: usize = 1999;

/// The explanation for a stream that stopped at `problem`. `diagnosis` is the one line every
/// tool prints for it; `text`, the start of the line it is in (quoted as upstream quotes
/// it, Python's `repr` of the bytes).
pub fn job_explanation(problem: Problem, diagnosis: &str, text: Option<&[u8]>) -> String {
    let ours = format!("(runnerwire: {diagnosis})");
    match problem {
        Problem::MissingEof | Problem::TruncatedArchive => format!("{EMPTY_LINE} {ours}"),
        Problem::ForeignText | Problem::BadJson | Problem::GluedLines | Problem::SplitLine | Problem::TruncatedLine => {
            let head = format!("{BAD_LINE} Line with invalid JSON data: ");
            let room = MAX_EXPLANATION.saturating_sub(head.len() + 1 + ours.chars().count());
            format!("{head}{} {ours}", python_bytes_repr(text.unwrap_or_default(), room))
        }
        Problem::Io if diagnosis.contains("cannot read") => format!("{READ_FAILED} Error: {ours}"),
        Problem::Io => format!("Failed to write the artifacts of the worker stream on this machine. {ours}"),
        _ => format!("Refused a damaged worker stream, check execution node health. {ours}"),
    }
    .chars()
    .take(MAX_EXPLANATION)
    .collect()
}

/// The explanation for an `OSError` the caller's reader raised (`error`: its text).
pub fn read_error_explanation(error: &str) -> String {
    format!("{READ_FAILED} Error: {error}")
}

/// Python's `repr()` of as many leading bytes of `data` as fit in `room` characters (the
/// closing quote included), e.g. `b'not json\n'`.
pub fn python_bytes_repr(data: &[u8], room: usize) -> String {
    // Python picks double quotes only for bytes with a ' and no ".
    let quote = if data.contains(&b'\'') && !data.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::from("b");
    out.push(quote);
    for &b in data {
        let piece = match b {
            b'\\' => "\\\\".to_string(),
            b'\t' => "\\t".to_string(),
            b'\n' => "\\n".to_string(),
            b'\r' => "\\r".to_string(),
            b if b == quote as u8 => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02x}"),
        };
        if out.len() + piece.len() + 1 > room {
            break;
        }
        out.push_str(&piece);
    }
    out.push(quote);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_as_python_repr_prints_them() {
        assert_eq!(python_bytes_repr(b"abc", 100), "b'abc'");
        assert_eq!(python_bytes_repr(b"it's", 100), "b\"it's\"");
        assert_eq!(python_bytes_repr(b"it's \"x\"", 100), "b'it\\'s \"x\"'");
        assert_eq!(python_bytes_repr(b"a\\b\t\n\r\x00\xff", 100), "b'a\\\\b\\t\\n\\r\\x00\\xff'");
        assert_eq!(python_bytes_repr(b"abcdef", 6), "b'abc'");
    }

    #[test]
    fn upstream_wording_first_then_the_diagnosis_under_two_thousand_characters() {
        let line = format!("not-json-data with extra garbage:{}", "f".repeat(10_000));
        let text = &line.as_bytes()[..1000];
        let why = job_explanation(Problem::ForeignText, "foreign-text at byte 0, line 1: text that is not JSON", Some(text));
        assert!(why.starts_with("Failed to JSON parse a line from worker stream. Line with invalid JSON data: b'not-json-data"), "{why}");
        assert!(why.ends_with("(runnerwire: foreign-text at byte 0, line 1: text that is not JSON)"), "{why}");
        assert!(why.chars().count() <= MAX_EXPLANATION);
        let binary = vec![0xffu8; 1000];
        assert!(job_explanation(Problem::BadJson, "bad-json", Some(&binary)).chars().count() <= MAX_EXPLANATION);
        assert!(job_explanation(Problem::MissingEof, "missing-eof at byte 0, line 1: x", None).starts_with(EMPTY_LINE));
    }
}
