//! `tollgate policy learn`: a least-privilege policy from the requests runs made, as their
//! decision records in the audit log show them, and a `policy test` cases file from the same
//! requests.
//!
//! The rule, per principal and action (it is the one `--help` and the README state):
//! - The requests taken are the runs' permitted decisions (with `--include-denied`, also the
//!   denials no forbid made: what a trial run under too narrow a policy asked for). Probes,
//!   and denials a forbid made, are never learned.
//! - A directory in which two or more distinct files were asked the same action becomes the
//!   scope `resource in Dir::"D"` for it, which covers D and everything below it; other
//!   paths (directories among them) are named one by one (`resource == File::"P"`). A scope
//!   inside another scope is dropped.
//! - Never generalized to: `/`, a top-level directory (`/etc`, `/usr`, `/var`, `/home`, ...),
//!   or a directory that holds, or is inside, one of Tollgate's own files (its policy, config,
//!   audit log and keys). Entries of those are named one by one.
//! - The release of a run's answer (`output::Action::"release"`) is not learned: it is
//!   permitted unless a forbid applies.
//! - Other resources are named one by one, but processes: their ids change from run to run,
//!   so `list` is learned for any process (`resource is process_system::Process`), and any
//!   other process action for the pids seen, marked for review.
//!
//! Each statement gets an `@id` and a comment naming the runs that needed it. The policy is
//! validated against the schema before it is written: what cannot validate is not written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value};
use tollgate_audit::Event;
use tollgate_policy::{AbsPath, OwnFiles, Policies, Schema};

/// Runs named in a statement's comment before "and N more".
const RUNS_NAMED: usize = 5;

/// A learned policy and its cases.
pub struct Learned {
    pub policy: String,
    /// A JSON list in the form `policy test` reads.
    pub cases: Value,
    pub statements: usize,
    pub requests: usize,
    pub runs: usize,
}

/// One request as recorded.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    principal: String,
    on_behalf_of: Option<String>,
    purpose: String,
    ticket: String,
    action: String,
    resource_type: String,
    resource_id: String,
}

/// What a statement's resource scope says.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Scope {
    /// `resource in file_system::Dir::"D"`.
    Below(String),
    /// `resource == T::"id"`.
    Exact { type_name: String, id: String },
    /// `resource is T`.
    AnyOf(String),
}

impl Scope {
    fn cedar(&self) -> String {
        match self {
            Scope::Below(d) => format!("resource in file_system::Dir::{}", quoted(d)),
            Scope::Exact { type_name, id } => format!("resource == {type_name}::{}", quoted(id)),
            Scope::AnyOf(t) => format!("resource is {t}"),
        }
    }
}

/// What one statement grants, and who needed it.
#[derive(Default)]
struct Grant {
    actions: BTreeSet<String>,
    runs: BTreeSet<String>,
    requests: usize,
    review: bool,
}

const FILE: &str = "file_system::File";
const DIR: &str = "file_system::Dir";
const PROCESS: &str = "process_system::Process";

