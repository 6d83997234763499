//! `tollgate run`: validate everything, then run the script.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tollgate_audit::{AuditLog, Delegated, Event, GateRecorder, SyncMode};
use tollgate_host::redact::{Counts, Redactor};
use tollgate_policy::{
    verify_token, Caller, Gate, IdentityError, OwnFiles, Policies, PolicyError, Principal,
    Recorder, Schema, TrustConfig, SCHEMA_SOURCE,
};
use tollgate_script::{ErrorType, Limits, LogEntry, Reports, RunError};

use crate::config::{HostConfig, HostData, MAX_HOST_FILE_BYTES};
use crate::control::{StateDir, Watch};
use crate::exit;
use crate::files::{read_bounded, sha256_hex};
use crate::output::{self, Format};

#[derive(Args)]
pub struct RunArgs {
    /// The Rhai script to run, or `-` to read it from standard input.
    script: String,
    /// Script arguments in typed JSON (`{"name": {"stringValue": "x"}}`).
    #[arg(long, short = 'a')]
    args: Option<PathBuf>,
    /// Take the script arguments, in typed JSON, from $SSH_ORIGINAL_COMMAND: for an OpenSSH
    /// forced command, where the caller's remote command may only carry arguments, never a
    /// flag, a policy or a limit. Unset or blank means no arguments.
    #[arg(long, conflicts_with = "args")]
    args_from_ssh_command: bool,
    /// Read the script and its arguments from standard input as one JSON object
    /// (`{"script": "...", "args": {...}}`): how `tollgate mcp` hands a run to its own
    /// supervisor process.
    #[arg(long, hide = true, conflicts_with_all = ["args", "args_from_ssh_command"])]
    job_from_stdin: bool,
    /// How to print the result.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    output: Format,
    /// After the run, write a least-privilege policy learned from its requests to FILE (and
    /// its `policy test` cases beside it), as `tollgate policy learn --run` would: for a trial
    /// run under a permissive policy. Needs the audit log, which holds the requests.
    #[arg(long, value_name = "FILE", conflicts_with = "job_from_stdin")]
    learn: Option<PathBuf>,
    #[command(flatten)]
    setup: SetupArgs,
}

/// The host owner's side of a run: the policy, the limits and the audit log. `tollgate run`
/// and `tollgate mcp` take the same flags, so a script gets the same treatment either way.
#[derive(Args)]
pub struct SetupArgs {
    /// The host owner's Cedar policy file. Validated against the schema before the run.
    #[arg(long, short = 'p')]
    policy: PathBuf,
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
    /// Run without an audit trail.
    #[arg(long, conflicts_with = "audit_log")]
    no_audit: bool,
    /// When records reach the disk: per batch (at checkpoints and the end of the run) or
    /// after every record.
    #[arg(long, value_enum, default_value = "batch")]
    audit_sync: AuditSync,
    /// The host owner's config file (audit log, redaction rules). Default: $TOLLGATE_CONFIG,
    /// else /etc/tollgate/config.json if it exists.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A delegation token (JWT) the run acts under, or `@FILE` to read it from a file. It is
    /// verified against the JWKS of the host config's `identity` section before anything
    /// runs; the principal becomes `Agent::"<act.sub>"` on behalf of `User::"<sub>"`.
    #[arg(long, value_name = "TOKEN|@FILE")]
    token: Option<String>,
    /// Refuse to run a script whose worker the kernel cannot fully confine (no Landlock or
    /// no seccomp on this host). The host config's `require_sandbox` says the same.
    #[arg(long)]
    require_sandbox: bool,
    /// A candidate Cedar policy decided beside `--policy` for every request, never deciding:
    /// the result's `shadow` and the audit records show where it would deny or permit
    /// otherwise (`tollgate audit shadow-report` sums them up over runs).
    #[arg(long, value_name = "CANDIDATE.cedar")]
    shadow: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AuditSync {
    Batch,
    Every,
}

pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 500ms, 2m)"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let bytes = bytesize::ByteSize::from_str(s).map_err(|e| format!("{e} (e.g. 256MiB)"))?;
    usize::try_from(bytes.as_u64()).map_err(|_| format!("{s} is too large"))
}

