//! The run's log: `info`, `warn`, `error`, `debug`, `trace`, `print` and Rhai's `debug`.

use std::cell::RefCell;
use std::time::SystemTime;

use serde::{Deserialize, Deserializer, Serialize};

/// Longest message kept; longer ones are cut on a character boundary and marked.
pub const MAX_MESSAGE_BYTES: usize = 4096;

/// One log line, as the output JSON shows it under `logs[].attributes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    pub timestamp: String,
    pub level: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_number: Option<usize>,
}

/// The levels a log line can have.
const LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/// A line read back (from a worker's result): its level must be one of [`LEVELS`].
impl<'de> Deserialize<'de> for LogEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Line {
            timestamp: String,
            level: String,
            message: String,
            line_number: Option<usize>,
        }
        let line = Line::deserialize(d)?;
        let level = LEVELS
            .iter()
            .find(|l| **l == line.level)
            .copied()
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown log level {:?}", line.level))
            })?;
        Ok(LogEntry {
            timestamp: line.timestamp,
            level,
            message: line.message,
            line_number: line.line_number,
        })
    }
}

/// Collects log lines up to a total byte budget (the output limit), so a logging loop cannot
/// grow the output without bound.
pub(crate) struct LogSink {
    entries: RefCell<Vec<LogEntry>>,
    max_bytes: usize,
    budget: RefCell<usize>,
    dropped: RefCell<u64>,
}

impl LogSink {
    pub(crate) fn new(max_bytes: usize) -> LogSink {
        LogSink {
            entries: RefCell::new(Vec::new()),
            max_bytes,
            budget: RefCell::new(max_bytes),
            dropped: RefCell::new(0),
        }
    }

    pub(crate) fn push(&self, level: &'static str, message: &str, line_number: Option<usize>) {
        let message = truncate(message, MAX_MESSAGE_BYTES);
        let cost = message.len() + 64;
        let mut budget = self.budget.borrow_mut();
        if cost > *budget {
            *self.dropped.borrow_mut() += 1;
            return;
        }
        *budget -= cost;
        self.entries.borrow_mut().push(LogEntry {
            timestamp: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            level,
            message,
            line_number,
        });
    }

    /// Bytes of the output budget the log has taken so far.
    pub(crate) fn used(&self) -> usize {
        self.max_bytes - *self.budget.borrow()
    }

    /// The entries, with a closing warning if some were dropped.
    pub(crate) fn finish(&self) -> Vec<LogEntry> {
        let mut entries = self.entries.take();
        let dropped = *self.dropped.borrow();
        if dropped > 0 {
            entries.push(LogEntry {
                timestamp: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                level: "WARN",
                message: format!("{dropped} log lines were dropped: the log reached --max-output"),
                line_number: None,
            });
        }
        entries
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    const MARK: &str = "…[truncated]";
    let mut end = max.saturating_sub(MARK.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MARK}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_multibyte_messages_on_char_boundaries() {
        let s = "é".repeat(5000);
        let t = truncate(&s, MAX_MESSAGE_BYTES);
        assert!(t.len() <= MAX_MESSAGE_BYTES);
        assert!(t.ends_with("…[truncated]"));
        assert!(t.trim_end_matches("…[truncated]").chars().all(|c| c == 'é'));
    }

    #[test]
    fn drops_lines_beyond_the_budget_and_says_so() {
        let sink = LogSink::new(1000);
        for _ in 0..100 {
            sink.push("INFO", "hello", Some(1));
        }
        let entries = sink.finish();
        assert!(entries.len() < 100);
        assert!(entries.last().unwrap().message.contains("dropped"));
    }
}
