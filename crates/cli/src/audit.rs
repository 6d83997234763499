//! `tollgate audit ...` and where the audit log lives. (The adapter that lets the gate write
//! its decisions into the log is the audit crate's `GateRecorder`.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand, ValueEnum};
use tollgate_audit::{Event, Proof, Record};

use crate::config::HostConfig;
use crate::printable;

/// Where `tollgate run` audits when `--audit-log` is not given: `$TOLLGATE_AUDIT_LOG`, else
/// `audit_log` in the host config, else `/var/log/tollgate/audit` for root and
/// `~/.local/state/tollgate/audit` for others.
pub fn default_dir(config: &HostConfig) -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TOLLGATE_AUDIT_LOG") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = &config.audit_log {
        return Ok(dir.clone());
    }
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from("/var/log/tollgate/audit"));
    }
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .ok_or("neither XDG_STATE_HOME nor HOME is set; pass --audit-log")?;
    Ok(state.join("tollgate/audit"))
}

/// A run id unique on this host: start time and pid.
pub fn new_run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{nanos:x}-{:x}", std::process::id())
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Create the log and the host's signing key (mode 0600).
    Init {
        #[command(flatten)]
        dir: DirArg,
        /// Keep the signing key at this path (created if missing), e.g. outside the
        /// directories the runtime's policy can reach.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Start a new segment once one grows past this size, e.g. `64MiB`.
        #[arg(long, default_value = "64MiB", value_parser = parse_size)]
        segment_size: u64,
        /// Write a signed checkpoint every this many records (and at the end of every run).
        #[arg(long, default_value_t = 4096)]
        checkpoint_every: u64,
    },
    /// Recompute the tree and check every record and checkpoint; names the first bad one.
    Verify {
        #[command(flatten)]
        dir: DirArg,
        /// A checkpoint saved earlier, elsewhere: detects a rollback to an older state.
        #[arg(long)]
        trusted: Option<PathBuf>,
        /// The verifier key to trust instead of the log's own `verifier.vkey`.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print an inclusion proof for record SEQ against the newest checkpoint.
    Prove {
        /// The record's sequence number (`seq` in `audit show --output json`).
        seq: u64,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Print a consistency proof from the first OLD_SIZE records to the newest checkpoint.
    Consistency {
        /// The size (record count) of the older checkpoint you kept.
        old_size: u64,
        #[command(flatten)]
        dir: DirArg,
    },
    /// Check a proof (from `prove` or `consistency`) with only the verifier key.
    CheckProof {
        /// The proof file, or `-` for standard input.
        proof: PathBuf,
        /// The verifier key (`verifier.vkey`).
        #[arg(long)]
        key: PathBuf,
        /// For a consistency proof: the older checkpoint you kept.
        #[arg(long)]
        old: Option<PathBuf>,
    },
    /// List records, filtered.
    Show(ShowArgs),
    /// Where data went once a run read it (`PATH`), or where the data that reached a sink
    /// came from (`--to SINK`), across the logs given.
    Lineage(crate::lineage::LineageArgs),
    /// Sum up what the candidate policies of shadow runs (`run --shadow`) would have
    /// changed: by candidate, each kind of request it would deny or permit otherwise.
    ShadowReport {
        #[command(flatten)]
        dir: DirArg,
        /// `human` or `json`.
        #[arg(long, value_enum, default_value = "human")]
        output: ShowFormat,
    },
    /// Export records for a SIEM.
    Export {
        #[command(flatten)]
        dir: DirArg,
        /// `jsonl` (one record a line, as stored) or `syslog` (RFC 5424).
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ExportFormat,
        /// Keep running and print new records as they are appended.
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Args)]
pub struct DirArg {
    /// The audit log directory, as on `run` and `mcp` (`--dir` is the older name; default:
    /// see `tollgate run --help`).
    #[arg(long = "audit-log", visible_alias = "dir", value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl DirArg {
    fn resolve(&self) -> Result<PathBuf, String> {
        match &self.dir {
            Some(d) => Ok(d.clone()),
            None => default_dir(&crate::config::load(None)?),
        }
    }
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    dir: DirArg,
    /// Only the records of this run (its id, as `tollgate runs` and `run_start` give it).
    #[arg(long)]
    run: Option<String>,
    /// Only the records of this principal, e.g. `User::"root"` or `Agent::"ops-bot"`.
    #[arg(long)]
    principal: Option<String>,
    /// The human a delegated run acted for, e.g. `alice` or `User::"alice"`.
    #[arg(long)]
    on_behalf_of: Option<String>,
    /// The purpose a delegated run stated, e.g. `incident-response`.
    #[arg(long)]
    purpose: Option<String>,
    /// e.g. `read` or `file_system::Action::"read"`.
    #[arg(long)]
    action: Option<String>,
    /// A resource id, e.g. a path.
    #[arg(long)]
    resource: Option<String>,
    /// Only the decisions that came out so.
    #[arg(long, value_enum)]
    decision: Option<DecisionFilter>,
    /// RFC 3339 time, inclusive.
    #[arg(long)]
    since: Option<String>,
    /// RFC 3339 time, exclusive.
    #[arg(long)]
    until: Option<String>,
    /// `human` (one line a record) or `json` (the records as stored, one a line).
    #[arg(long, value_enum, default_value = "human")]
    output: ShowFormat,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum DecisionFilter {
    Permit,
    Deny,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    Json,
    Human,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Syslog,
}

pub fn main(cmd: AuditCommand) -> ExitCode {
    match execute(cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate audit: {}", printable::line(&e));
            ExitCode::from(1)
        }
    }
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{e} (e.g. 64MiB)"))
}

fn read_text(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).map_err(|e| e.to_string())?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn verifier_from(path: &Path) -> Result<tollgate_audit::checkpoint::Verifier, String> {
    tollgate_audit::checkpoint::Verifier::from_vkey(read_text(path)?.trim())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn execute(cmd: AuditCommand) -> Result<(), String> {
    let s = |e: tollgate_audit::AuditError| e.to_string();
    match cmd {
        AuditCommand::Lineage(args) => {
            let text = crate::lineage::main(args)?;
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
        AuditCommand::ShadowReport { dir, output } => {
            let report = crate::shadow::report(&dir.resolve()?)?;
            match output {
                ShowFormat::Human => print!("{}", crate::shadow::human(&report)),
                ShowFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                ),
            }
        }
        AuditCommand::Init {
            dir,
            key,
            segment_size,
            checkpoint_every,
        } => {
            let dir = dir.resolve()?;
            let options = tollgate_audit::InitOptions {
                key,
                // Asked for by name: a key left from a log that was here may sign the new one.
                adopt_key: true,
                segment_bytes: segment_size,
                checkpoint_every,
            };
            let config = tollgate_audit::init(&dir, &options).map_err(s)?;
            println!(
                "audit log ready at {} (origin {}, signing key {})",
                dir.display(),
                config.origin,
                config.key.display()
            );
        }
        AuditCommand::Verify { dir, trusted, key } => {
            let dir = dir.resolve()?;
            let verifier = match key {
                Some(k) => verifier_from(&k)?,
                None => tollgate_audit::read_verifier(&dir).map_err(s)?,
            };
            let trusted = trusted.map(|p| read_text(&p)).transpose()?;
            let report = tollgate_audit::verify(&dir, &verifier, trusted.as_deref()).map_err(s)?;
            println!(
                "ok: {} records, {} checkpoints verified{}",
                report.records,
                report.checkpoints,
                if report.unsigned_tail > 0 {
                    format!(
                        "; the last {} records are not yet under a checkpoint",
                        report.unsigned_tail
                    )
                } else {
                    String::new()
                }
            );
        }
        AuditCommand::Prove { seq, dir } => {
            let dir = dir.resolve()?;
            let verifier = tollgate_audit::read_verifier(&dir).map_err(s)?;
            let proof = tollgate_audit::prove(&dir, &verifier, seq).map_err(s)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&proof).map_err(|e| e.to_string())?
            );
        }
        AuditCommand::Consistency { old_size, dir } => {
            let dir = dir.resolve()?;
            let verifier = tollgate_audit::read_verifier(&dir).map_err(s)?;
            let proof = tollgate_audit::consistency(&dir, &verifier, old_size).map_err(s)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&proof).map_err(|e| e.to_string())?
            );
        }
        AuditCommand::CheckProof { proof, key, old } => {
            let verifier = verifier_from(&key)?;
            let proof: Proof = serde_json::from_str(&read_text(&proof)?)
                .map_err(|e| format!("not a proof document: {e}"))?;
            let old = old.map(|p| read_text(&p)).transpose()?;
            let cp = tollgate_audit::check_proof(&proof, &verifier, old.as_deref())?;
            println!(
                "ok: proof holds against checkpoint {} at {} records",
                cp.origin, cp.size
            );
        }
        AuditCommand::Show(args) => show(args)?,
        AuditCommand::Export {
            dir,
            format,
            follow,
        } => export(&dir.resolve()?, format, follow)?,
    }
    Ok(())
}