impl SetupArgs {
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
    if args.learn.is_some() && args.setup.no_audit {
        let e = RunError::new(
            ErrorType::Validation,
            "--learn reads the run's requests back from its audit log, so it cannot be used with --no-audit; nothing ran".to_owned(),
        );
        output::print(
            args.output,
            None,
            Some(&e),
            &[],
            &BTreeMap::new(),
            &Reports::default(),
        );
        return exit::exit_code(Some(e.error_type));
    }
    let mut audit_dir = None;
    let finished = match Setup::load(&args.setup) {
        Ok(mut setup) => {
            audit_dir.clone_from(&setup.audit_dir);
            let limit = setup.limits.max_string_size;
            let invalid = |msg: String| RunError::new(ErrorType::Validation, msg);
            let inputs = if args.job_from_stdin {
                read_job(limit).map_err(invalid)
            } else {
                read_script(&args.script, limit)
                    .map_err(invalid)
                    .and_then(|script| {
                        let text = match &args.args {
                            Some(path) => Some(read_bounded(path, limit).map_err(invalid)?),
                            None if args.args_from_ssh_command => ssh_command_args(limit)?,
                            None => None,
                        };
                        Ok((script, text))
                    })
            };
            match inputs {
                Ok((script, args_text)) => setup.run(script, args_text.as_deref(), args.output),
                Err(e) => Finished::failed(e),
            }
        }
        Err(e) => Finished::failed(e),
    };
    output::print(
        args.output,
        finished.output.as_deref(),
        finished.error.as_ref(),
        &finished.logs,
        &finished.redactions,
        &finished.reports,
    );
    if let (Some(out), Some(dir), Some(run)) = (&args.learn, &audit_dir, &finished.run) {
        // The run's own result is printed either way; a policy that cannot be learned fails
        // the command, since what was asked for is not there.
        let learned = crate::learn::learn_to_files(
            dir,
            std::slice::from_ref(run),
            false,
            out,
            None,
            false,
            args.setup.config.as_deref(),
        );
        match learned {
            Ok(summary) => eprintln!("tollgate: {}", crate::printable::line(&summary)),
            Err(e) => {
                eprintln!("tollgate: --learn: {}", crate::printable::line(&e));
                return exit::exit_code(Some(
                    finished
                        .error
                        .map_or(ErrorType::Validation, |e| e.error_type),
                ));
            }
        }
    }
    exit::exit_code(finished.error.map(|e| e.error_type))
}

/// Everything fixed before a script is seen: the validated policy, the principal, the limits
/// and where the audit log is. Loading starts no thread, opens no log and reads no key: a run
/// forks its worker from this state (see [`crate::supervisor`]).
pub struct Setup {
    /// The policy as validated at load (or at the last [`Setup::reload_policy`]); every gate
    /// shares its parse.
    policies: (Schema, Policies),
    /// Where the policy file is, for a server to pick up an approved change.
    pub(crate) policy_path: PathBuf,
    pub(crate) caller: Caller,
    /// The host's directory and data labels.
    pub(crate) data: HostData,
    pub limits: Limits,
    /// Where the audit log is (`None` with `--no-audit`), and how it syncs.
    pub(crate) audit_dir: Option<PathBuf>,
    pub(crate) audit_sync: SyncMode,
    /// The log, once this process has opened it (with the signing key).
    audit: Option<Arc<AuditLog>>,
    /// The host config's detectors and rules, for reads the policy permits only redacted.
    pub(crate) redactor: Redactor,
    /// Whether the host config asks for every run's whole output to be redacted.
    pub(crate) redact_output: bool,
    /// The host's kill switch, as this process sees it, once watched.
    watch: Option<Watch>,
    /// Whether a run whose worker the kernel cannot fully confine is refused.
    pub(crate) require_sandbox: bool,
    /// When loading began: start-up counts against `--timeout`.
    pub(crate) begun: Instant,
    /// Tollgate's own files, which every gate keeps from the script.
    own_files: Arc<OwnFiles>,
    /// The candidate policy of a shadow run, validated as the policy is.
    shadow: Option<(Schema, Policies)>,
}

/// How a run ended: the final value as text (when it succeeded), the error, the logs, and
/// what redaction replaced.
pub struct Finished {
    pub output: Option<String>,
    pub error: Option<RunError>,
    pub logs: Vec<LogEntry>,
    pub redactions: BTreeMap<String, Counts>,
    /// The metrics and alarms the script published.
    pub reports: Reports,
    /// The run's id in the audit log, once its start is recorded.
    pub run: Option<String>,
}

