//! Spec loading errors: each names the file (and line and column where the TOML itself is wrong),
//! what is wrong, and what to write instead.

use std::fmt;
use std::path::{Path, PathBuf};

/// A spec file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or does not have the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the TOML reader said.
        message: String,
    },
    /// A value is wrong or a reference dangles.
    #[error("{path}: {message}{}", Hint(hint))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// What to write instead.
        hint: Option<String>,
    },
}

struct Hint<'a>(&'a Option<String>);

impl fmt::Display for Hint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(h) => write!(f, " ({h})"),
            None => Ok(()),
        }
    }
}

impl SpecError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        SpecError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn toml(path: &Path, text: &str, e: &toml::de::Error) -> Self {
        let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
        SpecError::Toml {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    }

    pub(crate) fn invalid(path: &Path, message: &str, hint: Option<&str>) -> Self {
        SpecError::Invalid {
            path: path.to_path_buf(),
            message: message.to_string(),
            hint: hint.map(str::to_string),
        }
    }
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |p| before.len() - p - 1)
        + 1;
    (line, column)
}