/// Learns from the decision records of `runs` in the audit log `dir` (every run when empty).
/// `own` are Tollgate's own files, never generalized to.
pub fn learn(
    dir: &Path,
    runs: &[String],
    include_denied: bool,
    own: &OwnFiles,
) -> Result<Learned, String> {
    let wanted: BTreeSet<&str> = runs.iter().map(String::as_str).collect();
    let mut seen: BTreeMap<Seen, BTreeSet<String>> = BTreeMap::new();
    let mut found_runs = BTreeSet::new();
    tollgate_audit::scan(dir, |scanned| {
        let record = &scanned.record;
        if !wanted.is_empty() && !wanted.contains(record.run.as_str()) {
            return Ok(());
        }
        if let Event::Decision {
            principal,
            action,
            resource_type,
            resource_id,
            decision,
            policies,
            probe: false,
            on_behalf_of,
            purpose,
            ticket,
            ..
        } = &record.event
        {
            found_runs.insert(record.run.clone());
            let release = action == &tollgate_policy::Action::OutputRelease.to_string();
            let taken =
                !release && (decision == "permit" || (include_denied && policies.is_empty()));
            if taken {
                let request = Seen {
                    principal: principal.clone(),
                    on_behalf_of: on_behalf_of.clone(),
                    purpose: purpose.clone().unwrap_or_default(),
                    ticket: ticket.clone().unwrap_or_default(),
                    action: action.clone(),
                    resource_type: resource_type.clone(),
                    resource_id: resource_id.clone(),
                };
                seen.entry(request).or_default().insert(record.run.clone());
            }
        }
        Ok(())
    })
    .map_err(|e| e.to_string())?;
    if let Some(missing) = wanted.iter().find(|r| !found_runs.contains(**r)) {
        return Err(format!(
            "the audit log has no decision of run {missing:?}; `tollgate audit show` lists runs"
        ));
    }
    if seen.is_empty() {
        return Err(
            "the runs made no request that could be learned (no permitted decision), so no policy was written"
                .to_owned(),
        );
    }
    let grants = grants(&seen, own);
    let policy = render(&grants, &found_runs);
    let schema = Schema::tollgate().map_err(|e| e.to_string())?;
    Policies::parse("learned policy", &policy, &schema)
        .map_err(|e| format!("the learned policy does not validate, so it was not written: {e}"))?;
    Ok(Learned {
        cases: cases(&seen, &grants),
        statements: grants.values().map(BTreeMap::len).sum(),
        requests: seen.len(),
        runs: found_runs.len(),
        policy,
    })
}

/// A request and the runs that made it.
type Needed<'a> = (&'a Seen, &'a BTreeSet<String>);

/// Statements by principal, then by scope.
type Grants = BTreeMap<String, BTreeMap<Scope, Grant>>;

fn grants(seen: &BTreeMap<Seen, BTreeSet<String>>, own: &OwnFiles) -> Grants {
    // Per principal and action: the requests and the runs that made them.
    let mut by_action: BTreeMap<(&str, &str), Vec<Needed<'_>>> = BTreeMap::new();
    for (s, runs) in seen {
        by_action
            .entry((&s.principal, &s.action))
            .or_default()
            .push((s, runs));
    }
    let mut grants = Grants::new();
    for ((principal, action), requests) in by_action {
        let scopes = scopes_for(&requests, own);
        for (s, runs) in &requests {
            let (scope, review) = scope_of(s, &scopes);
            let grant = grants
                .entry(principal.to_owned())
                .or_default()
                .entry(scope)
                .or_default();
            grant.actions.insert(action.to_owned());
            grant.runs.extend(runs.iter().cloned());
            grant.requests += 1;
            grant.review |= review;
        }
    }
    grants
}

/// The directories one action is generalized to, none inside another.
fn scopes_for(requests: &[Needed<'_>], own: &OwnFiles) -> Vec<AbsPath> {
    let mut entries: BTreeMap<AbsPath, BTreeSet<&str>> = BTreeMap::new();
    for (s, _) in requests {
        if s.resource_type != FILE {
            continue;
        }
        // A record's id is the canonical path the gate decided on.
        let Ok(path) = AbsPath::parse(&s.resource_id) else {
            continue;
        };
        if let Some(parent) = path.parent() {
            entries
                .entry(parent)
                .or_default()
                .insert(s.resource_id.as_str());
        }
    }
    let mut dirs: Vec<AbsPath> = entries
        .into_iter()
        .filter(|(dir, names)| names.len() >= 2 && generalizable(dir, own))
        .map(|(dir, _)| dir)
        .collect();
    dirs.sort_by_key(|d| d.as_str().len());
    let mut kept: Vec<AbsPath> = Vec::new();
    for d in dirs {
        if !kept.iter().any(|k| d.starts_with(k)) {
            kept.push(d);
        }
    }
    kept
}

/// Whether a scope may be widened to `dir`: never `/` or a top-level directory, nor a
/// directory that holds or is inside one of Tollgate's own files.
fn generalizable(dir: &AbsPath, own: &OwnFiles) -> bool {
    let top_level = dir.parent().is_none_or(|p| p.is_root());
    !top_level
        && !own
            .paths()
            .any(|(path, _, _)| path.starts_with(dir) || dir.starts_with(path))
}

/// The scope a request is granted under, and whether the grant needs review.
fn scope_of(s: &Seen, dirs: &[AbsPath]) -> (Scope, bool) {
    let file_like = s.resource_type == FILE || s.resource_type == DIR;
    if file_like {
        if let Ok(path) = AbsPath::parse(&s.resource_id) {
            if let Some(d) = dirs.iter().find(|d| path.starts_with(d)) {
                return (Scope::Below(d.as_str().to_owned()), false);
            }
        }
    }
    if s.resource_type == PROCESS {
        if s.action == "process_system::Action::\"list\"" {
            return (Scope::AnyOf(PROCESS.to_owned()), false);
        }
        return (exact(s), true);
    }
    (exact(s), false)
}

fn exact(s: &Seen) -> Scope {
    Scope::Exact {
        type_name: s.resource_type.clone(),
        id: s.resource_id.clone(),
    }
}

/// A Cedar string literal, escaped as Cedar reads it back.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.escape_debug())
}