impl Finished {
    pub(crate) fn failed(error: RunError) -> Finished {
        Finished {
            output: None,
            error: Some(error),
            logs: Vec::new(),
            redactions: BTreeMap::new(),
            reports: Reports::default(),
            run: None,
        }
    }
}

impl Setup {
    /// Validates the host config and the policy and names the principal. Any failure means
    /// no script runs, and is recorded in the audit log.
    pub fn load(args: &SetupArgs) -> Result<Setup, RunError> {
        let begun = Instant::now();
        let invalid = |e: String| {
            RunError::new(
                ErrorType::Validation,
                format!("the host config is invalid, so nothing ran: {e}"),
            )
        };
        let config = crate::config::load(args.config.as_deref()).map_err(invalid)?;
        let redactor = config.redaction.redactor().map_err(invalid)?;
        let data = HostData::of_config(&config).map_err(invalid)?;
        let user = current_user().map_err(|e| RunError::new(ErrorType::Internal, e))?;
        let audit_dir = if args.no_audit {
            None
        } else {
            Some(match &args.audit_log {
                Some(d) => d.clone(),
                None => crate::audit::default_dir(&config).map_err(audit_unavailable)?,
            })
        };
        let audit_sync = match args.audit_sync {
            AuditSync::Batch => SyncMode::Batch,
            AuditSync::Every => SyncMode::Every,
        };
        // From here on, a refusal is recorded.
        let refused = |caller: &Caller, e: RunError| match audit_dir
            .as_deref()
            .map(|d| open_audit(d, audit_sync))
        {
            Some(Ok(log)) => refuse(Some(&log), caller, e),
            Some(Err(audit)) => RunError::new(
                e.error_type,
                format!(
                    "{}; the refusal could not be recorded either: {}",
                    e.message, audit.message
                ),
            ),
            None => e,
        };
        let os_user = Caller::os_user(&user);
        let caller = caller_of(args, &config, os_user.clone()).map_err(|e| refused(&os_user, e))?;
        // The directory and the token must not disagree on where the user is (issue 16).
        data.directory.check_jurisdiction(&caller).map_err(|e| {
            let e = RunError::new(ErrorType::AccessDenied, format!("{e}, so nothing ran"));
            refused(&caller, e)
        })?;
        let (schema, policies) = Policies::load_for_run(&args.policy)
            .map_err(|e| match e {
                PolicyError::Schema(_) => RunError::new(ErrorType::Internal, e.to_string()),
                _ => RunError::new(
                    ErrorType::Validation,
                    format!("the policy is invalid, so nothing ran:\n{e}"),
                ),
            })
            .map_err(|e| refused(&caller, e))?;
        let shadow = match &args.shadow {
            Some(path) => Some(
                Policies::load_for_run(path)
                    .map_err(|e| {
                        RunError::new(
                            ErrorType::Validation,
                            format!(
                                "the shadow policy {} is invalid, so nothing ran:\n{e}",
                                path.display()
                            ),
                        )
                    })
                    .map_err(|e| refused(&caller, e))?,
            ),
            None => None,
        };
        Ok(Setup {
            policies: (schema, policies),
            policy_path: args.policy.clone(),
            caller,
            data,
            limits: args.limits(),
            audit_dir,
            audit_sync,
            audit: None,
            redactor,
            redact_output: config.redaction.redact_output,
            watch: None,
            require_sandbox: args.require_sandbox || config.require_sandbox,
            begun,
            own_files: Arc::new(crate::own::own_files(
                &args.policy,
                args.audit_log.as_deref(),
                args.config.as_deref(),
                &config,
            )),
            shadow,
        })
    }

    /// Loads the policy file again if it changed since it was loaded (an approved proposal,
    /// the host owner's edit): what a long-running server does before each question, so it
    /// answers under the policy its next run will use. A file that no longer validates is an
    /// error, and the caller denies; the old policy is not kept in its place.
    pub fn reload_policy(&mut self) -> Result<(), RunError> {
        let text = std::fs::read(&self.policy_path).map_err(|e| {
            RunError::new(
                ErrorType::Validation,
                format!("cannot read the policy {}: {e}", self.policy_path.display()),
            )
        })?;
        if sha256_hex(&text) == self.policies.1.sha256_hex() {
            return Ok(());
        }
        let loaded = Policies::load_for_run(&self.policy_path).map_err(|e| {
            RunError::new(
                ErrorType::Validation,
                format!("the policy is invalid, so nothing is permitted:\n{e}"),
            )
        })?;
        loaded
            .1
            .compile()
            .map_err(|e| RunError::new(ErrorType::Validation, e))?;
        self.policies = loaded;
        Ok(())
    }

