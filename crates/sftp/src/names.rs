//! Remote file names: the one check every name passes before it becomes part of a remote path,
//! per-partner name templates, and the wildcard patterns of files to leave alone.

use crate::error::Error;

/// The longest file name accepted, in bytes: the common file-system limit.
const MAX_NAME_BYTES: usize = 255;

/// Checks that `name` is a plain file name that can only ever mean a file directly inside the
/// directory it is joined to: not empty, no `/` or `\`, no control characters, no leading dot
/// (which also rules out `.` and `..`, and keeps clear of the `.NAME.part` names of uploads in
/// progress), at most 255 bytes.
pub fn check_file_name(name: &str) -> Result<(), Error> {
    let refuse = |reason: &str| {
        Err(Error::InvalidName {
            name: name.to_string(),
            reason: reason.to_string(),
        })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.len() > MAX_NAME_BYTES {
        return refuse("it is longer than 255 bytes");
    }
    if name.starts_with('.') {
        return refuse("it starts with a dot");
    }
    if name.contains('/') || name.contains('\\') {
        return refuse("it holds a path separator");
    }
    if name.chars().any(char::is_control) {
        return refuse("it holds a control character");
    }
    Ok(())
}

/// Fills a file name template such as `{partner}-{type}-{control}-{timestamp}.x12` with `vars`
/// (`("partner", "ACME")`, …). `{{` and `}}` stand for literal braces.
///
/// Values come from interchanges and configuration, so none may carry a path into the name: a
/// value holding `/`, `\`, a control character or `..` is refused, an unknown or unclosed
/// placeholder is refused, and the result must pass [`check_file_name`].
pub fn file_name(template: &str, vars: &[(&str, &str)]) -> Result<String, Error> {
    let refuse = |reason: String| Error::Template {
        template: template.to_string(),
        reason,
    };
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let Some(end) = after.find('}') else {
                return Err(refuse("a \"{\" is never closed".into()));
            };
            let key = &after[..end];
            let Some((_, value)) = vars.iter().find(|(k, _)| *k == key) else {
                let known: Vec<&str> = vars.iter().map(|(k, _)| *k).collect();
                return Err(refuse(format!(
                    "unknown placeholder {{{key}}} (known: {})",
                    known.join(", ")
                )));
            };
            if value.contains(['/', '\\'])
                || value.contains("..")
                || value.contains(char::is_control)
            {
                return Err(refuse(format!(
                    "the value {value:?} of {{{key}}} holds a path character"
                )));
            }
            out.push_str(value);
            rest = &after[end + 1..];
        } else {
            return Err(refuse("a \"}\" without its \"{\" (write \"}}\")".into()));
        }
    }
    out.push_str(rest);
    check_file_name(&out).map_err(|e| refuse(e.to_string()))?;
    Ok(out)
}

/// A wildcard pattern over file names: `*` matches any run of characters, `?` any one character,
/// everything else itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern(Vec<char>);

impl Pattern {
    pub(crate) fn new(text: &str) -> Result<Pattern, Error> {
        if text.is_empty() || text.contains('/') {
            return Err(Error::Config(format!(
                "ignore pattern {text:?} must be a non-empty file name pattern without \"/\""
            )));
        }
        Ok(Pattern(text.chars().collect()))
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        // The classic two-pointer match: on a mismatch, let the last `*` swallow one more char.
        let (p, n) = (&self.0, &name);
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            match p.get(pi) {
                Some('*') => {
                    star = Some((pi, ni));
                    pi += 1;
                }
                Some(&c) if c == '?' || c == n[ni] => {
                    pi += 1;
                    ni += 1;
                }
                _ => match star {
                    Some((sp, sn)) => {
                        pi = sp + 1;
                        ni = sn + 1;
                        star = Some((sp, sn + 1));
                    }
                    None => return false,
                },
            }
        }
        p[pi..].iter().all(|&c| c == '*')
    }
}

/// Whether an inbox entry named `name` is to be left alone.
pub(crate) fn ignored(name: &str, patterns: &[Pattern]) -> bool {
    name.starts_with('.') || patterns.iter().any(|p| p.matches(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_pass() {
        for ok in [
            "a.x12",
            "ACME-850-000000001-20260101T000000.x12",
            "x",
            "é.edi",
        ] {
            assert!(check_file_name(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            ".hidden",
            "a\nb",
            "a\0b",
            &long,
        ] {
            let err = check_file_name(bad).expect_err(bad);
            assert!(matches!(err, Error::InvalidName { .. }), "{bad:?}");
            assert!(!err.is_retryable());
        }
    }

    #[test]
    fn templates_fill_and_refuse_paths() {
        let vars = [
            ("partner", "ACME"),
            ("type", "997"),
            ("control", "000000042"),
            ("timestamp", "20260101T120000Z"),
        ];
        assert_eq!(
            file_name("{partner}-{type}-{control}-{timestamp}.x12", &vars).expect("fill"),
            "ACME-997-000000042-20260101T120000Z.x12"
        );
        assert_eq!(
            file_name("{{{partner}}}.edi", &vars).expect("braces"),
            "{ACME}.edi"
        );
        for value in ["../etc", "a/b", "a\\b", "..", "x\ny"] {
            let err = file_name("{partner}.x12", &[("partner", value)]).expect_err(value);
            assert!(matches!(err, Error::Template { .. }), "{value:?}");
            assert!(!err.is_retryable());
        }
        for bad in [
            "{partner.x12",
            "{nope}.x12",
            "a}.x12",
            ".{partner}",
            "{partner}/x",
        ] {
            assert!(file_name(bad, &vars).is_err(), "{bad:?}");
        }
        assert!(file_name("{partner}", &[("partner", ".hidden")]).is_err());
    }

    #[test]
    fn patterns_match_like_shell_globs() {
        let cases = [
            ("*.tmp", "a.tmp", true),
            ("*.tmp", "a.tmp.x12", false),
            ("*.tmp", ".tmp", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*", "", true),
            ("*x*y", "axxbxy", true),
            ("*x*y", "axxbx", false),
            ("ORDERS_*.lock", "ORDERS_1.lock", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, name, want) in cases {
            let p = Pattern::new(pattern).expect("pattern");
            assert_eq!(p.matches(name), want, "{pattern} ~ {name}");
        }
        assert!(Pattern::new("").is_err());
        assert!(Pattern::new("a/*").is_err());
        let defaults = [Pattern::new("*.part").expect("p")];
        assert!(ignored(".x.part", &[]));
        assert!(ignored("x.part", &defaults));
        assert!(!ignored("x.x12", &defaults));
    }
}