fn render(grants: &Grants, runs: &BTreeSet<String>) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "// Learned by `tollgate policy learn` from {} run(s) in the audit log. Review it before use:",
        runs.len()
    );
    out.push_str(
        "// it grants what those runs asked for, widened to a directory where two or more files in\n\
         // it were asked the same action (never /, a top-level directory, or one holding\n\
         // Tollgate's own files).\n",
    );
    let mut n = 0;
    for (principal, scopes) in grants {
        for (scope, grant) in scopes {
            n += 1;
            let mut named: Vec<&str> = grant.runs.iter().map(String::as_str).collect();
            let more = named.len().saturating_sub(RUNS_NAMED);
            named.truncate(RUNS_NAMED);
            let _ = writeln!(
                out,
                "\n// Needed by run{} {}{}: {} request{}.",
                if grant.runs.len() == 1 { "" } else { "s" },
                named.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                },
                grant.requests,
                if grant.requests == 1 { "" } else { "s" },
            );
            if grant.review {
                out.push_str("// Review: process ids change from run to run.\n");
            }
            let actions: Vec<&str> = grant.actions.iter().map(String::as_str).collect();
            let action = match actions.as_slice() {
                [one] => format!("action == {one}"),
                many => format!("action in [{}]", many.join(", ")),
            };
            let _ = writeln!(
                out,
                "@id(\"learned-{n}\")\npermit(\n    principal == {principal},\n    {action},\n    {}\n);",
                scope.cedar()
            );
        }
    }
    out
}

/// The requests seen, each expected permitted; and for each widened or named file scope, a
/// path beside it that nothing learned covers, expected denied.
fn cases(seen: &BTreeMap<Seen, BTreeSet<String>>, grants: &Grants) -> Value {
    let case = |s: &Seen, resource: String, expect: &str| {
        let mut c = json!({
            "principal": s.principal,
            "action": s.action,
            "resource": resource,
            "expect": expect,
        });
        if let Some(user) = &s.on_behalf_of {
            let name = user
                .strip_prefix("User::\"")
                .and_then(|u| u.strip_suffix('"'))
                .unwrap_or(user);
            c["on_behalf_of"] = json!(name);
        }
        if !s.purpose.is_empty() {
            c["purpose"] = json!(s.purpose);
        }
        if !s.ticket.is_empty() {
            c["ticket"] = json!(s.ticket);
        }
        c
    };
    let uid = |t: &str, id: &str| format!("{t}::{}", quoted(id));
    let mut list: Vec<Value> = seen
        .keys()
        .map(|s| case(s, uid(&s.resource_type, &s.resource_id), "permit"))
        .collect();
    let mut denied = BTreeSet::new();
    for s in seen.keys() {
        let Some(scopes) = grants.get(&s.principal) else {
            continue;
        };
        let beside = match scopes
            .keys()
            .find(|scope| covers(scope, &s.resource_type, &s.resource_id))
        {
            Some(Scope::Below(d)) => format!("{d}.not-learned"),
            Some(Scope::Exact { type_name, id }) if type_name == FILE => {
                format!("{id}.not-learned")
            }
            _ => continue,
        };
        let covered = scopes.keys().any(|scope| covers(scope, FILE, &beside));
        if !covered && denied.insert((s.principal.clone(), s.action.clone(), beside.clone())) {
            list.push(case(s, uid(FILE, &beside), "deny"));
        }
    }
    Value::Array(list)
}