    /// Keeps `path` from every script too, as one of Tollgate's own files (a file the
    /// server's own flags name, such as its invariants).
    pub fn protect(&mut self, path: &Path, what: &str) {
        let own = Arc::make_mut(&mut self.own_files);
        for p in [
            std::path::absolute(path).ok(),
            std::fs::canonicalize(path).ok(),
        ]
        .into_iter()
        .flatten()
        {
            if let Ok(p) = tollgate_policy::AbsPath::parse(&p.to_string_lossy()) {
                own.protect(p, what);
            }
        }
    }

    /// Parses the policy and the labels file now if loading did not: a server forks a worker
    /// per run, and each would parse them again.
    pub fn compile_policies(&self) -> Result<(), RunError> {
        let invalid = |e: &str| RunError::new(ErrorType::Validation, e.to_owned());
        self.policies.1.compile().map_err(|e| invalid(&e))?;
        if let Some((_, candidate)) = &self.shadow {
            candidate.compile().map_err(|e| invalid(&e))?;
        }
        self.data.labels.ready().map_err(invalid)
    }

    /// A gate for the principal under the policy validated at load, with the host's labels
    /// and Tollgate's own files, writing its decisions to `recorder` and denying everything
    /// while `frozen` is raised.
    pub fn gate(&mut self, recorder: Recorder, frozen: Arc<AtomicBool>) -> Result<Gate, RunError> {
        let build = |(schema, policies): (Schema, Policies), recorder, frozen| {
            Gate::for_caller(
                schema,
                policies,
                self.caller.clone(),
                &self.data.directory,
                recorder,
                frozen,
            )
            .with_labels(self.data.labels.clone())
            .with_own_files(Arc::clone(&self.own_files))
        };
        let gate = build(self.policies.clone(), recorder, Arc::clone(&frozen));
        // The candidate's gate records nothing of its own: its verdicts go into the
        // enforced gate's records.
        Ok(match &self.shadow {
            Some(candidate) => {
                gate.with_shadow(build(candidate.clone(), Recorder::Unaudited, frozen))
            }
            None => gate,
        })
    }

    /// The audit log, opened (and created if there is none yet) on first use, with the
    /// signing key; `None` with `--no-audit`.
    pub fn audit(&mut self) -> Result<Option<Arc<AuditLog>>, RunError> {
        let Some(dir) = &self.audit_dir else {
            return Ok(None);
        };
        if self.audit.is_none() {
            self.audit = Some(open_audit(dir, self.audit_sync)?);
        }
        Ok(self.audit.clone())
    }

    /// The host's kill switch, watched from a thread of this process from the first call.
    pub fn watch(&mut self) -> Result<&Watch, RunError> {
        if self.watch.is_none() {
            let watch = StateDir::locate().and_then(Watch::start).map_err(|e| {
                RunError::new(
                    ErrorType::AccessDenied,
                    format!("the kill switch cannot be watched, so nothing ran: {e}"),
                )
            })?;
            self.watch = Some(watch);
        }
        // Set just above when it was not.
        self.watch.as_ref().ok_or_else(|| {
            RunError::new(
                ErrorType::Internal,
                "the kill switch is not watched".to_owned(),
            )
        })
    }

    /// Records that a run was refused before it started, and passes the refusal on.
    pub(crate) fn refuse(&mut self, e: RunError) -> RunError {
        match self.audit() {
            Ok(log) => refuse(log.as_ref(), &self.caller, e),
            Err(audit) => RunError::new(
                e.error_type,
                format!(
                    "{}; the refusal could not be recorded either: {}",
                    e.message, audit.message
                ),
            ),
        }
    }

    /// Runs one script with its arguments (typed JSON) in a worker process; the final value
    /// is rendered as `format` shows it.
    pub fn run(&mut self, script: String, args_text: Option<&str>, format: Format) -> Finished {
        crate::supervisor::run(self, script, args_text, format)
    }

