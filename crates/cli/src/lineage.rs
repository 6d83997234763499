//! `tollgate audit lineage`: where data went once a run read it, from the audit trail.
//!
//! A sink's decision record (a write, a URL, a command, a service, the run's answer) in a run
//! that had read labelled data carries `sources`: the labelled paths read so far. Each source
//! and sink is a flow, permitted or denied. `lineage PATH` lists the flows out of PATH (or out
//! of anything below it, for a directory), `--to SINK` the flows into SINK, across every log
//! given (one per host).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::printable;

/// One flow: data read from `source` may have gone to `sink`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Flow {
    pub source: String,
    /// The source's labels as recorded.
    #[serde(skip)]
    pub labels: String,
    /// The SHA-256 of the source's content as the run read it (none for a directory or a
    /// file over the hash limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The sink's uid, e.g. `network::url::"https://api.example.com/x"`.
    pub sink: String,
    pub action: String,
    /// `permit` or `deny`: whether the data could go there.
    pub decision: String,
    pub redacted: bool,
    pub host: String,
    pub run: String,
    pub seq: u64,
    pub time: String,
}

#[derive(clap::Args)]
pub struct LineageArgs {
    /// Where data read from this path (or below it) went; with --to, give a sink instead.
    #[arg(required_unless_present = "to")]
    path: Option<String>,
    /// Where data that reached this sink came from: a path, a URL, a command's path, or
    /// `output` for runs' answers (a uid such as `network::url::"..."` also works).
    #[arg(long, value_name = "SINK")]
    to: Option<String>,
    /// An audit log to read (repeatable: one per host). Default: see `tollgate run --help`.
    #[arg(long = "audit-log", value_name = "DIR")]
    audit_logs: Vec<PathBuf>,
    /// `human`, `json`, or `dot` (a Graphviz graph: `dot -Tsvg`).
    #[arg(long, value_enum, default_value = "human")]
    output: LineageFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LineageFormat {
    Human,
    Json,
    Dot,
}

/// `tollgate audit lineage`.
pub fn main(args: LineageArgs) -> Result<String, String> {
    let logs = if args.audit_logs.is_empty() {
        vec![crate::audit::default_dir(&crate::config::load(None)?)?]
    } else {
        args.audit_logs.clone()
    };
    let mut flows = Vec::new();
    for dir in &logs {
        flows.extend(
            flows_in(dir, args.path.as_deref(), args.to.as_deref())
                .map_err(|e| format!("{}: {e}", dir.display()))?,
        );
    }
    Ok(match args.output {
        LineageFormat::Human => human(&flows),
        // Compact: a million flows are read by a program, not a person.
        LineageFormat::Json => {
            #[derive(Serialize)]
            struct Flows<'a> {
                flows: &'a [Flow],
            }
            serde_json::to_string(&Flows { flows: &flows }).map_err(|e| e.to_string())?
        }
        LineageFormat::Dot => dot(&flows),
    })
}

/// A sink's decision record, as much of it as a flow needs, borrowed from the line.
#[derive(serde::Deserialize)]
struct SinkLine<'a> {
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    action: Cow<'a, str>,
    #[serde(borrow, default)]
    resource_type: Cow<'a, str>,
    #[serde(borrow, default)]
    resource_id: Cow<'a, str>,
    #[serde(borrow, default)]
    decision: Cow<'a, str>,
    #[serde(borrow, default)]
    host: Cow<'a, str>,
    #[serde(borrow, default)]
    run: Cow<'a, str>,
    #[serde(borrow, default)]
    time: Cow<'a, str>,
    #[serde(borrow, default)]
    sources: Vec<SourceLine<'a>>,
}

#[derive(serde::Deserialize)]
struct SourceLine<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(borrow)]
    labels: &'a serde_json::value::RawValue,
    #[serde(default)]
    redacted: bool,
    #[serde(borrow, default)]
    sha256: Option<Cow<'a, str>>,
}

