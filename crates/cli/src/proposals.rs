//! Policy proposals: an agent proposes a permit (MCP `propose_policy`), the host owner
//! approves or rejects it (`tollgate policy proposals | approve | reject`).
//!
//! A proposal never takes effect by itself. It is kept, pending, in the policy's proposals
//! directory (`POLICY.proposals/`, one of Tollgate's own files, so no script can write or
//! approve one) once it parses as exactly one permit, the policy with it validates, and the
//! host's invariants (if the server has a file of them) are proved of the policy with it.
//! Approval checks all of that again against the policy file as it is then, keeps the old
//! file beside the proposal, and replaces the policy file whole (a temporary file renamed
//! over it). Each step is recorded in the audit log before it takes effect; one that cannot
//! be recorded does not happen.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_audit::{AuditLog, Delegated, Event};
use tollgate_policy::{Caller, Policies, Schema};

use crate::files::sha256_hex;

/// The most bytes a proposed statement may have: one statement, not a policy file.
pub const MAX_STATEMENT_BYTES: usize = 16 << 10;

/// The most bytes of a justification kept.
pub const MAX_JUSTIFICATION_BYTES: usize = 4 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

/// One proposal, as kept in `POLICY.proposals/N.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proposal {
    pub id: u64,
    pub status: Status,
    /// The statement as it would be appended: the agent's text with its `@id` and the
    /// proposal's annotations.
    pub statement: String,
    pub justification: String,
    /// Who proposed it: the agent, and the human it acted for.
    pub principal: String,
    #[serde(default)]
    pub on_behalf_of: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    pub proposed_at: String,
    /// The policy file it was checked against when proposed.
    pub policy_sha256: String,
    /// Each invariant's outcome when proposed (empty without an invariants file).
    #[serde(default)]
    pub proofs: Vec<Value>,
    #[serde(default)]
    pub invariants: Option<PathBuf>,
    #[serde(default)]
    pub decided_by: Option<String>,
    #[serde(default)]
    pub decided_at: Option<String>,
    /// Why it was rejected.
    #[serde(default)]
    pub reason: Option<String>,
    /// For an approval: the policy file as it was before, and the hash of the one written.
    #[serde(default)]
    pub previous_policy: Option<PathBuf>,
    #[serde(default)]
    pub approved_policy_sha256: Option<String>,
}

/// The proposals of one policy file.
pub struct Store {
    policy: PathBuf,
    dir: PathBuf,
}

impl Store {
    /// The store of `policy`: `POLICY.proposals/` beside it.
    pub fn of(policy: &Path) -> Store {
        let mut name = policy.file_name().unwrap_or_default().to_os_string();
        name.push(".proposals");
        Store {
            policy: policy.to_path_buf(),
            dir: policy.with_file_name(name),
        }
    }

    /// Where the proposals are: one of Tollgate's own files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every proposal, by number.
    pub fn list(&self) -> Result<Vec<Proposal>, String> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", self.dir.display())),
        };
        let mut list = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", self.dir.display()))?;
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            list.push(self.get(n)?);
        }
        list.sort_by_key(|p| p.id);
        Ok(list)
    }

    pub fn get(&self, n: u64) -> Result<Proposal, String> {
        let path = self.file(n);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("there is no proposal {n} (`tollgate policy proposals` lists them)")
            }
            _ => format!("cannot read {}: {e}", path.display()),
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{} is damaged: {e}", path.display()))
    }

    fn file(&self, n: u64) -> PathBuf {
        self.dir.join(format!("{n}.json"))
    }

    /// Holds the store's lock: proposals are numbered, approved and rejected one at a time.
    fn lock(&self) -> Result<std::fs::File, String> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o750)
            .create(&self.dir)
            .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
        let path = self.dir.join("lock");
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
        Ok(file)
    }

    fn save(&self, p: &Proposal) -> Result<(), String> {
        let text = serde_json::to_string_pretty(p).map_err(|e| e.to_string())? + "\n";
        crate::files::write_whole(&self.file(p.id), &text)
    }

    fn read_policy(&self) -> Result<String, String> {
        std::fs::read_to_string(&self.policy)
            .map_err(|e| format!("cannot read {}: {e}", self.policy.display()))
    }
}