/// Whether `scope` covers the resource.
fn covers(scope: &Scope, type_name: &str, id: &str) -> bool {
    match scope {
        Scope::Below(d) => {
            (type_name == FILE || type_name == DIR)
                && (id == d
                    || id
                        .strip_prefix(d.as_str())
                        .is_some_and(|r| r.starts_with('/')))
        }
        Scope::Exact {
            type_name: t,
            id: i,
        } => t == type_name && i == id,
        Scope::AnyOf(t) => t == type_name,
    }
}

#[derive(clap::Args)]
pub struct LearnArgs {
    /// The audit log whose runs to learn from (`--from-audit` is the same).
    #[arg(long = "audit-log", visible_alias = "from-audit", value_name = "DIR")]
    audit_log: std::path::PathBuf,
    /// Learn from these runs only (repeatable); default: every run in the log.
    #[arg(long = "run", value_name = "ID")]
    runs: Vec<String>,
    /// Also learn the requests that were denied because nothing permitted them (never those
    /// a forbid denied): for a trial run under a policy that was too narrow.
    #[arg(long)]
    include_denied: bool,
    /// Where to write the learned policy.
    #[arg(long, short = 'o', value_name = "FILE")]
    out: std::path::PathBuf,
    /// Where to write the `policy test` cases; default: beside the policy, `.cases.json`.
    #[arg(long, value_name = "FILE")]
    cases: Option<std::path::PathBuf>,
    /// Replace files that exist.
    #[arg(long)]
    force: bool,
    /// The host config, as `run --config`: its files are never generalized to.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
}

/// `tollgate policy learn`.
pub fn main(args: LearnArgs) -> std::process::ExitCode {
    match learn_to_files(
        &args.audit_log,
        &args.runs,
        args.include_denied,
        &args.out,
        args.cases.as_deref(),
        args.force,
        args.config.as_deref(),
    ) {
        Ok(summary) => {
            println!("{}", crate::printable::line(&summary));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate policy learn: {}", crate::printable::line(&e));
            crate::exit::exit_code(Some(tollgate_script::ErrorType::Validation))
        }
    }
}

/// Learns and writes the policy and its cases; returns the line that says what was written.
pub fn learn_to_files(
    audit_log: &Path,
    runs: &[String],
    include_denied: bool,
    out: &Path,
    cases: Option<&Path>,
    force: bool,
    config_flag: Option<&Path>,
) -> Result<String, String> {
    let cases_path = cases.map_or_else(|| out.with_extension("cases.json"), Path::to_path_buf);
    for path in [out, cases_path.as_path()] {
        if !force && path.exists() {
            return Err(format!(
                "{} exists; pass --force to replace it",
                path.display()
            ));
        }
    }
    let config = crate::config::load(config_flag)?;
    let own = crate::own::own_files(out, Some(audit_log), config_flag, &config);
    let learned = learn(audit_log, runs, include_denied, &own)?;
    let cases_text = serde_json::to_string_pretty(&learned.cases).map_err(|e| e.to_string())?;
    crate::files::write_whole(out, &learned.policy)?;
    crate::files::write_whole(&cases_path, &(cases_text + "\n"))?;
    Ok(format!(
        "learned {} statements from {} requests of {} run(s): {} (cases: {})",
        learned.statements,
        learned.requests,
        learned.runs,
        out.display(),
        cases_path.display()
    ))
}
