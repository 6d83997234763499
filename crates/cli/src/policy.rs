//! `tollgate policy check FILE`: the validation a run makes before it starts, plus warnings
//! about grants broader than their writer likely meant. `tollgate policy test FILE CASES`:
//! requests with the decisions the host owner expects, checked against the policy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Subcommand;
use serde::Deserialize;
use tollgate_policy::{
    Action, Caller, Context, Gate, Policies, Principal, Recorder, Resource, Schema,
};
use tollgate_script::ErrorType;

use crate::config::HostData;
use crate::exit;
use crate::printable;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Write a least-privilege policy from the requests runs made (their audit records),
    /// and a `policy test` cases file from the same requests.
    Learn(crate::learn::LearnArgs),
    /// List the policy statements agents proposed (MCP `propose_policy`), pending ones by
    /// default.
    Proposals(crate::proposals::ListArgs),
    /// Append a pending proposal to the policy file, after validating and proving it again
    /// against the file as it is now; the old file is kept.
    Approve(crate::proposals::ApproveArgs),
    /// Refuse a pending proposal, with the reason.
    Reject(crate::proposals::RejectArgs),
    /// Validate a policy file against the schema (errors name line and column) and warn
    /// about over-broad grants and grants that cover Tollgate's own files.
    Check {
        /// The Cedar policy file.
        file: PathBuf,
        /// Fail (exit 3) on warnings too.
        #[arg(long)]
        strict: bool,
        /// The host config whose files (and audit log) the runs will use, as `run --config`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The audit log directory the runs will use, as `run --audit-log`.
        #[arg(long, value_name = "DIR")]
        audit_log: Option<PathBuf>,
    },
    /// Decide each request of a cases file and compare with its expected decision; exits 1
    /// on any mismatch.
    Test {
        /// The Cedar policy file.
        file: PathBuf,
        /// A JSON list of `{"principal", "on_behalf_of"?, "purpose"?, "ticket"?, "action",
        /// "resource", "expect": "permit"|"deny"}`.
        cases: PathBuf,
        #[command(flatten)]
        host: HostFiles,
    },
    /// Prove or refute invariants of a policy (an invariants file of Cedar statements) with
    /// the cvc5 solver, printing a counterexample request for each refuted one.
    Prove(crate::prove::ProveArgs),
    /// List the kinds of request one policy permits and the other does not, per action and
    /// resource type, each with a counterexample (proved with the cvc5 solver).
    Diff(crate::prove::DiffArgs),
}

/// The host owner's files a decision depends on besides the policy.
#[derive(clap::Args)]
pub struct HostFiles {
    /// The host's directory of users and groups, for `on_behalf_of`.
    #[arg(long)]
    directory: Option<PathBuf>,
    /// The host's data labels file, for `resource.labels`.
    #[arg(long)]
    labels: Option<PathBuf>,
}

impl HostFiles {
    fn load(&self) -> Result<HostData, String> {
        HostData::load(self.directory.as_deref(), self.labels.as_deref())
    }
}

/// One request and the decision expected for it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// `User::"name"` or `Agent::"name"`.
    principal: String,
    /// For an agent: the user it acts for.
    #[serde(default)]
    on_behalf_of: Option<String>,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    ticket: String,
    action: String,
    resource: String,
    /// Required by `policy test`; `explain` does without.
    #[serde(default)]
    expect: Option<Expect>,
}

#[derive(Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Expect {
    Permit,
    Deny,
}

pub fn main(cmd: PolicyCommand) -> ExitCode {
    match cmd {
        PolicyCommand::Learn(args) => crate::learn::main(args),
        PolicyCommand::Proposals(args) => crate::proposals::list_main(args),
        PolicyCommand::Approve(args) => crate::proposals::approve_main(args),
        PolicyCommand::Reject(args) => crate::proposals::reject_main(args),
        PolicyCommand::Check {
            file,
            strict,
            config,
            audit_log,
        } => check(&file, strict, config.as_deref(), audit_log.as_deref()),
        PolicyCommand::Test { file, cases, host } => match test(&file, &cases, &host) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("tollgate: {e}");
                exit::exit_code(Some(ErrorType::Validation))
            }
        },
        PolicyCommand::Prove(args) => crate::prove::prove_main(args),
        PolicyCommand::Diff(args) => crate::prove::diff_main(args),
    }
}