/// What the host's invariants say of a policy text: each invariant's outcome as JSON (as
/// `policy prove --json` gives it: `{"id", "claim", "result": "proved"|"refuted"|"unknown",
/// ...}`), and whether all were proved.
pub type Prover<'a> = &'a dyn Fn(&str, &Path) -> Result<(Vec<Value>, bool), String>;

/// The statement, checked: exactly one permit, without a template slot. Returns it with the
/// proposal's annotations (its own `@id`, or `proposal-N`), ready to append.
fn checked_statement(
    statement: &str,
    n: u64,
    justification: &str,
    existing: &cedar_policy::PolicySet,
) -> Result<String, String> {
    if statement.len() > MAX_STATEMENT_BYTES {
        return Err(format!(
            "the statement is {} bytes, over the {MAX_STATEMENT_BYTES} bytes one statement may have",
            statement.len()
        ));
    }
    let set = cedar_policy::PolicySet::from_str(statement)
        .map_err(|e| format!("the statement does not parse: {e}"))?;
    let policies: Vec<&cedar_policy::Policy> = set.policies().collect();
    let [policy] = policies.as_slice() else {
        return Err(format!(
            "propose exactly one statement, not {}",
            policies.len()
        ));
    };
    if set.templates().next().is_some() {
        return Err("a template cannot be proposed; propose a statement".to_owned());
    }
    if policy.effect() != cedar_policy::Effect::Permit {
        return Err(
            "only a permit can be proposed: a forbid narrows the policy, which is the host owner's to do"
                .to_owned(),
        );
    }
    for key in ["proposal", "justification"] {
        if policy.annotation(key).is_some() {
            return Err(format!("the statement may not carry its own @{key}"));
        }
    }
    let id = match policy.annotation("id") {
        Some(id) => {
            if existing.policies().any(|p| p.annotation("id") == Some(id)) {
                return Err(format!(
                    "the policy already has a statement with @id({id:?}); propose another id"
                ));
            }
            None
        }
        None => Some(format!("proposal-{n}")),
    };
    // The justification is the agent's text: it goes into an annotation, a string literal,
    // never into a comment or the code, so that no character of it can be read as Cedar.
    let mut text = String::new();
    if let Some(id) = id {
        text.push_str(&format!("@id(\"{id}\")\n"));
    }
    text.push_str(&format!("@proposal(\"{n}\")\n"));
    text.push_str(&format!(
        "@justification(\"{}\")\n",
        justification.escape_debug()
    ));
    text.push_str(statement.trim());
    text.push('\n');
    Ok(text)
}

/// Refuses a statement whose `@id` a statement of `policy_text` has already (the host owner
/// may have used it since the proposal was made).
fn ids_free(policy_text: &str, statement: &str) -> Result<(), String> {
    let existing = cedar_policy::PolicySet::from_str(policy_text)
        .map_err(|e| format!("the policy file does not parse: {e}"))?;
    let new = cedar_policy::PolicySet::from_str(statement)
        .map_err(|e| format!("the statement does not parse: {e}"))?;
    for id in new.policies().filter_map(|p| p.annotation("id")) {
        if existing.policies().any(|p| p.annotation("id") == Some(id)) {
            return Err(format!(
                "the policy already has a statement with @id({id:?}); propose another id"
            ));
        }
    }
    Ok(())
}

/// The policy with `statement` appended, validated against the schema; the text and the
/// validated set.
fn with_statement(policy_text: &str, statement: &str) -> Result<(String, Policies), String> {
    let mut text = policy_text.to_owned();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push('\n');
    text.push_str(statement);
    let schema = Schema::tollgate().map_err(|e| e.to_string())?;
    let policies = Policies::parse("the policy with the proposal", &text, &schema)
        .map_err(|e| format!("the policy with this statement does not validate: {e}"))?;
    Ok((text, policies))
}

/// The outcome of [`propose`]: recorded as pending, or refused with the reason (and, for a
/// refuted invariant, its outcomes).
pub enum Proposed {
    Pending(Box<Proposal>),
    Refused { message: String, proofs: Vec<Value> },
}

