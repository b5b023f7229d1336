//! What is wrong with a partner file, said the way a person fixes it: where, what, and what to
//! write instead.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in one partner file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// The partner file.
    pub path: PathBuf,
    /// 1-based line, 0 when the problem is the file as a whole.
    pub line: usize,
    /// 1-based column, 0 when the problem is the file as a whole.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What would be right, when there is something specific to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at byte `offset` of `text`.
    pub(crate) fn at(
        path: &Path,
        text: &str,
        offset: usize,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Self {
        let (line, column) = line_col(text, offset);
        Diagnostic {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            hint,
        }
    }

    /// A problem with the file as a whole (unreadable, or two files in conflict).
    pub(crate) fn file(path: &Path, message: impl Into<String>, hint: Option<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            message: message.into(),
            hint,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path.display(), self.message)?;
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.path.display(),
                self.line,
                self.column,
                self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  help: {hint}")?;
        }
        Ok(())
    }
}

/// A partner directory that could not be loaded: every problem found, not just the first, so one
/// `edigate partner check` run shows the whole list.
#[derive(Debug, thiserror::Error)]
#[error("{}", render(.0))]
pub struct LoadError(pub Vec<Diagnostic>);

fn render(all: &[Diagnostic]) -> String {
    all.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |p| before[p + 1..].chars().count())
        + 1;
    (line, column)
}

/// The closest of `candidates` to `given`, when it is close enough to be a typo of it: at most
/// one edit (a transposition counts as one) per three characters, at least one.
pub(crate) fn closest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(given, c), c))
        .filter(|(d, c)| *d <= (given.len().max(c.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nbb = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 4));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn suggestions_only_when_close() {
        assert_eq!(closest("isa_idd", ["isa_id", "gs_id"]), Some("isa_id"));
        assert_eq!(closest("zzz", ["isa_id", "gs_id"]), None);
    }
}