fn show(args: ShowArgs) -> Result<(), String> {
    let dir = args.dir.resolve()?;
    let since = args.since.as_deref().map(parse_time).transpose()?;
    let until = args.until.as_deref().map(parse_time).transpose()?;
    let mut out = std::io::stdout().lock();
    tollgate_audit::scan(&dir, |rec| {
        let r = &rec.record;
        if !matches(&args, r, since, until) {
            return Ok(());
        }
        let line = match args.output {
            ShowFormat::Json => rec.line.to_owned(),
            ShowFormat::Human => human(r),
        };
        // A closed stdout ends the listing quietly.
        let _ = writeln!(out, "{line}");
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    Ok(())
}

fn parse_time(s: &str) -> Result<SystemTime, String> {
    humantime::parse_rfc3339_weak(s).map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))
}

/// Whether a record passes `show`'s filters. The action, resource and decision filters keep
/// only decisions; the principal filter keeps decisions and run starts of that principal.
fn matches(a: &ShowArgs, r: &Record, since: Option<SystemTime>, until: Option<SystemTime>) -> bool {
    if a.run.as_ref().is_some_and(|run| &r.run != run) {
        return false;
    }
    if since.is_some() || until.is_some() {
        let Ok(t) = humantime::parse_rfc3339_weak(&r.time) else {
            return false;
        };
        if since.is_some_and(|s| t < s) || until.is_some_and(|u| t >= u) {
            return false;
        }
    }
    let same_principal = |p: &String| {
        a.principal.as_ref().is_none_or(|want| {
            p == want || *p == format!("User::\"{want}\"") || *p == format!("Agent::\"{want}\"")
        })
    };
    // The on-behalf-of and purpose filters keep the records that carry them: run starts,
    // refusals and decisions of delegated runs.
    let (on_behalf_of, purpose) = match &r.event {
        Event::Decision {
            on_behalf_of,
            purpose,
            ..
        }
        | Event::RunStart {
            on_behalf_of,
            purpose,
            ..
        }
        | Event::RunRefused {
            on_behalf_of,
            purpose,
            ..
        } => (on_behalf_of.as_ref(), purpose.as_ref()),
        _ => (None, None),
    };
    let for_whom = |want: &String| {
        on_behalf_of.is_some_and(|p| p == want || *p == format!("User::\"{want}\""))
    };
    let why = |want: &String| purpose.is_some_and(|p| p == want);
    if !a.on_behalf_of.as_ref().is_none_or(for_whom) || !a.purpose.as_ref().is_none_or(why) {
        return false;
    }
    match &r.event {
        Event::Decision {
            principal,
            action,
            resource_id,
            decision,
            ..
        } => {
            same_principal(principal)
                && a.action
                    .as_ref()
                    .is_none_or(|want| action == want || action.ends_with(&format!("::\"{want}\"")))
                && a.resource.as_ref().is_none_or(|res| resource_id == res)
                && a.decision.is_none_or(|d| {
                    decision
                        == match d {
                            DecisionFilter::Permit => "permit",
                            DecisionFilter::Deny => "deny",
                        }
                })
        }
        _ if a.action.is_some() || a.resource.is_some() || a.decision.is_some() => false,
        Event::RunStart { principal, .. } | Event::RunRefused { principal, .. } => {
            same_principal(principal)
        }
        _ => a.principal.is_none(),
    }
}