/// Checks and records an agent's proposal. Never changes the policy.
pub fn propose(
    policy: &Path,
    statement: &str,
    justification: &str,
    caller: &Caller,
    invariants: Option<&Path>,
    prover: Prover<'_>,
    log: Option<&Arc<AuditLog>>,
) -> Result<Proposed, String> {
    let store = Store::of(policy);
    let _lock = store.lock()?;
    let n = store.list()?.last().map_or(1, |p| p.id + 1);
    let justification = truncate(justification, MAX_JUSTIFICATION_BYTES);
    let current = store.read_policy()?;
    let existing = cedar_policy::PolicySet::from_str(&current)
        .map_err(|e| format!("the policy file does not parse: {e}"))?;
    let d = Delegated::of(caller);
    let record = |action: &str, statement: &str, reason: Option<String>| {
        append(
            log,
            Event::Proposal {
                principal: caller.principal_uid(),
                action: action.to_owned(),
                proposal: n,
                statement_sha256: sha256_hex(statement.as_bytes()),
                reason,
                policy_sha256: None,
                on_behalf_of: d.on_behalf_of.clone(),
                purpose: d.purpose.clone(),
                ticket: d.ticket.clone(),
            },
        )
    };
    let refused = |message: String, proofs: Vec<Value>| -> Result<Proposed, String> {
        record("refused", statement, Some(message.clone()))?;
        Ok(Proposed::Refused { message, proofs })
    };
    let annotated = match checked_statement(statement, n, &justification, &existing) {
        Ok(s) => s,
        Err(e) => return refused(e, Vec::new()),
    };
    let (text, _) = match with_statement(&current, &annotated) {
        Ok(v) => v,
        Err(e) => return refused(e, Vec::new()),
    };
    let proofs = match invariants {
        Some(file) => match prover(&text, file) {
            Ok((proofs, true)) => proofs,
            Ok((proofs, false)) => {
                return refused(
                    "the policy with this statement breaks one of the host's invariants (or it could not be proved in time); see proofs"
                        .to_owned(),
                    proofs,
                )
            }
            Err(e) => return refused(format!("the invariants could not be checked: {e}"), Vec::new()),
        },
        None => Vec::new(),
    };
    let proposal = Proposal {
        id: n,
        status: Status::Pending,
        statement: annotated,
        justification: justification.clone(),
        principal: caller.principal_uid(),
        on_behalf_of: d.on_behalf_of.clone(),
        purpose: d.purpose.clone(),
        proposed_at: now(),
        policy_sha256: sha256_hex(current.as_bytes()),
        proofs,
        invariants: invariants.map(Path::to_path_buf),
        decided_by: None,
        decided_at: None,
        reason: None,
        previous_policy: None,
        approved_policy_sha256: None,
    };
    record("propose", &proposal.statement, Some(justification))?;
    store.save(&proposal)?;
    Ok(Proposed::Pending(Box::new(proposal)))
}

/// Appends a pending proposal to the policy file, after checking it again against the file
/// as it is now (and the invariants, `invariants` or those it was proposed under). The old
/// file is kept as `POLICY.proposals/N.previous.cedar`.
pub fn approve(
    policy: &Path,
    n: u64,
    by: &str,
    invariants: Option<&Path>,
    prover: Prover<'_>,
    log: &Arc<AuditLog>,
) -> Result<Proposal, String> {
    let store = Store::of(policy);
    let _lock = store.lock()?;
    let mut proposal = pending(&store, n)?;
    let current = store.read_policy()?;
    ids_free(&current, &proposal.statement)?;
    let (text, _) = with_statement(&current, &proposal.statement)?;
    let invariants = invariants.or(proposal.invariants.as_deref());
    if let Some(file) = invariants {
        let (proofs, all) = prover(&text, file)?;
        if !all {
            return Err(format!(
                "the policy with proposal {n} does not keep the invariants of {} (or they could not be proved in time): {}",
                file.display(),
                serde_json::to_string(&proofs).unwrap_or_default()
            ));
        }
        proposal.proofs = proofs;
    }
    let previous = store.dir.join(format!("{n}.previous.cedar"));
    crate::files::write_whole(&previous, &current)?;
    let sha = sha256_hex(text.as_bytes());
    append(
        Some(log),
        Event::Proposal {
            principal: by.to_owned(),
            action: "approve".to_owned(),
            proposal: n,
            statement_sha256: sha256_hex(proposal.statement.as_bytes()),
            reason: None,
            policy_sha256: Some(sha.clone()),
            on_behalf_of: None,
            purpose: None,
            ticket: None,
        },
    )?;
    crate::files::write_whole(policy, &text)?;
    proposal.status = Status::Approved;
    proposal.decided_by = Some(by.to_owned());
    proposal.decided_at = Some(now());
    proposal.previous_policy = Some(previous);
    proposal.approved_policy_sha256 = Some(sha);
    store.save(&proposal)?;
    Ok(proposal)
}

