//! Results built under the run's limits: lists of lines and text.

use super::*;

/// A list of lines being built under the item and byte limits.
pub(super) struct LineList {
    pub(super) lines: Vec<String>,
    pub(super) bytes: usize,
    pub(super) limits: Limits,
    pub(super) what: &'static str,
}

impl LineList {
    pub(super) fn new(limits: Limits, what: &'static str) -> LineList {
        LineList {
            lines: Vec::new(),
            bytes: 0,
            limits,
            what,
        }
    }

    pub(super) fn push(&mut self, line: String) -> HostResult<()> {
        if self.lines.len() >= self.limits.max_items {
            return Err(too_large(self.what, items(self.limits.max_items)));
        }
        self.bytes += line.len();
        if self.bytes > self.limits.max_string_bytes {
            return Err(too_large(self.what, bytes(self.limits.max_string_bytes)));
        }
        self.lines.push(line);
        Ok(())
    }
}

/// Text being built under the string limit.
pub(super) struct TextOut {
    pub(super) text: String,
    pub(super) max: usize,
    pub(super) what: &'static str,
}

impl TextOut {
    pub(super) fn new(max: usize, what: &'static str) -> TextOut {
        TextOut {
            text: String::new(),
            max,
            what,
        }
    }

    pub(super) fn push(&mut self, piece: &str) -> HostResult<()> {
        if self.text.len() + piece.len() > self.max {
            return Err(too_large(self.what, bytes(self.max)));
        }
        self.text.push_str(piece);
        Ok(())
    }
}

pub(super) fn too_large(what: &str, limit: String) -> HostError {
    HostError::TooLarge {
        what: what.to_owned(),
        limit,
    }
}

pub(super) fn bytes(n: usize) -> String {
    format!("{n} bytes (max_string_bytes)")
}

pub(super) fn items(n: usize) -> String {
    format!("{n} items (max_items)")
}
