//! Python's `shlex.split(s)` (POSIX mode, comments off), as upstream splits `env/cmdline`.

/// Splits like a POSIX shell: whitespace separates words; single quotes keep everything;
/// double quotes keep everything but `\` before `"`, `\`, `$`, `` ` `` or a newline; a
/// backslash outside quotes escapes the next character. `None` on an unclosed quote or a
/// trailing backslash (where Python raises ValueError).
pub fn split(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\' | '$' | '`' | '\n') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// Python's `shlex.quote`.
pub fn quote(word: &str) -> String {
    if word.is_empty() {
        return "''".into();
    }
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\"'\"'"))
    }
}

/// upstream's `args2cmdline`: quoted words joined by spaces.
pub fn join(words: &[String]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::{join, split};

    #[test]
    fn quotes_like_python_shlex_quote() {
        let words: Vec<String> = ["ansible-playbook", "-e", "a b", "it's", "", "x=1,y/z@h:%+"].iter().map(|s| s.to_string()).collect();
        assert_eq!(join(&words), "ansible-playbook -e 'a b' 'it'\"'\"'s' '' x=1,y/z@h:%+");
    }

    #[test]
    fn splits_like_python_shlex() {
        // Each expectation was checked with python3 -c 'import shlex; print(shlex.split(...))'.
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("-e from_cmdline=yes", Some(&["-e", "from_cmdline=yes"])),
            ("  -e 'a b'  --tags \"x y\" ", Some(&["-e", "a b", "--tags", "x y"])),
            (r#"-e "{\"k\": 1}""#, Some(&["-e", r#"{"k": 1}"#])),
            (r"a\ b c\\d", Some(&["a b", r"c\d"])),
            (r#""a\nb""#, Some(&[r"a\nb"])),
            ("x''y \"\"", Some(&["xy", ""])),
            ("'unclosed", None),
            ("trailing\\", None),
        ];
        for (input, want) in cases {
            let got = split(input);
            let want = want.map(|w| w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(got, want, "{input:?}");
        }
    }
}
