//! `tollgate run`: validate everything, then run the script.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use clap::Args;
use sha2::{Digest, Sha256};
use tollgate_audit::{AuditLog, Event, SyncMode};
use tollgate_host::redact::{Counts, Redactor};
use tollgate_host::{Host, Interrupt};
use tollgate_policy::{Gate, Policies, PolicyError, SCHEMA_SOURCE};
use tollgate_script::{ErrorType, Limits, RunError};

use crate::audit::GateRecorder;
use crate::config::HostConfig;
use crate::exit;
use crate::output::{self, Format};

#[derive(Args)]
pub struct RunArgs {
    /// The Rhai script to run, or `-` to read it from standard input.
    script: String,
    /// The host owner's Cedar policy file. Validated against the schema before the run.
    #[arg(long, short = 'p')]
    policy: PathBuf,
    /// Script arguments in typed JSON (`{"name": {"stringValue": "x"}}`).
    #[arg(long, short = 'a')]
    args: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    output: Format,
    /// Wall-clock limit for the script, e.g. `30s`, `2m`.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Limit on the process's live heap while the script runs, e.g. `256MiB`.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    max_memory: usize,
    /// Limit on Rhai operations.
    #[arg(long, default_value_t = Limits::default().max_operations)]
    max_operations: u64,
    /// Limit on the size of the output (result and logs), e.g. `16MiB`.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    max_output: usize,
    /// Limit on the size of one string (and of a file read into one), e.g. `16MiB`.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    max_string_size: usize,
    /// Limit on the number of elements in one array (and items one command returns).
    #[arg(long, default_value_t = Limits::default().max_array_size)]
    max_array_size: usize,
    /// Limit on the number of entries in one map.
    #[arg(long, default_value_t = Limits::default().max_map_size)]
    max_map_size: usize,
    /// Limit on nested function calls.
    #[arg(long, default_value_t = Limits::default().max_call_depth)]
    max_call_depth: usize,
    /// Limit on the nesting of one expression.
    #[arg(long, default_value_t = Limits::default().max_expr_depth)]
    max_expr_depth: usize,
    /// The audit log directory. Default: $TOLLGATE_AUDIT_LOG, else `audit_log` in the config
    /// file ($TOLLGATE_CONFIG or /etc/tollgate/config.json), else /var/log/tollgate/audit
    /// (root) or ~/.local/state/tollgate/audit. Created with a new signing key if missing.
    #[arg(long, value_name = "DIR")]
    audit_log: Option<PathBuf>,
    /// The host owner's config file (audit log, redaction rules). Default: $TOLLGATE_CONFIG,
    /// else /etc/tollgate/config.json if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run without an audit trail.
    #[arg(long, conflicts_with = "audit_log")]
    no_audit: bool,
    /// When records reach the disk: per batch (at checkpoints and the end of the run) or
    /// after every record.
    #[arg(long, value_enum, default_value = "batch")]
    audit_sync: AuditSync,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditSync {
    Batch,
    Every,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 500ms, 2m)"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let bytes = bytesize::ByteSize::from_str(s).map_err(|e| format!("{e} (e.g. 256MiB)"))?;
    usize::try_from(bytes.as_u64()).map_err(|_| format!("{s} is too large"))
}

impl RunArgs {
    fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_memory: self.max_memory,
            max_operations: self.max_operations,
            max_string_size: self.max_string_size,
            max_array_size: self.max_array_size,
            max_map_size: self.max_map_size,
            max_call_depth: self.max_call_depth,
            max_expr_depth: self.max_expr_depth,
            max_output: self.max_output,
        }
    }
}

pub fn main(args: RunArgs) -> ExitCode {
    let started = Instant::now();
    let limits = args.limits();
    let no_redactions = BTreeMap::new();
    let Prepared {
        host,
        script,
        scope,
        audit,
        output_redactor,
    } = match prepare(&args, &limits) {
        Ok(p) => p,
        Err(e) => {
            output::print(args.output, None, Some(&e), &[], &no_redactions);
            return exit::exit_code(Some(e.error_type));
        }
    };
    let outcome = tollgate_script::run(host, &script, scope, limits);
    let mut error = outcome.error;
    let mut logs = outcome.logs;
    let mut redactions = outcome.redactions;
    let mut rendered = match (&error, &outcome.value) {
        (None, Some(v)) => output::render(args.output, v),
        _ => None,
    };
    if let Some(redactor) = &output_redactor {
        // Everything the run prints, so that a script cannot build a secret (or read it
        // through a permitted raw read) and hand it out in its value, a log line or an error.
        let mut counts = Counts::new();
        let texts = rendered
            .iter_mut()
            .chain(logs.iter_mut().map(|l| &mut l.message))
            .chain(error.iter_mut().map(|e| &mut e.message));
        for text in texts {
            let (redacted, found) = redactor.redact_text(text);
            *text = redacted;
            for (name, n) in found {
                *counts.entry(name).or_default() += n;
            }
        }
        redactions.insert(OUTPUT_KEY.to_owned(), counts);
    }
    if let Some(audit) = audit {
        let end = Event::RunEnd {
            status: if error.is_some() { "ERROR" } else { "SUCCESS" }.to_owned(),
            error_type: error.as_ref().map(|e| e.error_type.to_string()),
            duration_ms: started.elapsed().as_millis() as u64,
            permits: outcome.decisions.permits,
            denies: outcome.decisions.denies,
            redactions: (!redactions.is_empty())
                .then(|| serde_json::to_value(&redactions).ok())
                .flatten(),
        };
        let recorded = audit
            .log
            .append(&audit.run, end)
            .and_then(|_| audit.log.checkpoint());
        if let Err(e) = recorded {
            let msg = format!("the run's end could not be written to the audit log: {e}");
            error.get_or_insert(RunError::new(ErrorType::Internal, msg));
        }
    }
    if error.is_some() {
        rendered = None;
    }
    output::print(
        args.output,
        rendered.as_deref(),
        error.as_ref(),
        &logs,
        &redactions,
    );
    exit::exit_code(error.map(|e| e.error_type))
}