/// Records the host owner's refusal of a pending proposal.
pub fn reject(
    policy: &Path,
    n: u64,
    by: &str,
    reason: &str,
    log: &Arc<AuditLog>,
) -> Result<Proposal, String> {
    let store = Store::of(policy);
    let _lock = store.lock()?;
    let mut proposal = pending(&store, n)?;
    append(
        Some(log),
        Event::Proposal {
            principal: by.to_owned(),
            action: "reject".to_owned(),
            proposal: n,
            statement_sha256: sha256_hex(proposal.statement.as_bytes()),
            reason: Some(reason.to_owned()),
            policy_sha256: None,
            on_behalf_of: None,
            purpose: None,
            ticket: None,
        },
    )?;
    proposal.status = Status::Rejected;
    proposal.decided_by = Some(by.to_owned());
    proposal.decided_at = Some(now());
    proposal.reason = Some(reason.to_owned());
    store.save(&proposal)?;
    Ok(proposal)
}

fn pending(store: &Store, n: u64) -> Result<Proposal, String> {
    let p = store.get(n)?;
    match p.status {
        Status::Pending => Ok(p),
        Status::Approved => Err(format!("proposal {n} was approved already")),
        Status::Rejected => Err(format!("proposal {n} was rejected")),
    }
}

/// Records `event` (with its checkpoint) before what it says is done; `None` is a server
/// without an audit log.
fn append(log: Option<&Arc<AuditLog>>, event: Event) -> Result<(), String> {
    let Some(log) = log else {
        return Ok(());
    };
    log.append(&crate::audit::new_run_id(), event)
        .and_then(|_| log.checkpoint())
        .map(|_| ())
        .map_err(|e| format!("the audit log is not available, so nothing was done: {e}"))
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// The host's invariants proved of `policy_text` with cvc5: each outcome as JSON, and
/// whether every one was proved. A refutation carries its counterexample request.
pub fn prove(policy_text: &str, invariants: &Path) -> Result<(Vec<Value>, bool), String> {
    use crate::prove::Verdict;
    let text = std::fs::read_to_string(invariants)
        .map_err(|e| format!("cannot read {}: {e}", invariants.display()))?;
    let outcomes = crate::prove::prove_invariants(
        "the policy with the proposal",
        policy_text,
        &invariants.display().to_string(),
        &text,
        PROOF_TIMEOUT,
    )
    .map_err(|e| e.to_string())?;
    let all = outcomes
        .iter()
        .all(|o| matches!(o.verdict, Verdict::Proved));
    let list = outcomes
        .iter()
        .map(crate::prove::Outcome::to_json)
        .collect();
    Ok((list, all))
}

/// How long the solver may take over one query of a proposal's proof.
const PROOF_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The policy file a proposals command is about.
#[derive(clap::Args)]
pub struct PolicyArg {
    /// The policy file (its proposals are in `POLICY.proposals/`).
    #[arg(long, short = 'p')]
    policy: PathBuf,
}

#[derive(clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    policy: PolicyArg,
    /// Every proposal, not only the pending ones.
    #[arg(long)]
    all: bool,
    /// Print the proposals as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct ApproveArgs {
    /// The proposal's number.
    n: u64,
    #[command(flatten)]
    policy: PolicyArg,
    /// Prove these invariants of the policy with the proposal (default: those it was
    /// proposed under, if any).
    #[arg(long, value_name = "FILE")]
    invariants: Option<PathBuf>,
    /// The audit log the approval is recorded in (default: see `tollgate run --help`).
    #[arg(long, value_name = "DIR")]
    audit_log: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RejectArgs {
    /// The proposal's number.
    n: u64,
    #[command(flatten)]
    policy: PolicyArg,
    /// Why it is refused (kept with the proposal and recorded).
    #[arg(long)]
    reason: String,
    /// The audit log the rejection is recorded in (default: see `tollgate run --help`).
    #[arg(long, value_name = "DIR")]
    audit_log: Option<PathBuf>,
}

/// `tollgate policy proposals`.
pub fn list_main(args: ListArgs) -> std::process::ExitCode {
    finish(Store::of(&args.policy.policy).list().map(|list| {
        let shown: Vec<&Proposal> = list
            .iter()
            .filter(|p| args.all || p.status == Status::Pending)
            .collect();
        if args.json {
            return serde_json::to_string_pretty(&shown).unwrap_or_default();
        }
        if shown.is_empty() {
            return "no pending proposals".to_owned();
        }
        // The statement and justification are an agent's text: escaped whole, line by line.
        let mut out = Vec::new();
        for p in shown {
            out.push(format!(
                "proposal {} ({:?}) by {}{} at {}: {}",
                p.id,
                p.status,
                p.principal,
                p.on_behalf_of
                    .as_ref()
                    .map(|u| format!(" for {u}"))
                    .unwrap_or_default(),
                p.proposed_at,
                p.justification
            ));
            for line in p.statement.lines() {
                out.push(format!("    {line}"));
            }
        }
        out.iter()
            .map(|l| crate::printable::line(l).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }))
}

/// `tollgate policy approve N`.
pub fn approve_main(args: ApproveArgs) -> std::process::ExitCode {
    let done = owner_log(args.audit_log.as_deref()).and_then(|(by, log)| {
        let policy = canonical(&args.policy.policy)?;
        approve(
            &policy,
            args.n,
            &by,
            args.invariants.as_deref(),
            &prove,
            &log,
        )
    });
    finish(done.map(|p| {
        format!(
            "proposal {} approved: {} now has it (sha256 {}); the previous file is {}",
            p.id,
            args.policy.policy.display(),
            p.approved_policy_sha256.unwrap_or_default(),
            p.previous_policy.unwrap_or_default().display()
        )
    }))
}

/// `tollgate policy reject N --reason`.
pub fn reject_main(args: RejectArgs) -> std::process::ExitCode {
    let done = owner_log(args.audit_log.as_deref()).and_then(|(by, log)| {
        let policy = canonical(&args.policy.policy)?;
        reject(&policy, args.n, &by, &args.reason, &log)
    });
    finish(done.map(|p| format!("proposal {} rejected", p.id)))
}

/// The policy file itself, where a link points: the file is replaced, not the link.
fn canonical(policy: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(policy).map_err(|e| format!("cannot find {}: {e}", policy.display()))
}

/// The host owner's principal and the audit log a decision of theirs is recorded in.
fn owner_log(dir: Option<&Path>) -> Result<(String, Arc<AuditLog>), String> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => crate::audit::default_dir(&crate::config::load(None)?)?,
    };
    let fail = |e: tollgate_audit::AuditError| {
        format!("the audit log is not available, so nothing was done: {e}")
    };
    tollgate_audit::init(&dir, &Default::default()).map_err(fail)?;
    let log = AuditLog::open(&dir, tollgate_audit::SyncMode::Batch).map_err(fail)?;
    let by = Caller::os_user(&crate::control::whoami()).principal_uid();
    Ok((by, log))
}

fn finish(result: Result<String, String>) -> std::process::ExitCode {
    match result {
        Ok(text) => {
            println!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate policy: {}", crate::printable::line(&e));
            crate::exit::exit_code(Some(tollgate_script::ErrorType::Validation))
        }
    }
}
