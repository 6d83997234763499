//! `tollgate mcp`: the Model Context Protocol over stdio, so an agent can run scripts, read
//! the SDK and ask the gate questions without a shell.
//!
//! The policy, the limits and the audit log come from the server's own command line (the
//! same flags as `tollgate run`), never from the agent: a tool call chooses only the script,
//! its arguments, or the question. Each `run_script` call is a `tollgate run` of its own,
//! started with the server's flags: a supervisor process with its worker, its own memory
//! bound and its own end record, so that a run that hangs holds up nothing but itself, and
//! a cancelled call stops its run (SIGTERM to that supervisor, which records `cancelled`).
//! A request too long to read is answered with an error and recorded as refused (see
//! [`stdio`]).

mod stdio;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::service::RequestContext;
use rmcp::{
    schemars, tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler, ServiceExt,
};
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate_audit::{Delegated, Event, GateRecorder};
use tollgate_policy::{Action, Context, PolicyError, Recorder, Resource};
use tollgate_script::{ErrorType, RunError};

use crate::exit;
use crate::run::{audit_unavailable, Setup, SetupArgs};

#[derive(Args)]
pub struct McpArgs {
    #[command(flatten)]
    setup: SetupArgs,
    /// Most runs at once; further run_script calls wait for one to end. Default: the
    /// number of CPUs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_runs: Option<u32>,
}

pub fn main(args: McpArgs) -> ExitCode {
    // The policy is validated and the audit log opened before the server answers anyone: a
    // server that could only deny would look healthy to the agent that registered it.
    let mut setup = match Setup::load(&args.setup) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate mcp: {e}");
            return exit::exit_code(Some(e.error_type));
        }
    };
    if let Err(e) = setup
        .compile_policies()
        .and_then(|()| setup.audit().map(|_| ()))
    {
        eprintln!("tollgate mcp: {e}");
        return exit::exit_code(Some(e.error_type));
    }
    let runs = args.max_concurrent_runs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let runner = Runner {
        flags: run_flags(),
        slots: Arc::new(tokio::sync::Semaphore::new(runs)),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "tollgate mcp: {}: cannot start the async runtime: {e}",
                ErrorType::Internal
            );
            return exit::exit_code(Some(ErrorType::Internal));
        }
    };
    match runtime.block_on(serve(setup, runner)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate mcp: {}: {e}", ErrorType::Internal);
            exit::exit_code(Some(ErrorType::Internal))
        }
    }
}