/// The key of the run's own output in the `redactions` maps; file keys are absolute paths, so
/// it cannot be taken by a file.
const OUTPUT_KEY: &str = "output";

/// What [`prepare`] makes ready.
struct Prepared {
    host: Host,
    script: String,
    scope: rhai::Scope<'static>,
    audit: Option<GateRecorder>,
    /// Set when the host config asks for the whole output to be redacted.
    output_redactor: Option<Redactor>,
}

/// Everything that must succeed before the script may start: the script text, the host
/// config and its redaction rules, the arguments, the policy, the principal, the audit log
/// and the root descriptor.
fn prepare(args: &RunArgs, limits: &Limits) -> Result<Prepared, RunError> {
    let invalid = |msg: String| RunError::new(ErrorType::Validation, msg);
    let script = read_script(&args.script, limits.max_string_size).map_err(invalid)?;
    let config = crate::config::load(args.config.as_deref())
        .map_err(|e| invalid(format!("the host config is invalid, so nothing ran: {e}")))?;
    let redactor = config
        .redaction
        .redactor()
        .map_err(|e| invalid(format!("the host config is invalid, so nothing ran: {e}")))?;
    let (scope, args_text) = match &args.args {
        Some(path) => {
            let text = read_bounded(path, limits.max_string_size).map_err(invalid)?;
            (tollgate_script::parse_args(&text)?, text)
        }
        None => (rhai::Scope::new(), String::new()),
    };
    let (schema, policies) = Policies::load_with_schema(&args.policy).map_err(|e| match e {
        PolicyError::Schema(_) => RunError::new(ErrorType::Internal, e.to_string()),
        _ => invalid(format!("the policy is invalid, so nothing ran:\n{e}")),
    })?;
    let user = current_user().map_err(|e| RunError::new(ErrorType::Internal, e))?;
    let mut gate = Gate::new(schema, policies, &user);
    let mut audit = None;
    if !args.no_audit {
        let recorder = start_audit(args, &config, limits, &script, &args_text, &gate)?;
        audit = Some(recorder.clone());
        gate = gate.with_log(Box::new(recorder));
    }
    let host = Host::new(gate, limits.host(), Interrupt::new())
        .map_err(|e| RunError::new(ErrorType::Internal, e.to_string()))?
        .with_redactor(redactor.clone());
    Ok(Prepared {
        host,
        script,
        scope,
        audit,
        output_redactor: config.redaction.redact_output.then_some(redactor),
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Opens (creating if needed) the audit log and records the run's start. Any failure means
/// the run does not start.
fn start_audit(
    args: &RunArgs,
    config: &HostConfig,
    limits: &Limits,
    script: &str,
    args_text: &str,
    gate: &Gate,
) -> Result<GateRecorder, RunError> {
    let fail = |msg: String| {
        RunError::new(
            ErrorType::AccessDenied,
            format!("the audit log is not available, so nothing ran: {msg}"),
        )
    };
    let dir = match &args.audit_log {
        Some(d) => d.clone(),
        None => crate::audit::default_dir(config).map_err(fail)?,
    };
    tollgate_audit::init(&dir, &Default::default()).map_err(|e| fail(e.to_string()))?;
    let sync = match args.audit_sync {
        AuditSync::Batch => SyncMode::Batch,
        AuditSync::Every => SyncMode::Every,
    };
    let log = AuditLog::open(&dir, sync).map_err(|e| fail(e.to_string()))?;
    let run = crate::audit::new_run_id();
    let start = Event::RunStart {
        principal: gate.principal().to_owned(),
        script_sha256: sha256_hex(script.as_bytes()),
        policy_sha256: sha256_hex(gate.policies().text().as_bytes()),
        schema_version: format!("sha256:{}", &sha256_hex(SCHEMA_SOURCE.as_bytes())[..16]),
        args_sha256: sha256_hex(args_text.as_bytes()),
        limits: serde_json::json!({
            "timeout_ms": limits.timeout.as_millis() as u64,
            "max_memory": limits.max_memory,
            "max_operations": limits.max_operations,
            "max_output": limits.max_output,
            "max_string_size": limits.max_string_size,
            "max_array_size": limits.max_array_size,
            "max_map_size": limits.max_map_size,
            "max_call_depth": limits.max_call_depth,
            "max_expr_depth": limits.max_expr_depth,
        }),
        tollgate_version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    log.append(&run, start).map_err(|e| fail(e.to_string()))?;
    Ok(GateRecorder { log, run })
}

fn read_script(source: &str, max: usize) -> Result<String, String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(max as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the script from standard input: {e}"))?;
        if text.len() > max {
            return Err(format!("the script is larger than {max} bytes"));
        }
        return Ok(text);
    }
    read_bounded(Path::new(source), max)
}

fn read_bounded(path: &Path, max: usize) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(max as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(text)
}

/// The passwd name of the effective uid: the principal, as in Rex.
fn current_user() -> Result<String, String> {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Ok(user.name),
        Ok(None) => Err(format!(
            "uid {uid} has no passwd entry, so the principal cannot be named; add one"
        )),
        Err(e) => Err(format!("cannot look up uid {uid}: {e}")),
    }
}