    /// What must hold before a worker is forked: the script and arguments within bounds and
    /// well formed, and a token that has not expired. The gate is the worker's to build.
    pub(crate) fn check_inputs(
        &mut self,
        script: &str,
        args_text: Option<&str>,
    ) -> Result<rhai::Scope<'static>, RunError> {
        // A file is bounded as it is read; a script handed over whole (by an MCP client) is
        // held to the same bound here.
        let max = self.limits.max_string_size;
        for (what, len) in [
            ("script", script.len()),
            ("arguments", args_text.map_or(0, str::len)),
        ] {
            if len > max {
                return Err(RunError::new(
                    ErrorType::Validation,
                    format!(
                        "the {what} is larger than {max} bytes (--max-string-size), so nothing ran"
                    ),
                ));
            }
        }
        let scope = match args_text {
            Some(text) => tollgate_script::parse_args(text),
            None => Ok(rhai::Scope::new()),
        };
        // A server outlives the token it was started with: each run checks it again.
        let expired = self
            .caller
            .delegation
            .as_ref()
            .is_some_and(|d| d.expires < now());
        match (scope, expired) {
            (Err(e), _) => Err(self.refuse(e)),
            (Ok(_), true) => {
                let e = RunError::new(
                    ErrorType::AccessDenied,
                    "the delegation token has expired since the server started; restart it with a new token, so nothing ran".to_owned(),
                );
                Err(self.refuse(e))
            }
            (Ok(scope), false) => Ok(scope),
        }
    }

    /// Records the run's start, as run `run`, and returns the run's handle on the log. A
    /// failure means the run does not start.
    pub(crate) fn start_audit(
        &self,
        log: &Arc<AuditLog>,
        run: String,
        script: &str,
        args_text: &str,
        sandbox: Option<serde_json::Value>,
    ) -> Result<GateRecorder, RunError> {
        let limits = &self.limits;
        let d = Delegated::of(&self.caller);
        let start = Event::RunStart {
            principal: self.caller.principal_uid(),
            script_sha256: sha256_hex(script.as_bytes()),
            policy_sha256: self.policies.1.sha256_hex(),
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
            on_behalf_of: d.on_behalf_of,
            purpose: d.purpose,
            ticket: d.ticket,
            token: self.caller.delegation.as_ref().map(|d| {
                serde_json::json!({
                    "sub": d.subject,
                    "actors": d.actors,
                    "jti": d.token_id,
                    "iss": d.issuer,
                    "exp": d.expires,
                })
            }),
            host_files: self.data.digests.clone(),
            sandbox,
            shadow_policy_sha256: self.shadow.as_ref().map(|(_, p)| p.sha256_hex()),
        };
        log.append(&run, start)
            .map_err(|e| audit_unavailable(e.to_string()))?;
        Ok(GateRecorder::new(Arc::clone(log), run, &self.caller))
    }
}

/// The audit log is not there: nothing may run.
pub(crate) fn audit_unavailable(msg: String) -> RunError {
    RunError::new(
        ErrorType::AccessDenied,
        format!("the audit log is not available, so nothing ran: {msg}"),
    )
}

/// Opens (creating if needed) the audit log, with its signing key.
pub(crate) fn open_audit(dir: &Path, sync: SyncMode) -> Result<Arc<AuditLog>, RunError> {
    tollgate_audit::init(dir, &Default::default()).map_err(|e| audit_unavailable(e.to_string()))?;
    AuditLog::open(dir, sync).map_err(|e| audit_unavailable(e.to_string()))
}

/// Records that a run was refused before it started, and passes the refusal on. If even
/// that record cannot be written, the refusal says so too.
fn refuse(log: Option<&Arc<AuditLog>>, caller: &Caller, mut e: RunError) -> RunError {
    let Some(log) = log else { return e };
    let d = Delegated::of(caller);
    let event = Event::RunRefused {
        principal: match &caller.principal {
            Principal::User(name) => format!("User::\"{}\"", name.escape_default()),
            Principal::Agent { agent, .. } => format!("Agent::\"{}\"", agent.escape_default()),
        },
        error_type: e.error_type.to_string(),
        message: e.message.clone(),
        on_behalf_of: d.on_behalf_of,
        purpose: d.purpose,
        ticket: d.ticket,
    };
    let recorded = log
        .append(&crate::audit::new_run_id(), event)
        .and_then(|_| log.checkpoint());
    if let Err(audit) = recorded {
        e.message = format!(
            "{}; the refusal could not be recorded either: {audit}",
            e.message
        );
    }
    e
}

