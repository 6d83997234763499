//! Printing a run's result: Rex-compatible JSON, pretty JSON, or text for people.

use std::io::Write;

use serde::Serialize;
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
    output: Option<String>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RunError>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logs: Vec<LogLine<'a>>,
}

#[derive(Serialize)]
struct LogLine<'a> {
    attributes: &'a LogEntry,
}

impl<'a> Report<'a> {
    fn new(
        value: Option<&rhai::Dynamic>,
        error: Option<&'a RunError>,
        logs: &'a [LogEntry],
    ) -> Self {
        Report {
            output: value.map(output_text),
            status: if error.is_some() { "ERROR" } else { "SUCCESS" },
            error,
            logs: logs.iter().map(|l| LogLine { attributes: l }).collect(),
        }
    }
}

/// The object `--output json` prints, as a JSON value (for the MCP server's results).
pub fn report(
    value: Option<&rhai::Dynamic>,
    error: Option<&RunError>,
    logs: &[LogEntry],
) -> Result<serde_json::Value, serde_json::Error> {
    serde_json::to_value(Report::new(value, error, logs))
}

/// Writes the result. `value` is the script's final value when it succeeded.
pub fn print(
    format: Format,
    value: Option<&rhai::Dynamic>,
    error: Option<&RunError>,
    logs: &[LogEntry],
) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    // A closed stdout (e.g. piped into `head`) is not worth a panic; the exit code still
    // reports the run.
    let _ = match format {
        Format::Json | Format::PrettyJson => {
            let report = Report::new(value, error, logs);
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
            if let Some(e) = error {
                let _ = writeln!(err, "{}: {}", e.error_type, e.message);
            }
            match value {
                Some(v) if !v.is_unit() => writeln!(out, "{}", human_text(v)),
                _ => Ok(()),
            }
        }
    };
}
