//! Printing a run's result: Rex-compatible JSON, pretty JSON, or text for people.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use tollgate_host::redact::Counts;
use tollgate_policy::ShadowDifference;
use tollgate_script::{
    human_text, output_text, plain_value, Alarm, LogEntry, Metric, Reports, RunError,
};

use crate::printable;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Json,
    PrettyJson,
    Human,
    /// The JSON object with `output` as the script's value in JSON (not the text of it) and
    /// the denied call spelled out in `error` (principal, action, resource, reason,
    /// policies): what `tollgate mcp` reads from the runs it starts.
    #[value(hide = true)]
    Agent,
}

#[derive(Serialize)]
struct Report<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a RunError>,
    /// The alarms and metrics the script published (`AlarmBuilder`, `MetricBuilder`), as in
    /// Rex's output.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    alarms: &'a [Alarm],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    metrics: &'a [Metric],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logs: Vec<LogLine<'a>>,
    /// Tollgate's addition: what redaction replaced, per file read redacted and, under
    /// `output`, in the output itself.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    redactions: &'a BTreeMap<String, Counts>,
    /// Tollgate's addition, in a shadow run: each distinct request the candidate policy
    /// would have decided otherwise.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    shadow: &'a [ShadowDifference],
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
        reports: &'a Reports,
    ) -> Self {
        Report {
            output,
            status: if error.is_some() { "ERROR" } else { "SUCCESS" },
            error,
            alarms: &reports.alarms,
            metrics: &reports.metrics,
            logs: logs.iter().map(|l| LogLine { attributes: l }).collect(),
            redactions,
            shadow: &reports.shadow,
        }
    }
}

/// The `--output json` object as a value, with `output` the script's value (as [`render`]
/// gives it for [`Format::Agent`]: JSON text, parsed back here) and a denial's call spelled
/// out under `error`.
pub fn agent_report(
    output: Option<&str>,
    error: Option<&RunError>,
    logs: &[LogEntry],
    redactions: &BTreeMap<String, Counts>,
    reports: &Reports,
) -> serde_json::Value {
    let mut report = match serde_json::to_value(Report::new(
        output, error, logs, redactions, reports,
    )) {
        Ok(r) => r,
        Err(e) => {
            return serde_json::json!({
                "status": "ERROR",
                "error": {"error_type": "INTERNAL_EXCEPTION", "message": format!("cannot encode the result: {e}")},
            })
        }
    };
    // The value's JSON, which redaction (a host owner's pattern over the text) could have
    // left unparseable: then the text, as it is.
    if let Some(text) = output {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
            report["output"] = value;
        }
    }
    let denied = error.and_then(|e| e.denied.as_ref());
    if let (Some(d), Some(fields)) = (denied, report["error"].as_object_mut()) {
        fields.insert("principal".into(), serde_json::json!(d.principal));
        fields.insert("action".into(), serde_json::json!(d.action));
        fields.insert("resource".into(), serde_json::json!(d.resource));
        fields.insert("reason".into(), serde_json::json!(d.reason));
        fields.insert("policies".into(), serde_json::json!(d.policies));
    }
    report
}

/// The final value as `format` shows it: Rex's `output` text for JSON, the value as JSON
/// for an agent (`()` as `null`), readable text for people (nothing for a unit value), its
/// control characters escaped (see [`printable`]).
pub fn render(format: Format, value: &rhai::Dynamic) -> Option<String> {
    match format {
        Format::Json | Format::PrettyJson => Some(output_text(value)),
        // A value serde cannot write (a function pointer) is given as the text Rex's output
        // would have, a JSON string.
        Format::Agent => Some(
            serde_json::to_string(&plain_value(value))
                .unwrap_or_else(|_| serde_json::Value::String(output_text(value)).to_string()),
        ),
        Format::Human => (!value.is_unit()).then(|| {
            printable::text(&human_text(&printable_value(&plain_value(value)))).into_owned()
        }),
    }
}