fn check(
    file: &Path,
    strict: bool,
    config_flag: Option<&Path>,
    audit_log: Option<&Path>,
) -> ExitCode {
    let (schema, policies) = match Policies::load_with_schema(file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::exit_code(Some(ErrorType::Validation));
        }
    };
    let config = match crate::config::load(config_flag) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return exit::exit_code(Some(ErrorType::Validation));
        }
    };
    let own = crate::own::own_files(file, audit_log, config_flag, &config);
    let mut warnings = tollgate_policy::lint(&policies, &schema);
    warnings.extend(tollgate_policy::lint_own_files(&policies, &schema, &own));
    for w in &warnings {
        let warning = format!("warning: policy {}: {}", w.policy, w.message);
        println!("{}", printable::line(&warning));
    }
    // Permits that can never apply, proved with cvc5; skipped with a note without it.
    let count = warnings.len() + crate::prove::report_never_applying(file, &policies);
    println!(
        "{}: {} policies, valid against the schema, {} warnings",
        file.display(),
        policies.len(),
        count
    );
    if strict && count > 0 {
        return exit::exit_code(Some(ErrorType::Validation));
    }
    ExitCode::SUCCESS
}

/// Runs the cases; `Err` when the policy, the cases or the host's files cannot be read.
fn test(file: &Path, cases: &Path, host: &HostFiles) -> Result<ExitCode, String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let cases_text = read(cases)?;
    let list: Vec<Case> =
        serde_json::from_str(&cases_text).map_err(|e| format!("{}: {e}", cases.display()))?;
    let data = host.load()?;
    let (_, policies) = Policies::load_with_schema(file).map_err(|e| e.to_string())?;
    let policy_text = policies.text().to_owned();
    let file_name = file.display().to_string();
    let (mut passed, mut failed) = (0, 0);
    for (n, case) in list.iter().enumerate() {
        let label = format!(
            "case {}: {} {} on {}",
            n + 1,
            case.principal,
            case.action,
            case.resource
        );
        let action = Action::from_uid(&case.action).map_err(|e| format!("{label}: {e}"))?;
        let resource = Resource::from_uid(&case.resource).map_err(|e| format!("{label}: {e}"))?;
        let caller = caller(case).map_err(|e| format!("{label}: {e}"))?;
        let expect = case
            .expect
            .ok_or_else(|| format!("{label}: no \"expect\" (permit or deny)"))?;
        // Each case gets a gate of its own, as each run does (a gate is for one caller).
        let schema = Schema::tollgate().map_err(|e| e.to_string())?;
        let policies =
            Policies::parse(&file_name, &policy_text, &schema).map_err(|e| e.to_string())?;
        let gate = offline_gate(schema, policies, caller, &data);
        let decision = gate.probe(action, &resource, &Context::Empty).decision;
        let got = if decision.permitted {
            Expect::Permit
        } else {
            Expect::Deny
        };
        let word = |e: Expect| {
            if e == Expect::Permit {
                "permit"
            } else {
                "deny"
            }
        };
        let by = if decision.policies.is_empty() {
            String::new()
        } else {
            format!(" by {}", decision.policies.join(", "))
        };
        let line = if got == expect {
            passed += 1;
            format!("ok     {label}: {}{by}", word(got))
        } else {
            failed += 1;
            format!(
                "FAILED {label}: expected {}, got {}{by}{}",
                word(expect),
                word(got),
                decision
                    .errors
                    .iter()
                    .map(|e| format!("; policy error: {e}"))
                    .collect::<String>()
            )
        };
        println!("{}", printable::line(&line));
    }
    println!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A gate for questions about a policy file, which run nothing: with no script and no host
/// operation there is nothing to record, and the question is about the policy alone, so
/// the host's kill switch is not consulted.
fn offline_gate(schema: Schema, policies: Policies, caller: Caller, data: &HostData) -> Gate {
    Gate::for_caller(
        schema,
        policies,
        caller,
        &data.directory,
        Recorder::Unaudited,
        Arc::default(),
    )
    .with_labels(data.labels.clone())
}

fn caller(case: &Case) -> Result<Caller, String> {
    let name = |prefix: &str| {
        case.principal
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('"'))
            .and_then(|rest| rest.strip_suffix('"'))
            .map(str::to_owned)
    };
    let principal = match (name("User::"), name("Agent::"), &case.on_behalf_of) {
        (Some(user), None, None) => Principal::User(user),
        (None, Some(agent), Some(user)) => Principal::Agent {
            agent,
            on_behalf_of: user.clone(),
        },
        (None, Some(_), None) => return Err("an Agent principal needs on_behalf_of".to_owned()),
        _ => {
            return Err(format!(
                "principal {:?} must be User::\"name\" or Agent::\"name\" (with on_behalf_of)",
                case.principal
            ))
        }
    };
    Ok(Caller {
        principal,
        purpose: case.purpose.clone(),
        ticket: case.ticket.clone(),
        delegation: None,
    })
}