/// A decision's data labels in a few words, e.g. ` [confidential pii legal-hold]`.
fn labels_text(labels: &serde_json::Value) -> String {
    let mut words: Vec<String> = Vec::new();
    if let Some(c) = labels["classification"].as_str() {
        words.push(c.to_owned());
    }
    if let Some(cats) = labels["categories"].as_array() {
        words.extend(cats.iter().filter_map(|c| c.as_str()).map(str::to_owned));
    }
    if let Some(j) = labels["jurisdiction"].as_str() {
        words.push(format!("jurisdiction={j}"));
    }
    if labels["legal_hold"].as_bool() == Some(true) {
        words.push("legal-hold".to_owned());
    }
    format!(" [{}]", words.join(" "))
}

fn human(r: &Record) -> String {
    let what = match &r.event {
        Event::Decision {
            principal,
            action,
            resource_type,
            resource_id,
            decision,
            policies,
            probe,
            labels,
            call,
            target,
            ..
        } => format!(
            "{decision:<6} {principal} {action} {resource_type}::{resource_id:?}{}{}{}{}{}",
            // What the script called, and on what, e.g. ` in cat of file_system::File::"/x/b"`.
            call.as_ref()
                .map(|c| format!(" in {c}"))
                .unwrap_or_default(),
            target
                .as_ref()
                .map(|t| format!(" of {t}"))
                .unwrap_or_default(),
            if policies.is_empty() {
                String::new()
            } else {
                format!(" by {}", policies.join(", "))
            },
            labels.as_ref().map(labels_text).unwrap_or_default(),
            if *probe { " (probe)" } else { "" }
        ),
        Event::RunStart {
            principal,
            script_sha256,
            ..
        } => format!(
            "start  {principal} script {}",
            &script_sha256[..script_sha256.len().min(16)]
        ),
        Event::RunRefused {
            principal,
            error_type,
            message,
            ..
        } => format!("refuse {principal} {error_type}: {message}"),
        Event::RunEnd {
            status,
            error_type,
            duration_ms,
            permits,
            denies,
            ended_by,
            ..
        } => format!(
            "end    {status}{} after {duration_ms} ms, {permits} permits, {denies} denies{}",
            error_type
                .as_ref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            ended_by
                .as_ref()
                .map(|e| format!(", {e}"))
                .unwrap_or_default()
        ),
        Event::Control {
            principal,
            action,
            target,
            ..
        } => format!(
            "{action:<6} by {principal}{}",
            target
                .as_ref()
                .map(|t| format!(" run {t}"))
                .unwrap_or_default()
        ),
        Event::Proposal {
            principal,
            action,
            proposal,
            reason,
            ..
        } => format!(
            "{action:<6} proposal {proposal} by {principal}{}",
            reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        Event::Repair { torn_bytes, .. } => {
            format!("repair cut off a torn line of {torn_bytes} bytes")
        }
        Event::Rotate { next } => format!("rotate continued in {next}"),
    };
    // Every field may hold what a script, a file, a token or a principal put there: the line
    // is escaped whole, so that none of them moves the terminal or starts a record of its own.
    printable::line(&format!("{:>6} {} {} {}", r.seq, r.time, r.run, what)).into_owned()
}

/// RFC 5424: facility 13 (log audit), severity 6 (info) for permits and 4 (warning) for
/// denies; the record itself is the message. The host and run fields are read from the record,
/// so they are escaped: a newline in one would end the syslog line and forge the next.
fn syslog_line(r: &Record, line: &str) -> String {
    let severity = match &r.event {
        Event::Decision { decision, .. } if decision == "deny" => 4,
        Event::RunRefused { .. } | Event::Control { .. } => 4,
        _ => 6,
    };
    let kind = match &r.event {
        Event::Decision { .. } => "decision",
        Event::RunStart { .. } => "run_start",
        Event::RunRefused { .. } => "run_refused",
        Event::Control { .. } => "control",
        Event::RunEnd { .. } => "run_end",
        Event::Proposal { .. } => "proposal",
        Event::Repair { .. } => "repair",
        Event::Rotate { .. } => "rotate",
    };
    format!(
        "<{}>1 {} {} tollgate {} {} [tollgate@32473 seq=\"{}\" run=\"{}\"] {}",
        13 * 8 + severity,
        printable::line(&r.time),
        printable::line(&r.host),
        std::process::id(),
        kind,
        r.seq,
        sd_value(&r.run),
        line
    )
}

/// A structured-data parameter value of RFC 5424: `"`, `\\` and `]` escaped with a backslash,
/// control characters as [`printable::line`] spells them.
fn sd_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in printable::line(s).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn export(dir: &Path, format: ExportFormat, follow: bool) -> Result<(), String> {
    let mut printed = 0u64;
    loop {
        let mut out = std::io::stdout().lock();
        let mut broken = false;
        tollgate_audit::scan(dir, |rec| {
            if rec.index >= printed && !broken {
                let text = match format {
                    ExportFormat::Jsonl => rec.line.to_owned(),
                    ExportFormat::Syslog => syslog_line(&rec.record, rec.line),
                };
                broken = writeln!(out, "{text}").is_err();
                printed = rec.index + 1;
            }
            Ok(())
        })
        .map_err(|e| e.to_string())?;
        let _ = out.flush();
        if !follow || broken {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
