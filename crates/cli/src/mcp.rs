//! `tollgate mcp`: the Model Context Protocol over stdio, so an agent can run scripts, read
//! the SDK and ask the gate questions without a shell.
//!
//! The policy, the limits and the audit log come from the server's own command line (the
//! same flags as `tollgate run`), never from the agent: a tool call chooses only the script,
//! its arguments, or the question. Each `run_script` call goes through the same run pipeline
//! as `tollgate run` and is one audited run.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use clap::Args;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{schemars, tool, tool_handler, tool_router, ErrorData, ServerHandler, ServiceExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tollgate_policy::{Action, Context, Decision, DecisionEntry, Denied, PolicyError, Resource};
use tollgate_script::{ErrorType, RunError};

use crate::exit;
use crate::output::{self, Format};
use crate::run::{audit_unavailable, Finished, Setup, SetupArgs};

#[derive(Args)]
pub struct McpArgs {
    #[command(flatten)]
    setup: SetupArgs,
}

pub fn main(args: McpArgs) -> ExitCode {
    // The policy is validated and the audit log opened before the server answers anyone: a
    // server that could only deny would look healthy to the agent that registered it.
    let setup = match Setup::load(&args.setup) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tollgate mcp: {e}");
            return exit::exit_code(Some(e.error_type));
        }
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
    match runtime.block_on(serve(setup)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tollgate mcp: {}: {e}", ErrorType::Internal);
            exit::exit_code(Some(ErrorType::Internal))
        }
    }
}

async fn serve(setup: Setup) -> Result<(), String> {
    let server = Tollgate {
        setup: Arc::new(Mutex::new(setup)),
        tool_router: Tollgate::tool_router(),
    };
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("the MCP session did not start: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("the MCP session failed: {e}"))?;
    Ok(())
}

#[derive(Clone)]
struct Tollgate {
    /// One run or probe at a time: the memory limit is measured on the whole process's heap,
    /// so two scripts at once would share (and blur) each other's limit.
    setup: Arc<Mutex<Setup>>,
    tool_router: ToolRouter<Self>,
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
    ) -> Result<CallToolResult, ErrorData> {
        let args_text = p.args.map(|a| Value::Object(a).to_string());
        self.blocking(move |setup| {
            run_result(&setup.run(p.script, args_text.as_deref(), Format::Json))
        })
        .await
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
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means an earlier call panicked; the setup holds no half-made
            // state (each run builds its own gate and host), so it is still usable.
            let mut setup = setup.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut setup)
        })
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

/// A run's result as a tool result: the object `tollgate run --output json` prints, marked
/// as an error when the run failed, with the denied call spelled out for a denial.
fn run_result(finished: &Finished) -> CallToolResult {
    let report = output::report(
        finished.output.as_deref(),
        finished.error.as_ref(),
        &finished.logs,
        &finished.redactions,
    );
    let mut report = match report {
        Ok(r) => r,
        Err(e) => {
            return CallToolResult::structured_error(json!({
                "status": "ERROR",
                "error": {"error_type": ErrorType::Internal, "message": format!("cannot encode the result: {e}")},
            }))
        }
    };
    let Some(error) = &finished.error else {
        return CallToolResult::structured(report);
    };
    if let (Some(d), Some(fields)) = (&error.denied, report["error"].as_object_mut()) {
        fields.insert("principal".into(), json!(d.principal));
        fields.insert("action".into(), json!(d.action));
        fields.insert("resource".into(), json!(d.resource));
        fields.insert("reason".into(), json!(d.reason));
        fields.insert("policies".into(), json!(d.policies));
    }
    CallToolResult::structured_error(report)
}

/// The gate's answer to one question, recorded as a probe before it is given.
fn probe(setup: &mut Setup, action: &str, resource: &str) -> Result<Value, RunError> {
    let invalid = |e: PolicyError| RunError::new(ErrorType::Validation, e.to_string());
    let action = Action::from_uid(action).map_err(invalid)?;
    let resource = Resource::from_uid(resource).map_err(invalid)?;
    let gate = setup.gate()?;
    // A frozen host answers every question with a deny, as it answers every request.
    let decision = if gate.is_frozen() {
        Decision {
            permitted: false,
            policies: Vec::new(),
            errors: Vec::new(),
            labels: None,
        }
    } else {
        gate.decide(action, &resource, &Context::Empty)
    };
    let denied = (!decision.permitted).then(|| Denied {
        principal: gate.principal().to_owned(),
        action,
        resource: resource.clone(),
        forbidden_by: decision.policies.clone(),
        errors: decision.errors.clone(),
        unrecorded: None,
        frozen: gate.is_frozen(),
    });
    if let Some(log) = setup.audit() {
        let entry = DecisionEntry {
            principal: gate.principal(),
            caller: gate.caller(),
            action,
            resource: &resource,
            permitted: decision.permitted,
            policies: decision.policies.clone(),
            error: denied.as_ref().map(|d| d.to_string()),
            labels: decision.labels.clone(),
        };
        let who = crate::audit::on_behalf_of(gate.caller());
        crate::audit::append_decisions(
            log,
            &crate::audit::new_run_id(),
            &[entry],
            who.as_deref(),
            true,
        )
        .and_then(|_| log.checkpoint())
        .map_err(|e| audit_unavailable(e.to_string()))?;
    }
    Ok(json!({
        "decision": if decision.permitted { "permit" } else { "deny" },
        "principal": gate.principal(),
        "action": action.to_string(),
        "resource": resource.to_string(),
        "policies": decision.policies,
        "reason": denied.as_ref().map(|d| d.reason()),
        "labels": decision.labels.map(|l| l.to_json().clone()),
    }))
}
