//! Printing a run's result: Rex-compatible JSON, pretty JSON, or text for people.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use tollgate_host::redact::Counts;
use tollgate_script::{human_text, output_text, LogEntry, RunError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    PrettyJson,
    Human,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RunError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logs: Vec<LogLine<'a>>,
    /// Tollgate's addition: what redaction replaced, per file read redacted and, under
    /// `output`, in the output itself.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    redactions: &'a BTreeMap<String, Counts>,
}

#[derive(Serialize)]
struct LogLine<'a> {
    attributes: &'a LogEntry,
}

impl<'a> Report<'a> {
    fn new(
        output: Option<&'a str>,
        error: Option<&'a RunError>,
        logs: &'a [LogEntry],
        redactions: &'a BTreeMap<String, Counts>,
    ) -> Self {
        Report {
            output,
            status: if error.is_some() { "ERROR" } else { "SUCCESS" },
            error,
            logs: logs.iter().map(|l| LogLine { attributes: l }).collect(),
            redactions,
        }
    }
}

/// The object `--output json` prints, as a JSON value (for the MCP server's results).
pub fn report(
    output: Option<&str>,
    error: Option<&RunError>,
    logs: &[LogEntry],
    redactions: &BTreeMap<String, Counts>,
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(Report::new(output, error, logs, redactions))
}

/// The final value as `format` shows it: Rex's `output` text for JSON, readable text for
/// people (nothing for a unit value).
pub fn render(format: Format, value: &rhai::Dynamic) -> Option<String> {
    match format {
        Format::Json | Format::PrettyJson => Some(output_text(value)),
        Format::Human => (!value.is_unit()).then(|| human_text(value)),
    }
}

/// Writes the result. `output` is the script's final value, [`render`]ed, when it
/// succeeded.
pub fn print(
    format: Format,
    output: Option<&str>,
    error: Option<&RunError>,
    logs: &[LogEntry],
    redactions: &BTreeMap<String, Counts>,
) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed stdout (e.g. piped into `head`) is not worth a panic; the exit code still
    // reports the run.
    let _ = match format {
        Format::Json | Format::PrettyJson => {
            let report = Report::new(output, error, logs, redactions);
            let text = if format == Format::Json {
                serde_json::to_string(&report)
            } else {
                serde_json::to_string_pretty(&report)
            };
            writeln!(out, "{}", text.unwrap_or_else(|e| format!("{{\"status\":\"ERROR\",\"error\":{{\"error_type\":\"INTERNAL_EXCEPTION\",\"message\":\"cannot encode the result: {e}\"}}}}")))
        }
        Format::Human => {
            let mut err = std::io::stderr().lock();
            for l in logs {
                let line = l
                    .line_number
                    .map(|n| format!(" line {n}"))
                    .unwrap_or_default();
                let _ = writeln!(err, "[{}{}] {}", l.level, line, l.message);
            }
            for (what, counts) in redactions {
                let found: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
                let _ = writeln!(err, "[REDACTED] {what}: {}", found.join(", "));
            }
            if let Some(e) = error {
                let _ = writeln!(err, "{}: {}", e.error_type, e.message);
            }
            match output {
                Some(text) => writeln!(out, "{text}"),
                None => Ok(()),
            }
        }
    };
}
