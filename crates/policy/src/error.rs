//! Errors from loading and validating policies.

use std::fmt;

/// A place in a policy file, 1-based.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

/// Where each line of a text starts: built once per file, so that naming the places of many
/// policies or problems costs a search each, not a scan from the start of the file.
pub(crate) struct Lines<'a> {
    file: &'a str,
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    pub(crate) fn of(file: &'a str, text: &'a str) -> Lines<'a> {
        let starts = std::iter::once(0)
            .chain(newlines(text).map(|i| i + 1))
            .collect();
        Lines { file, text, starts }
    }

    /// The line and column (in characters) of byte `offset`.
    pub(crate) fn at(&self, offset: usize) -> SourceLocation {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset);
        let line_start = self.starts[line - 1];
        let column = String::from_utf8_lossy(&self.text.as_bytes()[line_start..offset])
            .chars()
            .count()
            + 1;
        SourceLocation {
            file: self.file.to_owned(),
            line,
            column,
        }
    }
}

fn newlines(text: &str) -> impl Iterator<Item = usize> + '_ {
    text.bytes()
        .enumerate()
        .filter_map(|(i, b)| (b == b'\n').then_some(i))
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