/// `value` with its strings escaped for people before it is laid out, so that the columns of a
/// table are as wide as the cells print. Keys are one line each; string values keep their
/// newlines, which the layout turns into indented lines. What this does not reach (a value
/// shown through its `to_string`) is escaped with the whole text afterwards.
fn printable_value(value: &rhai::Dynamic) -> rhai::Dynamic {
    use rhai::Dynamic;
    if let Some(map) = value.read_lock::<rhai::Map>() {
        let map = map
            .iter()
            .map(|(k, v)| (printable::line(k).as_ref().into(), printable_value(v)))
            .collect();
        return Dynamic::from_map(map);
    }
    if let Some(arr) = value.read_lock::<rhai::Array>() {
        return Dynamic::from_array(arr.iter().map(printable_value).collect());
    }
    if let Some(s) = value.read_lock::<rhai::ImmutableString>() {
        if let Cow::Owned(escaped) = printable::text(&s) {
            return escaped.into();
        }
    }
    if let Ok(c) = value.as_char() {
        if let Cow::Owned(escaped) = printable::line(c.encode_utf8(&mut [0; 4])) {
            return escaped.into();
        }
    }
    value.clone()
}

/// The text a result prints as: what goes to standard output and what to standard error.
pub fn printed(
    format: Format,
    output: Option<&str>,
    error: Option<&RunError>,
    logs: &[LogEntry],
    redactions: &BTreeMap<String, Counts>,
    reports: &Reports,
) -> (String, String) {
    use std::fmt::Write as _;
    match format {
        Format::Json | Format::PrettyJson => {
            let report = Report::new(output, error, logs, redactions, reports);
            let text = if format == Format::Json {
                serde_json::to_string(&report)
            } else {
                serde_json::to_string_pretty(&report)
            };
            let text = text.unwrap_or_else(|e| format!("{{\"status\":\"ERROR\",\"error\":{{\"error_type\":\"INTERNAL_EXCEPTION\",\"message\":\"cannot encode the result: {e}\"}}}}"));
            (text + "\n", String::new())
        }
        Format::Agent => {
            let report = agent_report(output, error, logs, redactions, reports);
            (report.to_string() + "\n", String::new())
        }
        Format::Human => {
            // Everything from the script, its files or its caller is escaped: a log message
            // is one line, so that it cannot print a line that looks like another log line;
            // an error message may have lines of its own (a policy's errors, one a line),
            // indented beneath the first so that none starts where ours do.
            // Writing to a String cannot fail.
            let mut err = String::new();
            for l in logs {
                let line = l
                    .line_number
                    .map(|n| format!(" line {n}"))
                    .unwrap_or_default();
                let _ = writeln!(err, "[{}{}] {}", l.level, line, printable::line(&l.message));
            }
            for (what, counts) in redactions {
                let found: Vec<String> = counts
                    .iter()
                    .map(|(k, n)| format!("{} {n}", printable::line(k)))
                    .collect();
                let _ = writeln!(
                    err,
                    "[REDACTED] {}: {}",
                    printable::line(what),
                    found.join(", ")
                );
            }
            for m in &reports.metrics {
                let dimensions: Vec<String> = m
                    .metric_dimension
                    .iter()
                    .map(|(k, v)| format!("{}={}", printable::line(k), printable::line(v)))
                    .collect();
                let _ = writeln!(
                    err,
                    "[METRIC] {} = {} {} {}",
                    printable::line(&m.metric_name),
                    m.metric_value,
                    m.metric_unit,
                    dimensions.join(" ")
                );
            }
            for a in &reports.alarms {
                let details = a.alarm_details.as_deref().unwrap_or_default();
                let _ = writeln!(
                    err,
                    "[ALARM] {}: {}",
                    printable::line(&a.alarm_type),
                    printable::line(details)
                );
            }
            for d in &reports.shadow {
                let _ = writeln!(
                    err,
                    "[SHADOW] {}: {} on {} (enforced: {}; candidate: {})",
                    d.change,
                    d.action,
                    printable::line(&d.resource),
                    policies_or_none(&d.enforced_policies),
                    policies_or_none(&d.candidate_policies),
                );
            }
            if let Some(e) = error {
                let message = printable::text(&e.message).replace('\n', "\n  ");
                let _ = writeln!(err, "{}: {message}", e.error_type);
            }
            // Escaped when it was rendered; again here, since it may come from the worker.
            let out = output
                .map(|text| format!("{}\n", printable::text(text)))
                .unwrap_or_default();
            (out, err)
        }
    }
}

/// The policies named, or what an empty list means.
fn policies_or_none(policies: &[String]) -> String {
    if policies.is_empty() {
        "no policy applies".to_owned()
    } else {
        printable::line(&policies.join(", ")).into_owned()
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
    reports: &Reports,
) {
    let (out, err) = printed(format, output, error, logs, redactions, reports);
    // A closed stdout (e.g. piped into `head`) is not worth a panic; the exit code still
    // reports the run.
    let _ = std::io::stderr().lock().write_all(err.as_bytes());
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}