/// The flows of the log `dir` out of `from` and into `to` (either may be absent).
pub fn flows_in(
    dir: &std::path::Path,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<Flow>, String> {
    let mut flows = Vec::new();
    // Only a sink's record names sources, and only one whose sources hold `from` (as JSON
    // writes it) can be a flow out of it: the other lines are checked, not decoded.
    let needle = match from {
        Some(f) => serde_json::to_string(f.trim_end_matches('/'))
            .map(|q| q.trim_end_matches('"').to_owned())
            .unwrap_or_default(),
        None => "\"sources\"".to_owned(),
    };
    tollgate_audit::scan_lines_containing(dir, &needle, |seq, line| {
        let r: SinkLine<'_> =
            serde_json::from_str(line).map_err(|e| tollgate_audit::AuditError::Corrupt {
                path: dir.display().to_string(),
                message: format!("record {seq}: {e}"),
            })?;
        if r.kind != "decision" || r.sources.is_empty() {
            return Ok(());
        }
        let sink = format!("{}::\"{}\"", r.resource_type, r.resource_id.escape_debug());
        if to.is_some_and(|t| !sink_matches(t, &r.resource_type, &r.resource_id, &sink)) {
            return Ok(());
        }
        for s in &r.sources {
            if from.is_some_and(|f| !under(&s.path, f)) {
                continue;
            }
            flows.push(Flow {
                source: s.path.clone().into_owned(),
                labels: s.labels.get().to_owned(),
                sha256: s.sha256.as_ref().map(|h| h.clone().into_owned()),
                sink: sink.clone(),
                action: r.action.clone().into_owned(),
                decision: r.decision.clone().into_owned(),
                redacted: s.redacted,
                host: r.host.clone().into_owned(),
                run: r.run.clone().into_owned(),
                seq,
                time: r.time.clone().into_owned(),
            });
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(flows)
}

/// Whether `path` is `prefix` or below it.
fn under(path: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    path == prefix
        || prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Whether a sink named `want` on the command line is this one: its uid, its id (a path,
/// below a directory too, or a URL), or `output` for a run's answer.
fn sink_matches(want: &str, resource_type: &str, id: &str, uid: &str) -> bool {
    want == uid
        || (want == "output" && resource_type == "output::Result")
        || want == id
        || ((resource_type == "file_system::File" || resource_type == "file_system::Dir")
            && under(id, want))
}

fn human(flows: &[Flow]) -> String {
    if flows.is_empty() {
        return "no flows recorded\n".to_owned();
    }
    let mut out = String::new();
    for f in flows {
        let line = format!(
            "{} {} {} run {} seq {}: {}{}{} -> {} {} ({})",
            f.time,
            f.host,
            if f.decision == "permit" {
                "FLOW "
            } else {
                "DENIED"
            },
            f.run,
            f.seq,
            f.source,
            f.sha256
                .as_ref()
                .map(|h| format!(" sha256:{h}"))
                .unwrap_or_default(),
            if f.redacted { " (redacted)" } else { "" },
            f.action,
            f.sink,
            f.labels,
        );
        out.push_str(&printable::line(&line));
        out.push('\n');
    }
    out
}

/// A Graphviz digraph: sources (boxes) to sinks (ellipses), one edge per kind of flow, with
/// its action, decision and count; a denied flow dashed.
fn dot(flows: &[Flow]) -> String {
    use std::collections::BTreeMap;
    let mut edges: BTreeMap<(&str, &str, &str, &str), usize> = BTreeMap::new();
    let mut sources = BTreeSet::new();
    let mut sinks = BTreeSet::new();
    for f in flows {
        *edges
            .entry((&f.source, &f.sink, &f.action, &f.decision))
            .or_default() += 1;
        sources.insert(f.source.as_str());
        sinks.insert(f.sink.as_str());
    }
    // Every name is quoted as DOT reads a string: backslash and double quote escaped, and
    // any control character written as an escape, so no name can end the graph's text.
    let q = |s: &str| {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c.is_control() => out.push_str(&format!("\\\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    };
    let mut out = String::from("digraph lineage {\n  rankdir=LR;\n");
    for s in &sources {
        out.push_str(&format!("  {} [shape=box];\n", q(s)));
    }
    for s in &sinks {
        if !sources.contains(s) {
            out.push_str(&format!("  {} [shape=ellipse];\n", q(s)));
        }
    }
    for ((source, sink, action, decision), n) in &edges {
        let style = if *decision == "permit" {
            ""
        } else {
            ", style=dashed, color=red"
        };
        out.push_str(&format!(
            "  {} -> {} [label={}{style}];\n",
            q(source),
            q(sink),
            q(&format!("{action} {decision} x{n}"))
        ));
    }
    out.push_str("}\n");
    out
}
