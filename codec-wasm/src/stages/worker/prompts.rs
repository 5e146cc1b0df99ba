//! Answering password prompts (`env/passwords`: regex -> answer) as upstream does with
//! pexpect: patterns are multi-line regexes searched in the output since the last answer
//! (at most the last 100 characters, pexpect's `searchwindowsize`); the earliest match wins
//! and its answer is typed, followed by a newline.

use regex::Regex;

const WINDOW: usize = 100;

pub struct Prompts {
    patterns: Vec<(Regex, String)>,
    recent: String,
}

impl Prompts {
    /// Upstream compiles every pattern or, if one fails, none: the same here.
    pub fn new(passwords: &[(String, String)]) -> Self {
        let compiled: Result<Vec<(Regex, String)>, _> =
            passwords.iter().map(|(p, a)| Regex::new(&format!("(?m){p}")).map(|re| (re, a.clone()))).collect();
        Prompts { patterns: compiled.unwrap_or_default(), recent: String::new() }
    }

    /// Looks at new output; the line to type, if a prompt appeared.
    pub fn observe(&mut self, output: &str) -> Option<String> {
        if self.patterns.is_empty() {
            return None;
        }
        self.recent.push_str(output);
        let search_from = floor_char_boundary(&self.recent, self.recent.len().saturating_sub(WINDOW + output.len()));
        let window = &self.recent[search_from..];
        let hit = self
            .patterns
            .iter()
            .filter_map(|(re, answer)| re.find(window).map(|m| (m.start(), m.end(), answer)))
            .min_by_key(|(start, _, _)| *start);
        let (_, end, answer) = hit?;
        let answer = format!("{answer}\n");
        self.recent = self.recent[search_from + end..].to_string();
        Some(answer)
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_each_prompt_once_earliest_first() {
        let mut p = Prompts::new(&[("^SSH password:\\s*?$".into(), "s3cret".into()), ("Vault password".into(), "v".into())]);
        assert_eq!(p.observe("PLAY [x]\r\n"), None);
        assert_eq!(p.observe("SSH pass"), None);
        assert_eq!(p.observe("word: "), Some("s3cret\n".into()));
        assert_eq!(p.observe("\r\n"), None, "an answered prompt is not answered again");
        assert_eq!(p.observe("Vault password: "), Some("v\n".into()));
    }

    #[test]
    fn one_bad_pattern_disables_all_like_upstream() {
        let mut p = Prompts::new(&[("ok".into(), "a".into()), ("(unclosed".into(), "b".into())]);
        assert_eq!(p.observe("ok"), None);
    }
}
