//! `tollgate mcp`: the Model Context Protocol over stdio, so an agent can run scripts, read
//! the SDK, see what the policy lets it do and ask the gate questions without a shell.
//!
//! The policy, the limits and the audit log come from the server's own command line (the
//! same flags as `tollgate run`), never from the agent: a tool call chooses only the script,
//! its arguments, or the question. Each `run_script` call is a `tollgate run` of its own,
//! started with the server's flags: a supervisor process with its worker, its own memory
//! bound and its own end record, so that a run that hangs holds up nothing but itself, and
//! a cancelled call stops its run (SIGTERM to that supervisor, which records `cancelled`)
//! (see [`runs`]). Questions (`check_access`, `list_permissions`, `describe_sdk`'s filter)
//! are answered by a gate of the server's own, built as a run's would be; each request
//! `check_access` asks is recorded as a probe (see [`access`]).
//!
//! Protocol errors are the protocol's: a call to a tool there is not, or with arguments its
//! input schema does not admit, is `-32602` (invalid params) and runs nothing; a line that is
//! not JSON is `-32700`, and one too long to read `-32600`, recorded as refused (see
//! [`stdio`]). What happens in a run or a question (a denial, a script error, a limit) is a
//! tool result with `isError` and the same structured content the tool's `outputSchema`
//! describes.

mod access;
mod command;
mod proposal;
mod runs;
mod schemas;
mod stdio;

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_handler, tool_router, ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use tollgate_audit::{Delegated, Event};
use tollgate_script::{ErrorType, RunError};

use crate::exit;
use crate::run::{audit_unavailable, Setup, SetupArgs};
use schemas::{CheckAccess, DescribeSdk, ListPermissions, ProposePolicy, RunScript};

#[derive(Args)]
pub struct McpArgs {
    #[command(flatten)]
    setup: SetupArgs,
    /// Most runs at once; further run_script calls wait for one to end. Default: the
    /// number of CPUs.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_runs: Option<u32>,
    /// The host's invariants (see `tollgate policy prove`): a statement an agent proposes
    /// (propose_policy) is recorded only if every one is still proved of the policy with it.
    /// Without it, proposals are validated but not proved.
    #[arg(long, value_name = "FILE")]
    invariants: Option<std::path::PathBuf>,
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
    if let Some(file) = &args.invariants {
        // Read now, so a server that could never prove a proposal does not start.
        if let Err(e) = std::fs::read_to_string(file) {
            eprintln!(
                "tollgate mcp: {}: cannot read the invariants {}: {e}",
                ErrorType::Validation,
                file.display()
            );
            return exit::exit_code(Some(ErrorType::Validation));
        }
        setup.protect(file, "the host's invariants");
    }
    if let Err(e) = setup
        .compile_policies()
        .and_then(|()| setup.audit().map(|_| ()))
    {
        eprintln!("tollgate mcp: {e}");
        return exit::exit_code(Some(e.error_type));
    }
    let slots = args.max_concurrent_runs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |n| n as usize,
    );
    let runner = runs::Runner::new(runs::run_flags(), slots, setup.limits.timeout);
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
    let invariants = args.invariants.map(|p| Arc::from(p.as_path()));
    match runtime.block_on(serve(setup, runner, invariants)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate mcp: {}: {e}", ErrorType::Internal);
            exit::exit_code(Some(ErrorType::Internal))
        }
    }
}