async fn serve(setup: Setup, runner: Runner) -> Result<(), String> {
    let setup = Arc::new(Mutex::new(setup));
    let (stdin, stdout) = rmcp::transport::stdio();
    let refusing = Arc::clone(&setup);
    let (transport, writer) = stdio::transport(stdin, stdout, move |bytes| {
        refuse_oversized(&mut lock(&refusing), bytes)
    });
    let server = Tollgate {
        setup,
        runner: Arc::new(runner),
        tool_router: Tollgate::tool_router(),
    };
    let running = server
        .serve(transport)
        .await
        .map_err(|e| format!("the MCP session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("the MCP session failed: {e}"))?;
    match writer.await {
        Ok(Ok(())) => Ok(()),
        // The client closed its end: there is no one left to tell.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Ok(Err(e)) => Err(format!("cannot write to standard output: {e}")),
        Err(e) => Err(format!("the MCP session's writer failed: {e}")),
    }
}

/// The setup, for one call at a time. A poisoned lock means an earlier call panicked; the
/// setup holds no half-made state (each run builds its own gate and host), so it is still
/// usable.
fn lock(setup: &Mutex<Setup>) -> std::sync::MutexGuard<'_, Setup> {
    setup.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records that a request of `bytes` bytes, over the transport's limit, was refused unread,
/// and returns what the client is told. Where it cannot be recorded, the answer says so.
fn refuse_oversized(setup: &mut Setup, bytes: u64) -> String {
    let message = format!(
        "the request is {bytes} bytes, over this server's limit of {} bytes ({} MiB), so it was dropped unparsed and nothing ran; send a shorter request",
        stdio::MAX_REQUEST_BYTES,
        stdio::MAX_REQUEST_BYTES >> 20,
    );
    eprintln!("tollgate mcp: {}: {message}", ErrorType::Validation);
    match record_refusal(setup, &message) {
        Ok(()) => message,
        Err(e) => format!(
            "{message}; the refusal could not be recorded either: {}",
            e.message
        ),
    }
}

/// A `run_refused` record of the server's principal: the oversized request was most likely
/// a run (nothing else an agent sends is that long), and nothing of it ran.
fn record_refusal(setup: &mut Setup, message: &str) -> Result<(), RunError> {
    let Some(log) = setup.audit()? else {
        return Ok(());
    };
    let d = Delegated::of(&setup.caller);
    let event = Event::RunRefused {
        principal: setup.caller.principal_uid(),
        error_type: ErrorType::Validation.to_string(),
        message: message.to_owned(),
        on_behalf_of: d.on_behalf_of,
        purpose: d.purpose,
        ticket: d.ticket,
    };
    log.append(&crate::audit::new_run_id(), event)
        .and_then(|_| log.checkpoint())
        .map_err(|e| audit_unavailable(e.to_string()))?;
    Ok(())
}

#[derive(Clone)]
struct Tollgate {
    /// For probes (`check_access`), one at a time; runs do not use it.
    setup: Arc<Mutex<Setup>>,
    runner: Arc<Runner>,
    tool_router: ToolRouter<Self>,
}

/// How the server starts a run: this binary's `run` with the server's own flags.
struct Runner {
    flags: Vec<std::ffi::OsString>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// The server's command-line flags, as `tollgate run` takes them: everything after `mcp`
/// but the flags only the server has.
fn run_flags() -> Vec<std::ffi::OsString> {
    let mut flags = Vec::new();
    let mut args = std::env::args_os().skip_while(|a| a != "mcp").skip(1);
    while let Some(a) = args.next() {
        if a == "--max-concurrent-runs" {
            args.next();
        } else if !a.to_string_lossy().starts_with("--max-concurrent-runs=") {
            flags.push(a);
        }
    }
    flags
}

/// Sends SIGTERM to a run's supervisor if the call is dropped (cancelled) before the run
/// ended: the supervisor kills its worker and records the run as cancelled.
struct CancelOnDrop {
    pid: u32,
    ended: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.ended.load(std::sync::atomic::Ordering::SeqCst) {
            // SAFETY: kill takes two integers. The child is not reaped until `ended` is set,
            // so the pid is still ours.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        }
    }
}

impl Runner {
    async fn run(&self, job: crate::run::Job) -> CallToolResult {
        let internal = |msg: String| {
            CallToolResult::structured_error(json!({
                "status": "ERROR",
                "error": {"error_type": ErrorType::Internal, "message": msg},
            }))
        };
        let Ok(_slot) = Arc::clone(&self.slots).acquire_owned().await else {
            return internal("the server is shutting down".to_owned());
        };
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => return internal(format!("cannot find the tollgate binary: {e}")),
        };
        let input = match serde_json::to_vec(&job) {
            Ok(i) => i,
            Err(e) => return internal(format!("cannot encode the run: {e}")),
        };
        let child = std::process::Command::new(exe)
            .arg("run")
            .arg("-")
            .arg("--job-from-stdin")
            .arg("--output")
            .arg("agent")
            .args(&self.flags)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return internal(format!("cannot start the run: {e}")),
        };
        let ended = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let guard = CancelOnDrop {
            pid: child.id(),
            ended: Arc::clone(&ended),
        };
        let waited = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            // The child reads its whole job before it starts; a write error shows as the
            // child's own error below.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&input);
            }
            let mut out = Vec::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_end(&mut out);
            }
            // The supervisor has closed its output: it is ending. Once reaped, its pid may be
            // reused, so a late cancel must not signal it.
            ended.store(true, std::sync::atomic::Ordering::SeqCst);
            let status = child.wait();
            (out, status)
        })
        .await;
        drop(guard);
        let (out, status) = match waited {
            Ok(v) => v,
            Err(e) => return internal(format!("the run did not finish: {e}")),
        };
        let report: Value = match serde_json::from_slice(&out) {
            Ok(r) => r,
            Err(_) => {
                return internal(format!(
                    "the run ended ({}) without a result",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string())
                ))
            }
        };
        if report["status"] == "SUCCESS" {
            CallToolResult::structured(report)
        } else {
            CallToolResult::structured_error(report)
        }
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
struct RunScript {
    /// The Rhai script. Its final value is the output; describe_sdk lists the functions.
    script: String,
    /// Script variables in typed JSON, as in a `--args` file:
    /// {"path": {"stringValue": "/var/log/syslog"}, "n": {"integerValue": 20}}.
    #[serde(default)]
    args: Option<serde_json::Map<String, Value>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
struct CheckAccess {
    /// A Cedar action uid, e.g. file_system::Action::"read".
    action: String,
    /// A Cedar resource uid, e.g. file_system::File::"/var/log/syslog".
    resource: String,
}

#[tool_router]
impl Tollgate {
    #[tool(
        description = "Run a Rhai script on this host under the host owner's Cedar policy. Returns {status, output, logs}; on failure an error result with error_type (ACCESS_DENIED_EXCEPTION, SCRIPT_EXCEPTION, RESOURCE_LIMIT_EXCEEDED, VALIDATION_EXCEPTION) and, for a denial, the action, resource, reason and policies involved."
    )]
    async fn run_script(
        &self,
        Parameters(p): Parameters<RunScript>,
        request: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let job = crate::run::Job {
            script: p.script,
            args: p.args,
        };
        // On the client's `notifications/cancelled`, rmcp cancels the request's token but
        // lets the handler run on; dropping the run is what stops it (`CancelOnDrop`).
        tokio::select! {
            result = self.runner.run(job) => Ok(result),
            () = request.ct.cancelled() => Err(ErrorData::internal_error(
                "the call was cancelled, and its run stopped",
                None,
            )),
        }
    }

    #[tool(
        description = "Every script function: how to call it, its flags, what it returns and the Cedar actions it needs."
    )]
    async fn describe_sdk(&self) -> Result<CallToolResult, ErrorData> {
        Ok(CallToolResult::structured(tollgate_script::sdk::describe()))
    }

    #[tool(
        description = "Ask whether the policy permits an action on a resource, without running anything. The question is recorded in the audit log as a probe."
    )]
    async fn check_access(
        &self,
        Parameters(p): Parameters<CheckAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        self.blocking(move |setup| match probe(setup, &p.action, &p.resource) {
            Ok(answer) => CallToolResult::structured(answer),
            Err(e) => CallToolResult::structured_error(json!({
                "error_type": e.error_type,
                "message": e.message,
            })),
        })
        .await
    }
}

