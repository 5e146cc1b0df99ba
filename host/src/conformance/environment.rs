//! What the machine adds to a worker's result stream: text a library prints when ansible
//! starts (a newer `cryptography` warns of a deprecation), or at any other time, lands on
//! the job's terminal outside any event, so the worker streams it as `verbose` events the
//! recording does not have, and every later event's counter and line numbers move.
//!
//! The kit normalizes that away rather than asking for a reference run: a verbose event
//! whose text the recording lacks is taken out, and the events after it are numbered as if
//! it had never been. Nothing else is: an event the recording has and the stage lost, a
//! changed one or one of another type still fails the case, and the PASS line names what
//! was taken out.

use regex::Regex;

use super::normalize::Normalizer;

/// `ours` without the verbose events `recording` lacks, renumbered; and those events' text.
/// `local` maps the run's own paths to the recording's, as the comparison does.
pub fn without_added_lines(ours: Vec<String>, recording: &[String], local: &dyn Fn(&str) -> String) -> (Vec<String>, Vec<String>) {
    let key = |stdout: &str| Normalizer::new(Vec::new()).line(&local(stdout));
    let mut expected: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for line in recording {
        if let Some(stdout) = verbose_text(line) {
            *expected.entry(key(&stdout)).or_default() += 1;
        }
    }
    let counter = Regex::new(r#""counter": (\d+)"#).expect("a valid pattern");
    let lines = Regex::new(r#""(start_line|end_line)": (\d+)"#).expect("a valid pattern");
    let (mut kept, mut added) = (Vec::new(), Vec::new());
    let (mut events_taken, mut lines_taken) = (0u64, 0u64);
    for line in ours {
        if let Some(stdout) = verbose_text(&line) {
            match expected.get_mut(&key(&stdout)) {
                Some(n) if *n > 0 => *n -= 1,
                _ => {
                    events_taken += 1;
                    lines_taken += line_span(&line);
                    added.push(stdout);
                    continue;
                }
            }
        }
        if events_taken == 0 || !line.contains("\"counter\": ") || line.starts_with("{\"event\": \"keepalive\"") {
            kept.push(line);
            continue;
        }
        let line = counter.replacen(&line, 1, |c: &regex::Captures| format!("\"counter\": {}", c[1].parse::<u64>().unwrap_or(0).saturating_sub(events_taken)));
        let line = lines.replacen(&line, 2, |c: &regex::Captures| format!("\"{}\": {}", &c[1], c[2].parse::<u64>().unwrap_or(0).saturating_sub(lines_taken)));
        kept.push(line.into_owned());
    }
    (kept, added)
}

/// The text of a verbose event line.
fn verbose_text(line: &str) -> Option<String> {
    if !line.contains("\"event\": \"verbose\"") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    (value.get("event")?.as_str()? == "verbose").then(|| value.get("stdout").and_then(|s| s.as_str()).unwrap_or("").to_string())
}

/// How many terminal lines an event covers.
fn line_span(line: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let at = |k: &str| value.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
    at("end_line").saturating_sub(at("start_line"))
}

/// The PASS line's note for what was taken out.
pub fn note(added: &[String]) -> Option<String> {
    let first = added.first()?;
    let shown: String = first.chars().take(100).collect();
    let more = if added.len() > 1 { format!(" and {} more", added.len() - 1) } else { String::new() };
    Some(format!("the environment added {} verbose line{} ({shown:?}{more}), left out of the comparison", added.len(), if added.len() == 1 { "" } else { "s" }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(counter: u64, start: u64, end: u64, kind: &str, stdout: &str) -> String {
        let uuid = stdout.len();
        format!(r#"{{"uuid": "u{uuid}", "counter": {counter}, "stdout": "{stdout}", "start_line": {start}, "end_line": {end}, "runner_ident": "x", "event": "{kind}"}}"#)
    }

    #[test]
    fn added_verbose_lines_are_taken_out_and_the_rest_renumbered() {
        let recording = vec![event(1, 0, 1, "verbose", "No config file found"), event(2, 1, 3, "playbook_on_play_start", "PLAY")];
        let ours = vec![
            event(1, 0, 1, "verbose", "sitecustomize.py:3: CryptographyDeprecationWarning: old"),
            event(2, 1, 2, "verbose", "  warnings.warn(x)"),
            event(3, 2, 3, "verbose", "No config file found"),
            event(4, 3, 5, "playbook_on_play_start", "PLAY"),
        ];
        let (kept, added) = without_added_lines(ours, &recording, &|s| s.to_string());
        assert_eq!(kept, recording);
        assert_eq!(added.len(), 2);
        assert!(note(&added).unwrap().starts_with("the environment added 2 verbose lines"));
    }

    #[test]
    fn a_lost_event_is_not_taken_for_an_added_one() {
        let recording = vec![event(1, 0, 1, "verbose", "a"), event(2, 1, 2, "verbose", "b")];
        let ours = vec![event(1, 0, 1, "verbose", "a")];
        let (kept, added) = without_added_lines(ours.clone(), &recording, &|s| s.to_string());
        assert_eq!((kept, added.len()), (ours, 0));
    }
}