async fn serve(
    setup: Setup,
    runner: runs::Runner,
    invariants: Option<Arc<std::path::Path>>,
) -> Result<(), String> {
    let setup = Arc::new(Mutex::new(setup));
    let (stdin, stdout) = rmcp::transport::stdio();
    let refusing = Arc::clone(&setup);
    let (transport, writer) = stdio::transport(stdin, stdout, move |bytes| {
        refuse_oversized(&mut lock(&refusing), bytes)
    });
    let server = Tollgate {
        setup,
        runner: Arc::new(runner),
        invariants,
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
    /// For questions (`check_access`, `list_permissions`, `describe_sdk`), one at a time;
    /// runs do not use it.
    setup: Arc<Mutex<Setup>>,
    runner: Arc<runs::Runner>,
    /// The host's invariants, which every proposal is proved against.
    invariants: Option<Arc<std::path::Path>>,
    tool_router: ToolRouter<Self>,
}

/// A tool's arguments, read by their type, which is also the tool's input schema
/// ([`schemas`]). Arguments the type does not admit (a missing or mistyped field, an unknown
/// one) are a protocol error, `-32602`, before anything runs: rmcp's own `Parameters` makes
/// them a tool result instead, which a client takes for the tool's answer. Every tool of
/// this server takes its arguments through this.
struct Arguments<T>(T);

impl<'a, S, T: DeserializeOwned> FromContextPart<ToolCallContext<'a, S>> for Arguments<T> {
    fn from_context_part(context: &mut ToolCallContext<'a, S>) -> Result<Self, ErrorData> {
        let given = context.arguments.take().unwrap_or_default();
        serde_json::from_value(Value::Object(given))
            .map(Arguments)
            .map_err(|e| {
                invalid_arguments(format!(
                    "the arguments of {} do not fit its inputSchema: {e}; tools/list gives it",
                    context.name()
                ))
            })
    }
}

/// A `-32602` error: the call is malformed, so nothing ran and nothing was recorded.
fn invalid_arguments(message: String) -> ErrorData {
    ErrorData::invalid_params(message, Some(json!({"error_type": ErrorType::Validation})))
}

/// The input schema of a tool that takes `T` (see [`schemas`]).
fn input<T: rmcp::schemars::JsonSchema + 'static>() -> Arc<rmcp::model::JsonObject> {
    // Each argument type is a struct, whose schema is an object: the one kind of root
    // `schema_for_input` takes. The tools/list test would show any other.
    rmcp::handler::server::common::schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("the input schema of {}: {e}", std::any::type_name::<T>()))
}

/// The tools, one method each. What a tool does is in its module (`runs`, `access`); this
/// is where a tool is named, described and given its schemas.
#[tool_router]
impl Tollgate {
    #[tool(
        description = "Run a Rhai script on this host under the host owner's Cedar policy, as a run of its own. Returns {status, output, truncated, logs}: output is the script's final value as JSON (a map is an object, an array an array). A result past 64 KiB of JSON is cut to fit (whole array items and map entries first, then a string's end) with truncated: true and output_bytes, the size of the whole; logs likewise past 16 KiB. Return less (a count, a slice) rather than everything. On failure an error result with error.error_type (ACCESS_DENIED_EXCEPTION, SCRIPT_EXCEPTION, RESOURCE_LIMIT_EXCEEDED, VALIDATION_EXCEPTION) and, for a denial, error.action, error.resource, error.policies and error.reason, which says what would permit it. With a progressToken, a progress notification every second while the run waits for a slot and while it runs.",
        input_schema = input::<RunScript>(),
        output_schema = schemas::run_script_output(),
        annotations(read_only_hint = false, destructive_hint = true, open_world_hint = true)
    )]
    async fn run_script(
        &self,
        Arguments(p): Arguments<RunScript>,
        request: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        // Typed values that are not typed values are the call's fault, not the run's.
        if let Some(args) = &p.args {
            tollgate_script::parse_args(&Value::Object(args.clone()).to_string())
                .map_err(|e| invalid_arguments(format!("the args of run_script: {}", e.message)))?;
        }
        let job = crate::run::Job {
            script: p.script,
            args: p.args,
        };
        let progress = request
            .meta
            .get_progress_token()
            .map(|token| runs::Progress {
                peer: request.peer.clone(),
                token,
            });
        // On the client's `notifications/cancelled`, rmcp cancels the request's token but
        // lets the handler run on; dropping the run is what stops it (see `runs`).
        tokio::select! {
            result = self.runner.run(job, progress) => Ok(result),
            () = request.ct.cancelled() => Err(ErrorData::internal_error(
                "the call was cancelled, and its run stopped",
                None,
            )),
        }
    }

    #[tool(
        description = "Every script function: how to call it, its flags, what it returns and the Cedar requests it makes (asks). With {\"allowed_only\": true}, only the functions each of whose requests some policy could permit for this server's principal (a function that asks nothing is always listed); whether a given path is permitted is still check_access's to say.",
        input_schema = input::<DescribeSdk>(),
        output_schema = schemas::describe_sdk_output(),
        annotations(read_only_hint = true)
    )]
    async fn describe_sdk(
        &self,
        Arguments(p): Arguments<DescribeSdk>,
    ) -> Result<CallToolResult, ErrorData> {
        if !p.allowed_only.unwrap_or(false) {
            return Ok(CallToolResult::structured(tollgate_script::sdk::describe()));
        }
        self.question(access::describe_allowed).await
    }

    #[tool(
        description = "What the policy lets this server's principal do, summed up from the policy with nothing run: {principal, permitted: [{policy, actions, principal, resource, condition, everywhere, cut_by}], forbidden: [...], always_denied}. Each permitted entry is a permit that can apply to this principal: its actions, its principal and resource scope as written (resource in file_system::Dir::\"/var/log\" covers that directory and everything below it), its when/unless condition (null if none), everywhere: true if nothing about the resource is left to decide, and cut_by: the forbids that can refuse some of what it permits (see forbidden for their scopes and conditions). Start here, then check_access a command before running it.",
        input_schema = input::<ListPermissions>(),
        output_schema = schemas::list_permissions_output(),
        annotations(read_only_hint = true)
    )]
    async fn list_permissions(
        &self,
        Arguments(ListPermissions {}): Arguments<ListPermissions>,
    ) -> Result<CallToolResult, ErrorData> {
        self.question(access::list_permissions).await
    }

    #[tool(
        description = "Propose a permit statement after a denial, for the host owner to approve: {statement: one Cedar permit, justification: why the task needs it}. The server checks that it parses as one permit, that the policy with it validates, and that the host's invariants still hold with it (proved with a solver); then it records it as pending proposal N (status pending). It never takes effect by itself: the host owner approves or rejects it, and only then does a run see it. A refused proposal (status refused) says why, with the proofs of any invariant it would break and the request that shows it.",
        input_schema = input::<ProposePolicy>(),
        output_schema = schemas::propose_policy_output(),
        annotations(read_only_hint = false, destructive_hint = false, idempotent_hint = false, open_world_hint = false)
    )]
    async fn propose_policy(
        &self,
        Arguments(p): Arguments<ProposePolicy>,
    ) -> Result<CallToolResult, ErrorData> {
        let setup = Arc::clone(&self.setup);
        let invariants = self.invariants.clone();
        let answer = tokio::task::spawn_blocking(move || {
            proposal::propose(&mut lock(&setup), &p, invariants.as_deref())
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("the call did not finish: {e}"), None))?;
        Ok(answer)
    }

    #[tool(
        description = "Ask whether the policy permits something, without running anything. Either {action, resource} (e.g. file_system::Action::\"read\" on file_system::File::\"/var/log/syslog\") for one request, or {command, args} (e.g. {\"command\": \"cat\", \"args\": [\"/var/log/app/x.log\"]}, args as in the function's first call form in describe_sdk) for every request that command would make, each with its decision, and denied: what the command would be told. A denial carries reason, policies (the forbids that matched; none when nothing permits it), involved (each policy whose scope covers the request, and whether it applied) and would_permit. Each request asked is recorded in the audit log as a probe.",
        input_schema = input::<CheckAccess>(),
        output_schema = schemas::check_access_output(),
        annotations(read_only_hint = true)
    )]
    async fn check_access(
        &self,
        Arguments(p): Arguments<CheckAccess>,
    ) -> Result<CallToolResult, ErrorData> {
        let question = access::Question::of(p).map_err(invalid_arguments)?;
        self.question(move |setup| access::check(setup, &question))
            .await
    }
}

