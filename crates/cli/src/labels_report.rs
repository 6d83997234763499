//! `tollgate labels report PATH`: what under PATH the labels file says is past its retention
//! or pending erasure, for the host owner to act on (delete it, or close the request).
//!
//! It reads the tree as the one who runs it, not through the gate: it is the owner's look at
//! their own data, as `policy test` is at their policy, and it never opens a file, only
//! describes it. A file's age is its modification time, as a run's gate sees it. Symlinks
//! are not followed (a link's target is reported where it lies), and paths that are not
//! UTF-8, which no policy can name, are counted and skipped.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use tollgate_policy::{AbsPath, LabelRules, Labels};
use tollgate_script::ErrorType;

use crate::config::MAX_HOST_FILE_BYTES;
use crate::exit;
use crate::files::read_bounded;

#[derive(Subcommand)]
pub enum LabelsCommand {
    /// List the files (and directories) under PATH that are past their retention or pending
    /// erasure, with the rule that says so, their age and the request's id.
    Report(ReportArgs),
}

#[derive(Args)]
pub struct ReportArgs {
    /// The file or directory to look under.
    path: PathBuf,
    /// The labels file (default: the one the host config names).
    #[arg(long, conflicts_with = "config")]
    labels: Option<PathBuf>,
    /// The host config whose `labels` to use (default: $TOLLGATE_CONFIG, else
    /// /etc/tollgate/config.json).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn main(cmd: LabelsCommand) -> ExitCode {
    let LabelsCommand::Report(args) = cmd;
    match report(&args) {
        Ok(found) => {
            if args.json {
                println!("{}", found.to_json());
            } else {
                print!("{}", found.to_table());
            }
            for note in &found.notes {
                eprintln!("tollgate: {note}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {e}");
            exit::exit_code(Some(ErrorType::Validation))
        }
    }
}

/// One path the report lists.
struct Finding {
    path: String,
    dir: bool,
    /// When past its retention: the retention, its rule, the modification time.
    expired: Option<(String, usize, SystemTime)>,
    /// (request id, date, rule) when pending.
    erasure: Option<(String, String, usize)>,
}

struct Found {
    findings: Vec<Finding>,
    /// What ages are reckoned against.
    now: SystemTime,
    looked_at: u64,
    notes: Vec<String>,
}

fn report(args: &ReportArgs) -> Result<Found, String> {
    let labels_path = match &args.labels {
        Some(p) => p.clone(),
        None => {
            let config = crate::config::load(args.config.as_deref())?;
            config.labels.ok_or_else(|| {
                let (path, _) = crate::config::location(args.config.as_deref());
                format!(
                    "the host config {} names no labels file; give one with --labels FILE",
                    path.display()
                )
            })?
        }
    };
    let text = read_bounded(&labels_path, MAX_HOST_FILE_BYTES)?;
    let rules = LabelRules::parse(&text).map_err(|e| format!("{}: {e}", labels_path.display()))?;
    // Labels are by the path a run's gate reaches the data at: the real one.
    let root =
        std::fs::canonicalize(&args.path).map_err(|e| format!("{}: {e}", args.path.display()))?;
    let now = SystemTime::now();
    let mut found = Found {
        findings: Vec::new(),
        now,
        looked_at: 0,
        notes: Vec::new(),
    };
    let mut skipped = 0u64;
    let mut todo = vec![root];
    while let Some(path) = todo.pop() {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                found.notes.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        if meta.file_type().is_symlink() {
            continue;
        }
        let Some(abs) = path.to_str().and_then(|p| AbsPath::parse(p).ok()) else {
            skipped += 1;
            continue;
        };
        found.looked_at += 1;
        if meta.is_dir() {
            match std::fs::read_dir(&path) {
                Ok(entries) => todo.extend(entries.flatten().map(|e| e.path())),
                Err(e) => found.notes.push(format!("{}: {e}", path.display())),
            }
        } else if !meta.is_file() {
            continue;
        }
        let Some(labels) = rules.labels_of(&abs) else {
            continue;
        };
        let expired = if meta.is_file() {
            meta.modified()
                .ok()
                .and_then(|m| past_retention(&labels, m, now))
        } else {
            None
        };
        let erasure = labels.erasure.as_ref().map(|e| {
            (
                e.id.clone(),
                e.date.clone(),
                labels.erasure_rule().unwrap_or(0),
            )
        });
        if expired.is_some() || erasure.is_some() {
            found.findings.push(Finding {
                path: abs.as_str().to_owned(),
                dir: meta.is_dir(),
                expired,
                erasure,
            });
        }
    }
    if skipped > 0 {
        found.notes.push(format!(
            "{skipped} paths are not UTF-8 and were skipped (no policy or label can name them)"
        ));
    }
    found.findings.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

fn past_retention(
    labels: &Labels,
    modified: SystemTime,
    now: SystemTime,
) -> Option<(String, usize, SystemTime)> {
    labels.expired_at(modified, now).then(|| {
        (
            labels.retention.clone().unwrap_or_default(),
            labels.retention_rule().unwrap_or(0),
            modified,
        )
    })
}

/// An age as people read one: days and hours, or hours and minutes under a day.
fn age(seconds: u64) -> String {
    let (d, h, m) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    if d > 0 {
        format!("{d}d {h}h")
    } else {
        format!("{h}h {m}m")
    }
}

impl Found {
    fn age_seconds(&self, modified: SystemTime) -> u64 {
        self.now.duration_since(modified).map_or(0, |d| d.as_secs())
    }

    fn counts(&self) -> (usize, usize) {
        let expired = self.findings.iter().filter(|f| f.expired.is_some()).count();
        let erasure = self.findings.iter().filter(|f| f.erasure.is_some()).count();
        (expired, erasure)
    }

    fn to_table(&self) -> String {
        let mut out = String::new();
        for f in &self.findings {
            let path = if f.dir {
                format!("{}/", f.path)
            } else {
                f.path.clone()
            };
            if let Some((retention, rule, modified)) = &f.expired {
                out.push_str(&format!(
                    "expired  {path}  age {}, retention {retention} (rule {rule})\n",
                    age(self.age_seconds(*modified))
                ));
            }
            if let Some((id, date, rule)) = &f.erasure {
                out.push_str(&format!(
                    "erasure  {path}  request {id} of {date} (rule {rule})\n"
                ));
            }
        }
        let (expired, erasure) = self.counts();
        out.push_str(&format!(
            "{expired} past retention, {erasure} pending erasure, of {} paths looked at\n",
            self.looked_at
        ));
        out
    }

    fn to_json(&self) -> Value {
        let (expired, erasure) = self.counts();
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                let mut v = json!({"path": f.path, "kind": if f.dir { "dir" } else { "file" }});
                if let Some((retention, rule, modified)) = &f.expired {
                    v["expired"] = json!({
                        "retention": retention,
                        "rule": rule,
                        "modified": humantime::format_rfc3339_seconds(*modified).to_string(),
                        "age_seconds": self.age_seconds(*modified),
                    });
                }
                if let Some((id, date, rule)) = &f.erasure {
                    v["erasure_request"] = json!({"id": id, "date": date, "rule": rule});
                }
                v
            })
            .collect();
        json!({
            "findings": findings,
            "past_retention": expired,
            "pending_erasure": erasure,
            "looked_at": self.looked_at,
        })
    }
}
