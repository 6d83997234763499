//! Errors from loading and validating policies.

use std::fmt;

/// A place in a policy file, 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl SourceLocation {
    /// The line and column of byte `offset` in `text`.
    pub(crate) fn at(file: &str, text: &str, offset: usize) -> SourceLocation {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&before[line_start..])
            .chars()
            .count()
            + 1;
        SourceLocation {
            file: file.to_owned(),
            line,
            column,
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Why a policy set could not be used. Any of these means the script does not run.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    /// Syntax errors or schema validation errors, each with its place in the file.
    #[error("{}", render_problems(.problems))]
    Invalid {
        problems: Vec<(Option<SourceLocation>, String)>,
    },
    #[error("the built-in Cedar schema is invalid: {0}")]
    Schema(String),
    /// An action or resource named as text (e.g. by a probe) that the schema does not have.
    #[error("{0}")]
    UnknownName(String),
}

fn render_problems(problems: &[(Option<SourceLocation>, String)]) -> String {
    let mut out = String::new();
    for (i, (loc, msg)) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match loc {
            Some(loc) => out.push_str(&format!("{loc}: {msg}")),
            None => out.push_str(msg),
        }
    }
    out
}