/// Who the run acts for: the verified token's caller, or the OS user where the host does
/// not require a token.
fn caller_of(args: &SetupArgs, config: &HostConfig, os_user: Caller) -> Result<Caller, RunError> {
    let denied = |msg: String| RunError::new(ErrorType::AccessDenied, msg);
    let Some(token) = &args.token else {
        if config.identity.require_token {
            return Err(denied(
                "this host requires a delegation token (--token TOKEN|@FILE), so nothing ran"
                    .to_owned(),
            ));
        }
        return Ok(os_user);
    };
    let token = match token.strip_prefix('@') {
        Some(path) => read_bounded(Path::new(path), MAX_TOKEN_BYTES).map_err(denied)?,
        None => token.clone(),
    };
    let Some(jwks_path) = &config.identity.jwks else {
        return Err(denied(
            "a delegation token was given but the host config names no `identity.jwks` to verify it with, so nothing ran".to_owned(),
        ));
    };
    let jwks = read_bounded(jwks_path, MAX_HOST_FILE_BYTES).map_err(denied)?;
    let audiences = if config.identity.audience.is_empty() {
        vec![tollgate_audit::host_name()]
    } else {
        config.identity.audience.clone()
    };
    let refused = |e: IdentityError| denied(format!("{e}, so nothing ran"));
    let trust = TrustConfig::new(&jwks, audiences).map_err(refused)?;
    let delegation = verify_token(&token, &trust).map_err(refused)?;
    Ok(Caller::delegated(delegation))
}

/// Bound on what a token may weigh.
const MAX_TOKEN_BYTES: usize = 64 << 10;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The arguments an SSH caller sent as its remote command. sshd hands that command to the
/// forced command in $SSH_ORIGINAL_COMMAND; it is parsed as typed JSON and nothing else, so
/// the caller chooses values for the script and cannot reach the command line.
fn ssh_command_args(max: usize) -> Result<Option<String>, RunError> {
    let invalid = |msg: String| RunError::new(ErrorType::Validation, msg);
    let text = match std::env::var_os("SSH_ORIGINAL_COMMAND") {
        None => return Ok(None),
        Some(raw) => raw.into_string().map_err(|_| {
            invalid("$SSH_ORIGINAL_COMMAND is not UTF-8; send the arguments as typed JSON".into())
        })?,
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    if text.len() > max {
        return Err(invalid(format!(
            "the arguments in $SSH_ORIGINAL_COMMAND are larger than {max} bytes"
        )));
    }
    let text = unquote_one_word(text);
    tollgate_script::parse_args(&text).map_err(|e| {
        invalid(format!(
            "the SSH remote command may only carry the script's arguments as typed JSON \
             (e.g. {{\"path\": {{\"stringValue\": \"/var/log\"}}}}), nothing ran: {}",
            e.message
        ))
    })?;
    Ok(Some(text))
}

/// The JSON as sent. `tollgate fleet` quotes it as one shell word, so that a host whose key
/// lacks the forced command hands it to a shell as a harmless command name instead of
/// expanding `$(...)` inside it; a caller typing `ssh host '{...}'` sends it bare. Text that
/// is already a JSON object is taken as it is.
fn unquote_one_word(text: String) -> String {
    if text.trim_start().starts_with('{') {
        return text;
    }
    match shlex::split(&text) {
        Some(mut words) if words.len() == 1 => words.remove(0),
        _ => text,
    }
}

/// A run handed over whole on standard input: `{"script": "...", "args": {...} | null}`.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct Job {
    pub script: String,
    #[serde(default)]
    pub args: Option<serde_json::Map<String, serde_json::Value>>,
}

fn read_job(max: usize) -> Result<(String, Option<String>), String> {
    // The script and the arguments are each bounded by `max`; their JSON, escaped, by a
    // few times that.
    let text = read_script("-", max.saturating_mul(7))?;
    let job: Job = serde_json::from_str(&text)
        .map_err(|e| format!("the job on standard input is not valid: {e}"))?;
    Ok((
        job.script,
        job.args.map(|a| serde_json::Value::Object(a).to_string()),
    ))
}

pub(crate) fn read_script(source: &str, max: usize) -> Result<String, String> {
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
