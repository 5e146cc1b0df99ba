//! A stream's JSON lines as text, archives skipped: what stream comparisons work on.

/// The JSON lines of a stream as text (newline stripped), base64 payloads skipped (each
/// sized by its `zipfile` line).
pub fn raw_lines(stream: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').map_or(rest.len(), |i| i + 1);
        let line = String::from_utf8_lossy(&rest[..end]).trim_end_matches(['\n', '\r']).to_string();
        rest = &rest[end..];
        let size = line.strip_prefix("{\"zipfile\": ").and_then(|t| t.trim_end_matches('}').trim().parse::<u64>().ok());
        if let Some(size) = size {
            let mut needed = size.div_ceil(3) * 4;
            let mut i = 0;
            while needed > 0 && i < rest.len() {
                if !rest[i].is_ascii_whitespace() {
                    needed -= 1;
                }
                i += 1;
            }
            rest = &rest[i..];
        }
        out.push(line);
    }
    out
}