impl Tollgate {
    /// Answers a question on the setup, on a blocking thread (the audit log and the policy
    /// do blocking work): its answer, or a tool error with the error's type and message.
    async fn question(
        &self,
        f: impl FnOnce(&mut Setup) -> Result<Value, RunError> + Send + 'static,
    ) -> Result<CallToolResult, ErrorData> {
        let setup = Arc::clone(&self.setup);
        // Under the policy as the file has it now: an approved proposal counts from the
        // next question, as from the next run.
        let answer = tokio::task::spawn_blocking(move || {
            let mut setup = lock(&setup);
            setup.reload_policy()?;
            f(&mut setup)
        })
        .await
        .map_err(|e| ErrorData::internal_error(format!("the call did not finish: {e}"), None))?;
        Ok(match answer {
            Ok(answer) => CallToolResult::structured(answer),
            Err(e) => CallToolResult::structured_error(json!({
                "error": {"error_type": e.error_type, "message": e.message},
            })),
        })
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tollgate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Runs Rhai scripts on this host under the host owner's Cedar policy. Call list_permissions first to see what you may do, describe_sdk (with allowed_only) for the functions that can work, check_access with a command to ask before acting, and run_script to act. A denial names the action, resource and policies and says what would permit it: change the script to stay within them; the policy is not yours to change.",
            )
    }

    /// A call to a tool there is not is `-32602`, naming the tools there are; the rest is
    /// the router's.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.tool_router.get(&request.name).is_none() {
            let tools: Vec<String> = self
                .tool_router
                .list_all()
                .into_iter()
                .map(|t| t.name.into_owned())
                .collect();
            return Err(invalid_arguments(format!(
                "there is no tool {:?}; this server's tools are {}",
                request.name,
                tools.join(", ")
            )));
        }
        let call = ToolCallContext::new(self, request, context);
        self.tool_router.call(call).await
    }
}