impl Tollgate {
    /// Runs `f` on the setup on a blocking thread: scripts and the audit log do blocking I/O.
    async fn blocking(
        &self,
        f: impl FnOnce(&mut Setup) -> CallToolResult + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let setup = Arc::clone(&self.setup);
        tokio::task::spawn_blocking(move || f(&mut lock(&setup)))
            .await
            .map_err(|e| ErrorData::internal_error(format!("the call did not finish: {e}"), None))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tollgate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Runs Rhai scripts on this host under the host owner's Cedar policy. Call describe_sdk first, check_access to ask before acting, and run_script to act. A denial names the action, resource and policies: change the script to stay within them; the policy is not yours to change.",
            )
    }
}

/// The gate's answer to one question, asked as a run would ask it (Tollgate's own files and
/// the kill switch included) and recorded as a probe before it is given.
fn probe(setup: &mut Setup, action: &str, resource: &str) -> Result<Value, RunError> {
    let invalid = |e: PolicyError| RunError::new(ErrorType::Validation, e.to_string());
    let action = Action::from_uid(action).map_err(invalid)?;
    let resource = Resource::from_uid(resource).map_err(invalid)?;
    let frozen = setup.watch()?.frozen();
    let log = setup.audit()?;
    // Each question is a run of its own in the log, of one probe record.
    let recorder = match &log {
        Some(log) => Recorder::Log(Box::new(GateRecorder::new(
            Arc::clone(log),
            crate::audit::new_run_id(),
            &setup.caller,
        ))),
        None => Recorder::Unaudited,
    };
    let gate = setup.gate(recorder, frozen)?;
    let answer = gate.probe(action, &resource, &Context::Empty);
    if let Some(log) = &log {
        log.checkpoint()
            .map_err(|e| audit_unavailable(e.to_string()))?;
    }
    Ok(json!({
        "decision": if answer.decision.permitted { "permit" } else { "deny" },
        "principal": gate.principal(),
        "action": action.to_string(),
        "resource": resource.to_string(),
        "policies": answer.decision.policies,
        "reason": answer.reason(),
        "labels": answer.decision.labels.map(|l| l.to_json().clone()),
    }))
}