#[derive(clap::Args)]
pub struct ExplainArgs {
    /// The policy file.
    #[arg(long, short = 'p')]
    policy: PathBuf,
    /// A request, as one case of `policy test` (without `expect`).
    #[arg(long, conflicts_with = "record")]
    request: Option<String>,
    /// The sequence number of a decision record in the audit log.
    #[arg(long, requires = "audit_log")]
    record: Option<u64>,
    /// The audit log that holds `--record`.
    #[arg(long, value_name = "DIR")]
    audit_log: Option<PathBuf>,
    #[command(flatten)]
    host: HostFiles,
}

/// `tollgate explain`: which policies bear on a request and what would permit it.
pub fn explain(args: ExplainArgs) -> ExitCode {
    match explain_text(&args) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {}", printable::line(&e));
            exit::exit_code(Some(ErrorType::Validation))
        }
    }
}

fn explain_text(args: &ExplainArgs) -> Result<String, String> {
    let case = match (&args.request, args.record, &args.audit_log) {
        (Some(json), None, _) => serde_json::from_str::<Case>(json).map_err(|e| e.to_string())?,
        (None, Some(seq), Some(dir)) => case_of_record(dir, seq)?,
        _ => return Err("give --request JSON, or --record SEQ with --audit-log DIR".to_owned()),
    };
    let data = args.host.load()?;
    let action = Action::from_uid(&case.action).map_err(|e| e.to_string())?;
    let resource = Resource::from_uid(&case.resource).map_err(|e| e.to_string())?;
    let (schema, policies) = Policies::load_with_schema(&args.policy).map_err(|e| e.to_string())?;
    let gate = offline_gate(schema, policies, caller(&case)?, &data);
    let e = gate.explain(action, &resource, &Context::Empty);
    // The principal, purpose, ticket and resource may come from a record, so from a script or
    // a token: each line is escaped whole, and none can start another.
    let mut out = String::new();
    let mut say = |line: String| {
        out.push_str(&printable::line(&line));
        out.push('\n');
    };
    say(format!(
        "{} {} {action} on {resource}",
        if e.decision.permitted {
            "PERMIT"
        } else {
            "DENY"
        },
        gate.principal()
    ));
    if let Some(user) = gate.caller().on_behalf_of() {
        say(format!(
            "  on behalf of User::\"{user}\", purpose {:?}, ticket {:?}",
            gate.caller().purpose,
            gate.caller().ticket
        ));
    }
    if let Some(labels) = &e.decision.labels {
        say(format!("  labels: {}", labels.to_json()));
    }
    if e.bearings.is_empty() {
        say("  no policy's scope covers this action on this resource".to_owned());
    }
    for b in &e.bearings {
        say(format!(
            "  {} {}: {}{}",
            if b.permit { "permit" } else { "forbid" },
            b.policy,
            if b.applies {
                "applies"
            } else {
                "scope covers it, condition does not hold"
            },
            b.errors
                .iter()
                .map(|e| format!("; error: {e}"))
                .collect::<String>()
        ));
    }
    if let Some(w) = &e.would_permit {
        say(format!("  would permit it: {w}"));
    }
    Ok(out)
}

/// The request a decision record describes.
fn case_of_record(dir: &Path, seq: u64) -> Result<Case, String> {
    let mut found = None;
    tollgate_audit::scan(dir, |rec| {
        if rec.record.seq == seq {
            found = Some(rec.record.clone());
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    let record = found.ok_or_else(|| format!("the audit log has no record {seq}"))?;
    let tollgate_audit::Event::Decision {
        principal,
        action,
        resource_type,
        resource_id,
        on_behalf_of,
        purpose,
        ticket,
        ..
    } = record.event
    else {
        return Err(format!("record {seq} is not a decision"));
    };
    let user = on_behalf_of.map(|u| {
        u.strip_prefix("User::\"")
            .and_then(|u| u.strip_suffix('"'))
            .unwrap_or(&u)
            .to_owned()
    });
    Ok(Case {
        principal,
        on_behalf_of: user,
        purpose: purpose.unwrap_or_default(),
        ticket: ticket.unwrap_or_default(),
        action,
        // Escaped as Cedar writes a uid (`escape_debug`), the only form it reads back: a path
        // holding a quote, a control character or a direction override is named exactly.
        resource: format!("{resource_type}::\"{}\"", resource_id.escape_debug()),
        expect: None,
    })
}
