//! Proofs about a policy with Cedar's symbolic compiler (SymCC) and the cvc5 solver:
//! `tollgate policy prove` (invariants proved or refuted with a counterexample), `tollgate
//! policy diff` (what one policy permits and another does not) and the permits that can
//! never apply that `tollgate policy check` reports.
//!
//! # The invariants file
//!
//! A Cedar file, validated against Tollgate's schema like a policy, whose every statement
//! is one invariant, named by `@id("...")` and saying what it claims with `@invariant(...)`:
//!
//! ```cedar
//! // No request a permit like this would match is ever permitted.
//! @id("no-writes-under-etc") @invariant("never")
//! permit(principal, action in [file_system::Action::"write", file_system::Action::"create",
//!                              file_system::Action::"delete", file_system::Action::"move"],
//!        resource in file_system::Dir::"/etc");
//!
//! @id("phi-only-for-treatment") @invariant("never")
//! permit(principal, action == file_system::Action::"read", resource)
//! when { resource.labels.categories.contains("phi") && context.purpose != "treatment" };
//!
//! // Every request it matches is permitted.
//! @id("ops-read-logs") @invariant("always")
//! permit(principal in Group::"ops", action == file_system::Action::"read",
//!        resource in file_system::Dir::"/var/log/app");
//!
//! // The policy's forbid `no-secrets` is never overridden, for the requests this matches.
//! @id("secrets-stay-forbidden") @invariant("holds") @policy("no-secrets")
//! forbid(principal, action, resource);
//! ```
//!
//! - `never` (a permit): the policy permits no request the statement matches.
//! - `always` (a permit): the policy permits every request the statement matches.
//! - `holds` (a forbid, with `@policy("ID")` naming a forbid of the policy by its `@id`):
//!   among the requests the statement matches, none is permitted while the condition of
//!   `ID` errors. A forbid beats every permit, but one whose condition errors (an overflow,
//!   say) is skipped, so "never overridden" is not true by itself: this proves it.
//!
//! A statement matches a request when its scope and conditions are true; one whose
//! condition errors matches nothing. Requests are those of Tollgate's model (see
//! [`model`]): normalized paths, a File below exactly the directories above its path.
//! "Permitted" is the policy's decision as the gate makes it, the run's answer included
//! (`output::Action::"release"` is permitted unless a forbid applies). What the gate refuses
//! whatever the policy says (Tollgate's own files, everything while the host is frozen, data
//! whose deletion was requested, by the labels file's default) comes on top: `always` is
//! about the policy, and `never` holds all the more.
//!
//! # Answers
//!
//! Each invariant is proved (exit 0 if all are), refuted with a counterexample (exit 1) or
//! left unknown (exit [`UNDECIDED`]): the solver gave up within `--timeout` per query, a
//! policy uses something the model does not cover, or the solver's counterexample was not
//! borne out by the gate. A counterexample is always decided again by Tollgate's own gate,
//! under host data (directory, labels) written to give the request what the model gave it;
//! only one the gate decides as the model did is shown. Errors (an invalid policy or
//! invariants file, cvc5 missing or failing) exit 3: without the solver nothing is proved.

mod invariants;
mod model;
mod solver;
mod witness;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use cedar_policy_core::ast::{Effect, Expr, Policy, PolicyID};
use cedar_policy_symcc::{CompiledPolicy, CompiledPolicySet};
use serde_json::{json, Value};
use tollgate_policy::{Decision, Policies, Schema};
use tollgate_script::ErrorType;

use crate::exit;
use crate::printable;

pub use invariants::{Claim, Invariant};
use model::{Env, Model};
use solver::{Answer, Solver};
pub use witness::Witness;

/// Exit code of `policy prove` and `policy diff` when some question was left open (and
/// nothing was refuted): the solver gave up, or a counterexample was not borne out.
pub const UNDECIDED: u8 = 8;

/// How long the solver may take over one query of `policy check`, which has no flag for
/// it: a warning pass should not hold a check up for long.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a proof could not be attempted.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The policy or the invariants file is invalid.
    #[error("{0}")]
    Invalid(String),
    /// cvc5 cannot be started.
    #[error("{0}")]
    NoSolver(String),
    /// cvc5 failed during a query.
    #[error("{0}")]
    Solver(String),
}

/// `tollgate policy prove`.
#[derive(clap::Args)]
#[command(after_long_help = INVARIANTS_HELP)]
pub struct ProveArgs {
    /// The Cedar policy file.
    policy: PathBuf,
    /// The invariants: a Cedar file of statements, each with @id and @invariant("never"),
    /// @invariant("always"), or @invariant("holds") with @policy("ID") (see --help).
    #[arg(long, value_name = "FILE")]
    invariants: PathBuf,
    /// Time the solver may take per query, in seconds (or with a unit: 500ms, 2m).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_timeout)]
    timeout: Duration,
    /// Print one JSON document instead of lines.
    #[arg(long)]
    json: bool,
}

/// `tollgate policy diff`.
#[derive(clap::Args)]
#[command(after_long_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The policy as it was.
    old: PathBuf,
    /// The policy as it is to be.
    new: PathBuf,
    /// Time the solver may take per query, in seconds (or with a unit: 500ms, 2m).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_timeout)]
    timeout: Duration,
    /// Print one JSON document instead of lines.
    #[arg(long)]
    json: bool,
}

const INVARIANTS_HELP: &str = "\
The invariants file is Cedar, validated against Tollgate's schema; each statement is one
invariant with an @id and an @invariant annotation:

  @id(\"no-writes-under-etc\") @invariant(\"never\")
  permit(principal, action in [file_system::Action::\"write\", file_system::Action::\"create\",
         file_system::Action::\"delete\", file_system::Action::\"move\"],
         resource in file_system::Dir::\"/etc\");

  @id(\"phi-only-for-treatment\") @invariant(\"never\")
  permit(principal, action == file_system::Action::\"read\", resource)
  when { resource.labels.categories.contains(\"phi\") && context.purpose != \"treatment\" };

  @id(\"secrets-stay-forbidden\") @invariant(\"holds\") @policy(\"no-secrets\")
  forbid(principal, action, resource);

never (a permit): POLICY permits no request the statement matches.
always (a permit): POLICY permits every request the statement matches.
holds (a forbid, @policy naming a forbid of POLICY by its @id): among the requests the
  statement matches, none is permitted while that forbid's condition errors (an erroring
  forbid is skipped, so a permit would win).

Paths are modelled as the gate makes them: File and Dir ids are normalized absolute paths,
equal to their `path`, and a resource is in Dir D exactly when its path is D or below it.
A refuted invariant prints a counterexample request, decided again by Tollgate's gate.

Exit: 0 every invariant proved, 1 one refuted, 8 one left unknown (solver timeout, or a
policy the model does not cover), 3 an invalid file or no cvc5 (install the cvc5 package,
or set CVC5 to the solver's path).";

const DIFF_HELP: &str = "\
For each action and resource type, whether some request is permitted by OLD and not by NEW,
or by NEW and not by OLD, with a counterexample request for each, decided again by
Tollgate's gate under both policies.

Exit: 0 equivalent, 1 they differ, 8 a comparison was left unknown (solver timeout), 3 an
invalid file or no cvc5 (install the cvc5 package, or set CVC5 to the solver's path).";

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = match s.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
        Ok(_) => return Err(format!("{s} is not a positive number of seconds")),
        Err(_) => crate::run::parse_duration(s)?,
    };
    if d.is_zero() {
        return Err("the timeout must be more than 0".to_owned());
    }
    Ok(d)
}

/// A policy file as SymCC and the gate both take it: its text, its statements, their names.
pub(crate) struct PolicyFile {
    name: String,
    text: String,
    /// Each statement with its name (`@id`, else `file:line`), in file order.
    statements: Vec<(Policy, String)>,
    /// The same, validated, for the gate.
    policies: Policies,
    schema: Schema,
}

impl PolicyFile {
    fn load(path: &Path) -> Result<PolicyFile, ProveError> {
        let (schema, policies) =
            Policies::load_with_schema(path).map_err(|e| ProveError::Invalid(e.to_string()))?;
        PolicyFile::of(&path.display().to_string(), schema, &policies)
    }

    /// A policy validated as a run validates it.
    pub(crate) fn of(
        name: &str,
        schema: Schema,
        policies: &Policies,
    ) -> Result<PolicyFile, ProveError> {
        let text = policies.text().to_owned();
        let set = cedar_policy::PolicySet::from_str(&text)
            .map_err(|e| ProveError::Invalid(format!("{name}: {e}")))?;
        let mut statements: Vec<(Policy, String, usize)> = set
            .policies()
            .map(|p| {
                let core: &Policy = p.as_ref();
                let at = core.loc().map_or(usize::MAX, |l| l.span.offset());
                (core.clone(), policies.name(p.id()), at)
            })
            .collect();
        statements.sort_by_key(|(_, _, at)| *at);
        Ok(PolicyFile {
            name: name.to_owned(),
            text,
            statements: statements.into_iter().map(|(p, n, _)| (p, n)).collect(),
            policies: policies.clone(),
            schema,
        })
    }

    fn parse(name: &str, text: &str) -> Result<PolicyFile, ProveError> {
        let schema = Schema::tollgate().map_err(|e| ProveError::Invalid(e.to_string()))?;
        let policies =
            Policies::parse(name, text, &schema).map_err(|e| ProveError::Invalid(e.to_string()))?;
        PolicyFile::of(name, schema, &policies)
    }

    /// The statements that bear on `env`, rewritten for it.
    fn sliced(&self, model: &Model, env: &Env) -> Result<Vec<Policy>, String> {
        self.sliced_near(model, env, None)
    }

    /// The statements that bear on `env` and can match a request placed at one of
    /// `places` (see [`model::near`]), rewritten for it. A query about requests that all
    /// match a statement placed at `places` is answered alike without the others.
    fn sliced_near(
        &self,
        model: &Model,
        env: &Env,
        places: Option<&[String]>,
    ) -> Result<Vec<Policy>, String> {
        self.statements
            .iter()
            .filter(|(p, _)| {
                model.relevant(p, env) && model::near(Model::place(p).as_deref(), places)
            })
            .map(|(p, name)| {
                model
                    .rewrite(p, env)
                    .map_err(|u| format!("policy {name}: {}", u.0))
            })
            .collect()
    }

    /// The name of the statement `p` was rewritten from (it keeps the id).
    fn name_of(&self, p: &Policy) -> Option<&String> {
        self.statements
            .iter()
            .find(|(q, _)| q.id() == p.id())
            .map(|(_, n)| n)
    }

    fn named(&self, name: &str) -> Option<&Policy> {
        self.statements
            .iter()
            .find(|(_, n)| n == name)
            .map(|(p, _)| p)
    }

    /// Whether the gate permits `w` under this policy; a request the gate cannot be given
    /// (host data that does not load) counts as not permitted.
    fn permits(&self, w: &Witness) -> bool {
        self.decide(w).is_ok_and(|d| d.permitted)
    }

    fn decide(&self, w: &Witness) -> Result<Decision, String> {
        w.decide(&self.schema, &self.policies)
    }

    /// Another text judged with this one's schema (a statement, or this policy changed).
    fn other(&self, name: &str, text: &str) -> Result<Policies, String> {
        Policies::parse(name, text, &self.schema).map_err(|e| e.to_string())
    }
}

/// The outcome of one invariant.
pub struct Outcome {
    pub id: String,
    pub claim: Claim,
    pub verdict: Verdict,
}

pub enum Verdict {
    Proved,
    /// A request that breaks the invariant, and how the gate decided it under the policy.
    Refuted {
        witness: Box<Witness>,
        decision: Decision,
    },
    /// Why it is neither proved nor refuted.
    Unknown(String),
}

impl Verdict {
    fn word(&self) -> &'static str {
        match self {
            Verdict::Proved => "proved",
            Verdict::Refuted { .. } => "refuted",
            Verdict::Unknown(_) => "unknown",
        }
    }
}

/// Proves the invariants of the file `invariants` (named `invariants_name` in messages)
/// against the policy `policy` (named `policy_name`), each query given `timeout`.
///
/// Synchronous, and starts a cvc5 process and a Tokio runtime of its own: call it from a
/// plain thread or `spawn_blocking`, not from an async task. `Err` when the policy or the
/// invariants are invalid, or cvc5 cannot be started or fails: nothing is proved then.
pub fn prove_invariants(
    policy_name: &str,
    policy: &str,
    invariants_name: &str,
    invariants: &str,
    timeout: Duration,
) -> Result<Vec<Outcome>, ProveError> {
    let policy = PolicyFile::parse(policy_name, policy)?;
    let invariants = invariants::parse(invariants_name, invariants).map_err(ProveError::Invalid)?;
    Prover::start(timeout)?.prove_all(&policy, invariants_name, &invariants)
}

/// The policy compiled for an environment and the place its requests are at (see
/// [`model::near`]), shared by the invariants about that place.
type Compiled = HashMap<(usize, Option<String>), Result<CompiledPolicySet, String>>;

/// The model, the solver, and what was compiled for one policy.
struct Prover {
    model: Model,
    solver: Solver,
}

/// One invariant asked of one policy.
#[derive(Clone, Copy)]
struct Question<'a> {
    policy: &'a PolicyFile,
    invariants_name: &'a str,
    inv: &'a Invariant,
    /// What the statement matches, as a permit.
    matched: &'a Policy,
    /// For holds: the policy's forbid named.
    forbid: Option<&'a Policy>,
}

/// What a query concluded in one environment.
enum Step {
    Holds,
    Open(String),
    /// A counterexample the gate bore out, with the gate's decision under the policy.
    Refuted(Box<Witness>, Decision),
}

impl Prover {
    fn start(timeout: Duration) -> Result<Prover, ProveError> {
        let model = Model::new().map_err(ProveError::Solver)?;
        let solver = Solver::start(timeout)?;
        Ok(Prover { model, solver })
    }

    fn compile(&self, policies: &[Policy], env: &Env) -> Result<CompiledPolicySet, String> {
        self.model.compile(policies, env)
    }

    /// `policies` with the model's limits for `env` added.
    fn with_limits(&self, mut policies: Vec<Policy>, env: &Env) -> Vec<Policy> {
        policies.extend(self.model.canonical(env));
        policies
    }

    /// A policy's statements as the gate decides with them in `env`: with the model's
    /// limits and what the gate permits by default.
    fn as_gate(&self, policies: Vec<Policy>, env: &Env) -> Vec<Policy> {
        let mut policies = self.with_limits(policies, env);
        policies.extend(self.model.gate_default(env));
        policies
    }

    /// Why the gate's decisions in `env` may differ from the model's for `policies`: where
    /// the gate refuses when a policy errors, one that can error; `None` when none can.
    fn errors_differ(
        model: &Model,
        solver: &mut Solver,
        policies: &[Policy],
        env: &Env,
    ) -> Result<Option<String>, ProveError> {
        if !model.errors_matter(env) {
            return Ok(None);
        }
        for p in policies {
            let compiled = CompiledPolicy::compile(
                &cedar_policy::Policy::from(p.clone()),
                &env.request_env,
                &model.schema,
            );
            let answer = match compiled {
                Ok(c) => solver.never_errors(&c)?,
                Err(e) => return Ok(Some(e.to_string())),
            };
            match answer {
                Answer::Holds => {}
                Answer::Fails(()) => {
                    return Ok(Some(format!(
                        "{}: a policy's condition can error there, and the gate then refuses, which the model does not show",
                        env.describe()
                    )))
                }
                Answer::Unknown(why) => return Ok(Some(format!("{}: {why}", env.describe()))),
            }
        }
        Ok(None)
    }

    fn prove_all(
        &mut self,
        policy: &PolicyFile,
        invariants_name: &str,
        invariants: &[Invariant],
    ) -> Result<Vec<Outcome>, ProveError> {
        // The policy compiled for each environment, shared by the invariants.
        let mut compiled: Compiled = HashMap::new();
        let mut out = Vec::new();
        for inv in invariants {
            let verdict = self.prove(policy, invariants_name, inv, &mut compiled)?;
            out.push(Outcome {
                id: inv.id.clone(),
                claim: inv.claim.clone(),
                verdict,
            });
        }
        Ok(out)
    }

    fn prove(
        &mut self,
        policy: &PolicyFile,
        invariants_name: &str,
        inv: &Invariant,
        compiled: &mut Compiled,
    ) -> Result<Verdict, ProveError> {
        let forbid = match &inv.claim {
            Claim::Holds { policy: name } => match policy.named(name) {
                Some(p) if p.effect() == Effect::Forbid => Some(p.clone()),
                Some(_) => {
                    return Err(ProveError::Invalid(format!(
                        "invariant {}: policy {name} of {} is a permit; @policy names the forbid that must hold",
                        inv.id, policy.name
                    )))
                }
                None => {
                    return Err(ProveError::Invalid(format!(
                        "invariant {}: {} has no policy @id(\"{name}\")",
                        inv.id, policy.name
                    )))
                }
            },
            _ => None,
        };
        // What the statement matches, as a permit: a holds statement is written as a forbid.
        let matched = Policy::from_when_clause(
            Effect::Permit,
            inv.statement.condition(),
            PolicyID::from_string("tollgate-invariant"),
            None,
        );
        let mut open: Option<String> = None;
        for i in 0..self.model.envs.len() {
            let env = &self.model.envs[i];
            if !self.model.relevant(&inv.statement, env)
                || forbid
                    .as_ref()
                    .is_some_and(|f| !self.model.relevant(f, env))
            {
                continue;
            }
            let question = Question {
                policy,
                invariants_name,
                inv,
                matched: &matched,
                forbid: forbid.as_ref(),
            };
            let step = self.prove_in(&question, i, compiled);
            match step? {
                Step::Holds => {}
                Step::Open(why) => {
                    open.get_or_insert(why);
                }
                Step::Refuted(witness, decision) => {
                    return Ok(Verdict::Refuted { witness, decision })
                }
            }
        }
        Ok(open.map_or(Verdict::Proved, Verdict::Unknown))
    }

    fn prove_in(
        &mut self,
        q: &Question<'_>,
        i: usize,
        compiled: &mut Compiled,
    ) -> Result<Step, ProveError> {
        let Question {
            policy,
            invariants_name,
            inv,
            matched,
            forbid,
        } = *q;
        let env = &self.model.envs[i];
        let statement = match self.model.rewrite(matched, env) {
            Ok(s) => s,
            Err(u) => return Ok(Step::Open(format!("invariant {}: {}", inv.id, u.0))),
        };
        let statement = match self.compile(&self.with_limits(vec![statement], env), env) {
            Ok(s) => s,
            Err(e) => return Ok(Step::Open(e)),
        };
        // Every request the question is about matches the statement, so the policies placed
        // where it is not can be left out.
        let place = Model::place(&inv.statement);
        let near = place.clone().map(|p| vec![p]);
        let near = near.as_deref();
        let answer = match (&inv.claim, forbid) {
            (Claim::Holds { .. }, Some(forbid)) => {
                let policies = match policy.sliced_near(&self.model, env, near) {
                    Ok(p) => p,
                    Err(e) => return Ok(Step::Open(e)),
                };
                let rewritten = match self.model.rewrite(forbid, env) {
                    Ok(f) => f,
                    Err(u) => return Ok(Step::Open(u.0)),
                };
                // A forbid whose condition cannot error holds wherever it is.
                let alone = CompiledPolicy::compile(
                    &cedar_policy::Policy::from(rewritten.clone()),
                    &env.request_env,
                    &self.model.schema,
                );
                match alone {
                    Ok(alone) => match self.solver.never_errors(&alone)? {
                        Answer::Holds => return Ok(Step::Holds),
                        Answer::Fails(()) => {}
                        Answer::Unknown(why) => {
                            return Ok(Step::Open(format!("{}: {why}", env.describe())))
                        }
                    },
                    Err(e) => return Ok(Step::Open(e.to_string())),
                }
                let mut with_errors = self.with_limits(policies, env);
                with_errors.push(when_it_errors(&rewritten));
                let set = match self.compile(&with_errors, env) {
                    Ok(s) => s,
                    Err(e) => return Ok(Step::Open(e)),
                };
                self.solver.disjoint(&set, &statement)?
            }
            _ => {
                // An always question must not overstate what the gate permits: only where
                // its refusal when a policy errors cannot come into it.
                let always = inv.claim == Claim::Always;
                if always {
                    let policies = match policy.sliced_near(&self.model, env, near) {
                        Ok(p) => p,
                        Err(e) => return Ok(Step::Open(e)),
                    };
                    if let Some(why) =
                        Self::errors_differ(&self.model, &mut self.solver, &policies, env)?
                    {
                        return Ok(Step::Open(why));
                    }
                }
                let key = (i, place);
                if let std::collections::hash_map::Entry::Vacant(slot) = compiled.entry(key.clone())
                {
                    let set = policy
                        .sliced_near(&self.model, env, near)
                        .and_then(|p| self.compile(&self.as_gate(p, env), env));
                    slot.insert(set);
                }
                let set = match &compiled[&key] {
                    Ok(s) => s,
                    Err(e) => return Ok(Step::Open(e.clone())),
                };
                if inv.claim == Claim::Never {
                    self.solver.disjoint(set, &statement)?
                } else {
                    self.solver.implies(&statement, set)?
                }
            }
        };
        let model = match answer {
            Answer::Holds => return Ok(Step::Holds),
            Answer::Unknown(why) => return Ok(Step::Open(format!("{}: {why}", env.describe()))),
            Answer::Fails(model) => model,
        };
        let not_borne = |why: String| {
            Ok(Step::Open(format!(
                "{}: the solver's counterexample is not one the gate bears out ({why})",
                env.describe()
            )))
        };
        let witness = match Witness::realize(&model) {
            Ok(w) => w,
            Err(why) => return not_borne(why),
        };
        // The gate decides the request under the policy and under the statement as written
        // (not as rewritten for the model).
        let statement_text = match &inv.claim {
            Claim::Holds { .. } => format!(
                "permit(principal, action, resource) when {{ {} }};",
                inv.statement.condition()
            ),
            _ => inv.text.clone(),
        };
        let statement = match policy.other(invariants_name, &statement_text) {
            Ok(s) => s,
            Err(why) => return not_borne(why),
        };
        // For holds: the policy with a forbid of what the named forbid's condition makes
        // false, which then permits only where that condition errors.
        let with_errors = match forbid {
            Some(forbid) => {
                let text = format!(
                    "{}\nforbid(principal, action, resource) when {{ !({}) }};",
                    policy.text,
                    forbid.condition()
                );
                match policy.other(&policy.name, &text) {
                    Ok(p) => Some(p),
                    Err(why) => return not_borne(why),
                }
            }
            None => None,
        };
        let under =
            |w: &Witness, p: &Policies| w.decide(&policy.schema, p).is_ok_and(|d| d.permitted);
        let matched = |w: &Witness| w.matches(&policy.schema, &statement).unwrap_or(false);
        let borne = |w: &Witness| match (&inv.claim, &with_errors) {
            (Claim::Never, _) => policy.permits(w) && matched(w),
            (Claim::Always, _) => matched(w) && !policy.permits(w),
            (Claim::Holds { .. }, Some(with_errors)) => matched(w) && under(w, with_errors),
            (Claim::Holds { .. }, None) => false,
        };
        // The model gives every attribute some value; the simplest request that still
        // breaks the invariant is shown (and a value the gate cannot be given, such as
        // labels that two rules would merge, may be one the question does not turn on).
        let witness = witness.simplify(borne);
        if !borne(&witness) {
            let verdict = match policy.decide(&witness) {
                Ok(d) => format!(
                    "as the gate makes the request, the policy {} it and the statement {} it; \
                     the model may turn on what the gate gives no offline request, such as \
                     context.taint",
                    if d.permitted { "permits" } else { "denies" },
                    if matched(&witness) {
                        "matches"
                    } else {
                        "does not match"
                    }
                ),
                Err(e) => e,
            };
            return not_borne(verdict);
        }
        match policy.decide(&witness) {
            Ok(decision) => Ok(Step::Refuted(Box::new(witness), decision)),
            Err(why) => not_borne(why),
        }
    }
}

/// A forbid that matches when `forbid`'s condition is false: with it, a policy that
/// contains `forbid` permits only requests for which `forbid`'s condition errors.
fn when_it_errors(forbid: &Policy) -> Policy {
    Policy::from_when_clause(
        Effect::Forbid,
        Expr::not(forbid.condition()),
        PolicyID::from_string("tollgate-forbid-holds-unless-it-errors"),
        None,
    )
}

/// `tollgate policy prove`.
pub fn prove_main(args: ProveArgs) -> ExitCode {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|e| ProveError::Invalid(format!("{}: {e}", p.display())))
    };
    let result = (|| {
        prove_invariants(
            &args.policy.display().to_string(),
            &read(&args.policy)?,
            &args.invariants.display().to_string(),
            &read(&args.invariants)?,
            args.timeout,
        )
    })();
    let outcomes = match result {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let count = |w: &str| outcomes.iter().filter(|o| o.verdict.word() == w).count();
    let (proved, refuted, unknown) = (count("proved"), count("refuted"), count("unknown"));
    if args.json {
        let results: Vec<Value> = outcomes.iter().map(Outcome::to_json).collect();
        println!(
            "{}",
            json!({
                "policy": args.policy.display().to_string(),
                "invariants": args.invariants.display().to_string(),
                "results": results,
                "proved": proved,
                "refuted": refuted,
                "unknown": unknown,
            })
        );
    } else {
        for o in &outcomes {
            for line in outcome_lines(o) {
                println!("{}", printable::line(&line));
            }
        }
        println!(
            "{}: {} invariants: {proved} proved, {refuted} refuted, {unknown} unknown",
            printable::line(&args.policy.display().to_string()),
            outcomes.len()
        );
    }
    if refuted > 0 {
        ExitCode::FAILURE
    } else if unknown > 0 {
        ExitCode::from(UNDECIDED)
    } else {
        ExitCode::SUCCESS
    }
}

fn fail(e: &ProveError) -> ExitCode {
    eprintln!("tollgate: {}", printable::text(&e.to_string()));
    exit::exit_code(Some(ErrorType::Validation))
}

fn decided_by(d: &Decision) -> String {
    let by = if d.policies.is_empty() {
        String::new()
    } else {
        format!(" by {}", d.policies.join(", "))
    };
    let errors: String = d
        .errors
        .iter()
        .map(|e| format!("; policy error: {e}"))
        .collect();
    format!(
        "{}{by}{errors}",
        if d.permitted { "permitted" } else { "denied" }
    )
}

fn outcome_lines(o: &Outcome) -> Vec<String> {
    let head = format!("{} ({})", o.id, o.claim.word());
    match &o.verdict {
        Verdict::Proved => vec![format!("proved   {head}")],
        Verdict::Unknown(why) => vec![format!("unknown  {head}: {why}")],
        Verdict::Refuted { witness, decision } => {
            let what = match &o.claim {
                Claim::Never => "the policy permits a request the statement matches".to_owned(),
                Claim::Always => "the policy denies a request the statement matches".to_owned(),
                Claim::Holds { policy } => {
                    format!("a request is permitted while the condition of {policy} errors")
                }
            };
            let mut out = vec![format!("REFUTED  {head}: {what}")];
            out.extend(witness.lines().into_iter().map(|l| format!("    {l}")));
            out.push(format!("    the gate: {}", decided_by(decision)));
            out
        }
    }
}

fn decision_json(d: &Decision) -> Value {
    json!({"permitted": d.permitted, "policies": d.policies, "errors": d.errors})
}

impl Outcome {
    /// The outcome as `policy prove --json` prints it: `id`, `claim`, `result` (`proved`,
    /// `refuted`, `unknown`), and `reason` or `counterexample` and `decision`.
    pub fn to_json(&self) -> Value {
        let mut v =
            json!({"id": self.id, "claim": self.claim.word(), "result": self.verdict.word()});
        if let Claim::Holds { policy } = &self.claim {
            v["policy"] = json!(policy);
        }
        match &self.verdict {
            Verdict::Proved => {}
            Verdict::Unknown(why) => v["reason"] = json!(why),
            Verdict::Refuted { witness, decision } => {
                v["counterexample"] = witness.to_json();
                v["decision"] = decision_json(decision);
            }
        }
        v
    }
}

/// Which policy of a diff permits what the other does not.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    Old,
    New,
}

/// A kind of request one policy permits and the other does not.
struct Difference {
    action: String,
    resource: String,
    permitted_by: Side,
    witness: Witness,
    old: Decision,
    new: Decision,
}

/// `tollgate policy diff`.
pub fn diff_main(args: DiffArgs) -> ExitCode {
    let result = (|| {
        let old = PolicyFile::load(&args.old)?;
        let new = PolicyFile::load(&args.new)?;
        Prover::start(args.timeout)?.diff(&old, &new)
    })();
    let (differences, open) = match result {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let side = |s: Side| match s {
        Side::Old => "OLD permits, NEW does not",
        Side::New => "NEW permits, OLD does not",
    };
    if args.json {
        let list: Vec<Value> = differences
            .iter()
            .map(|d| {
                json!({
                    "action": d.action,
                    "resource_type": d.resource,
                    "permitted_by": if d.permitted_by == Side::Old { "old" } else { "new" },
                    "counterexample": d.witness.to_json(),
                    "old": decision_json(&d.old),
                    "new": decision_json(&d.new),
                })
            })
            .collect();
        println!(
            "{}",
            json!({
                "old": args.old.display().to_string(),
                "new": args.new.display().to_string(),
                "equivalent": differences.is_empty() && open.is_empty(),
                "differences": list,
                "unknown": open,
            })
        );
    } else {
        let mut heading = String::new();
        for d in &differences {
            let mut lines = Vec::new();
            let this = format!("{} on {}: {}", d.action, d.resource, side(d.permitted_by));
            if this != heading {
                lines.push(this.clone());
                heading = this;
            }
            lines.extend(d.witness.lines().into_iter().map(|l| format!("    {l}")));
            lines.push(format!("    OLD: {}", decided_by(&d.old)));
            lines.push(format!("    NEW: {}", decided_by(&d.new)));
            for l in lines {
                println!("{}", printable::line(&l));
            }
        }
        for why in &open {
            println!("{}", printable::line(&format!("unknown: {why}")));
        }
        let names = format!("{} -> {}", args.old.display(), args.new.display());
        let summary = if differences.is_empty() && open.is_empty() {
            format!("{names}: equivalent: every request is decided alike")
        } else {
            format!(
                "{names}: {} differences, {} comparisons unknown",
                differences.len(),
                open.len()
            )
        };
        println!("{}", printable::line(&summary));
    }
    if !differences.is_empty() {
        ExitCode::FAILURE
    } else if !open.is_empty() {
        ExitCode::from(UNDECIDED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The statements of a sliced set, as text, in a canonical order: two environments whose
/// sets are the same text are decided alike without asking the solver.
fn fingerprint(policies: &[Policy]) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| format!("{:?} {}", p.effect(), p.condition()))
        .collect();
    out.sort();
    out
}

/// Where the statements of `env` that are not in both policies alike are placed (see
/// [`model::near`]); `None` when one of them may be anywhere.
fn changed_places(
    old: &PolicyFile,
    new: &PolicyFile,
    model: &Model,
    env: &Env,
) -> Option<Vec<String>> {
    let text = |p: &Policy| {
        model
            .rewrite(p, env)
            .map(|r| format!("{:?} {}", r.effect(), r.condition()))
            .ok()
    };
    let statements = |f: &PolicyFile| -> Vec<(Option<String>, Option<String>)> {
        f.statements
            .iter()
            .filter(|(p, _)| model.relevant(p, env))
            .map(|(p, _)| (text(p), Model::place(p)))
            .collect()
    };
    let (o, n) = (statements(old), statements(new));
    let mut places = Vec::new();
    for (mine, theirs) in [(&o, &n), (&n, &o)] {
        for (t, place) in mine {
            if t.is_none() || !theirs.iter().any(|(u, _)| u == t) {
                places.push(place.clone()?);
            }
        }
    }
    Some(places)
}

/// At most this many differences are listed per action, resource type and direction, each
/// permitted by statements the ones before it were not.
const DIFFERENCES_PER_KIND: usize = 8;

impl Prover {
    /// Every kind of request one policy permits and the other does not: per action and
    /// resource type and direction, a counterexample, then others permitted by other
    /// statements (the statements that permitted the ones found are left out of the next
    /// query: what the rest permit and the other policy does not is a difference too).
    fn diff(
        &mut self,
        old: &PolicyFile,
        new: &PolicyFile,
    ) -> Result<(Vec<Difference>, Vec<String>), ProveError> {
        let mut found: BTreeMap<(String, String, Side), Vec<Difference>> = BTreeMap::new();
        let mut open = Vec::new();
        for env in &self.model.envs {
            let (o, n) = match (old.sliced(&self.model, env), new.sliced(&self.model, env)) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(e), _) | (_, Err(e)) => {
                    open.push(e);
                    continue;
                }
            };
            // Where the gate permits by default, forbids alone make a difference.
            let by_default = self.model.gate_default(env).is_some();
            let permits =
                |s: &[Policy]| by_default || s.iter().any(|p| p.effect() == Effect::Permit);
            if (!permits(&o) && !permits(&n)) || fingerprint(&o) == fingerprint(&n) {
                continue;
            }
            // A request decided differently matches a statement that is not in both alike;
            // the statements placed where none of those is can be left out of both.
            let places = changed_places(old, new, &self.model, env);
            let (o, n) = match (
                old.sliced_near(&self.model, env, places.as_deref()),
                new.sliced_near(&self.model, env, places.as_deref()),
            ) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(e), _) | (_, Err(e)) => {
                    open.push(e);
                    continue;
                }
            };
            let all: Vec<Policy> = o.iter().chain(&n).cloned().collect();
            if let Some(why) = Self::errors_differ(&self.model, &mut self.solver, &all, env)? {
                open.push(why);
                continue;
            }
            let sets = self
                .model
                .compile(&self.as_gate(o.clone(), env), env)
                .and_then(|os| Ok((os, self.model.compile(&self.as_gate(n.clone(), env), env)?)));
            let (os, ns) = match sets {
                Ok(s) => s,
                Err(e) => {
                    open.push(e);
                    continue;
                }
            };
            for (side, this, other, mine, theirs) in [
                (Side::Old, old, new, &o, &ns),
                (Side::New, new, old, &n, &os),
            ] {
                let list = found
                    .entry((env.action.clone(), env.resource.clone(), side))
                    .or_default();
                let mut blamed: Vec<String> = list
                    .iter()
                    .flat_map(|d: &Difference| d.blame().to_vec())
                    .collect();
                while list.len() < DIFFERENCES_PER_KIND {
                    let rest: Vec<Policy> = mine
                        .iter()
                        .filter(|p| !this.name_of(p).is_some_and(|n| blamed.contains(n)))
                        .cloned()
                        .collect();
                    if !permits(&rest) {
                        break;
                    }
                    let rest = match self.model.compile(&self.as_gate(rest, env), env) {
                        Ok(r) => r,
                        Err(e) => {
                            open.push(e);
                            break;
                        }
                    };
                    let model = match self.solver.implies(&rest, theirs)? {
                        Answer::Holds => break,
                        Answer::Unknown(why) => {
                            open.push(format!("{}: {why}", env.describe()));
                            break;
                        }
                        Answer::Fails(m) => m,
                    };
                    let borne = |w: &Witness| this.permits(w) && !other.permits(w);
                    let witness = match Witness::realize(&model).map(|w| w.simplify(borne)) {
                        Ok(w) if borne(&w) => w,
                        Ok(_) => {
                            open.push(format!(
                                "{}: the solver's counterexample is not one the gate bears out",
                                env.describe()
                            ));
                            break;
                        }
                        Err(why) => {
                            open.push(format!(
                                "{}: the solver's counterexample is not one the gate bears out ({why})",
                                env.describe()
                            ));
                            break;
                        }
                    };
                    let decisions = old
                        .decide(&witness)
                        .and_then(|o| Ok((o, new.decide(&witness)?)));
                    let (old_d, new_d) = match decisions {
                        Ok(d) => d,
                        Err(why) => {
                            open.push(format!("{}: {why}", env.describe()));
                            break;
                        }
                    };
                    let d = Difference {
                        action: env.action.clone(),
                        resource: env.resource.clone(),
                        permitted_by: side,
                        witness,
                        old: old_d,
                        new: new_d,
                    };
                    let fresh: Vec<String> = d
                        .blame()
                        .iter()
                        .filter(|b| !blamed.contains(b))
                        .cloned()
                        .collect();
                    list.push(d);
                    if fresh.is_empty() {
                        break;
                    }
                    blamed.extend(fresh);
                }
            }
        }
        Ok((found.into_values().flatten().collect(), open))
    }
}

impl Difference {
    /// The statements of the permitting policy that permitted it.
    fn blame(&self) -> &[String] {
        match self.permitted_by {
            Side::Old => &self.old.policies,
            Side::New => &self.new.policies,
        }
    }
}

/// A permit `policy check` found can never apply.
pub(crate) struct NeverApplies {
    pub(crate) policy: String,
    pub(crate) message: String,
}

/// The permits of `policies` that can never apply: no request satisfies their scope and
/// conditions, or every request they match is forbidden by a forbid. `Err` when cvc5 is
/// not there (the caller skips the check with a note); the second list says which permits
/// could not be decided, and why.
pub(crate) fn never_applying_permits(
    name: &str,
    policies: &Policies,
) -> Result<(Vec<NeverApplies>, Vec<String>), ProveError> {
    let schema = Schema::tollgate().map_err(|e| ProveError::Invalid(e.to_string()))?;
    let file = PolicyFile::of(name, schema, policies)?;
    let mut prover = Prover::start(CHECK_TIMEOUT)?;
    prover.never_applying(&file)
}

impl Prover {
    fn never_applying(
        &mut self,
        file: &PolicyFile,
    ) -> Result<(Vec<NeverApplies>, Vec<String>), ProveError> {
        let mut found = Vec::new();
        let mut open = Vec::new();
        for (permit, name) in &file.statements {
            if permit.effect() != Effect::Permit {
                continue;
            }
            match self.never_applies(file, permit)? {
                Ok(None) => {}
                Ok(Some(message)) => found.push(NeverApplies {
                    policy: name.clone(),
                    message,
                }),
                Err(why) => open.push(format!("policy {name}: {why}")),
            }
        }
        Ok((found, open))
    }

    /// `Ok(Some(why))` when `permit` can never apply, `Ok(None)` when it can, `Err` when
    /// that could not be decided.
    fn never_applies(
        &mut self,
        file: &PolicyFile,
        permit: &Policy,
    ) -> Result<Result<Option<String>, String>, ProveError> {
        let envs: Vec<usize> = (0..self.model.envs.len())
            .filter(|&i| self.model.relevant(permit, &self.model.envs[i]))
            .collect();
        if envs.is_empty() {
            return Ok(Ok(Some(
                "can never apply: no action, principal and resource type of the schema fit its scope"
                    .to_owned(),
            )));
        }
        let place = Model::place(permit).map(|p| vec![p]);
        let near = |p: &Policy| model::near(Model::place(p).as_deref(), place.as_deref());
        let forbids = |env: &Env| -> Result<Vec<Policy>, String> {
            let mut out = Vec::new();
            for (p, name) in &file.statements {
                if p.effect() == Effect::Forbid && self.model.relevant(p, env) && near(p) {
                    out.push(
                        self.model
                            .rewrite(p, env)
                            .map_err(|u| format!("policy {name}: {}", u.0))?,
                    );
                }
            }
            Ok(out)
        };
        // Where the permit can match (but every request it matches is forbidden): the
        // question with the forbids first, as a permit that is effective somewhere, the
        // usual case, is then settled by one query.
        let mut matching: Vec<(usize, Policy)> = Vec::new();
        for &i in &envs {
            let env = &self.model.envs[i];
            let rewritten = match self.model.rewrite(permit, env) {
                Ok(p) => p,
                Err(u) => return Ok(Err(u.0)),
            };
            let forbids = match forbids(env) {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            let mut with_forbids = self.with_limits(vec![rewritten.clone()], env);
            with_forbids.extend(forbids);
            let set = match self.compile(&with_forbids, env) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            match self.solver.always_denies(&set)? {
                // It is effective here: nothing to report.
                Answer::Fails(()) => return Ok(Ok(None)),
                Answer::Unknown(why) => return Ok(Err(format!("{}: {why}", env.describe()))),
                Answer::Holds => {}
            }
            let alone = match self.compile(&self.with_limits(vec![rewritten.clone()], env), env) {
                Ok(s) => s,
                Err(e) => return Ok(Err(e)),
            };
            match self.solver.always_denies(&alone)? {
                Answer::Holds => {}
                Answer::Unknown(why) => return Ok(Err(format!("{}: {why}", env.describe()))),
                Answer::Fails(()) => matching.push((i, rewritten)),
            }
        }
        if matching.is_empty() {
            return Ok(Ok(Some(
                "can never apply: no request satisfies its scope and conditions".to_owned(),
            )));
        }
        // Shadowed. Name the fewest forbids that do it: from every forbid, each is left out
        // in turn, and stays out if the others still forbid all it matches.
        let mut needed: Vec<&(Policy, String)> = file
            .statements
            .iter()
            .filter(|(p, _)| p.effect() == Effect::Forbid && near(p))
            .collect();
        for k in (0..needed.len()).rev() {
            let mut fewer = needed.clone();
            fewer.remove(k);
            if self.shadow(&matching, &fewer)? {
                needed = fewer;
            }
        }
        let names: Vec<&str> = needed.iter().map(|(_, n)| n.as_str()).collect();
        let by = match names.as_slice() {
            [one] => (*one).to_owned(),
            [rest @ .., last] => format!("{} and {last} together", rest.join(", ")),
            [] => "the forbids".to_owned(),
        };
        Ok(Ok(Some(format!(
            "can never apply: every request it matches is forbidden by {by}"
        ))))
    }

    /// Whether `forbids` forbid every request the permit matches in each of `matching`
    /// (environments, with the permit rewritten for each).
    fn shadow(
        &mut self,
        matching: &[(usize, Policy)],
        forbids: &[&(Policy, String)],
    ) -> Result<bool, ProveError> {
        for (i, rewritten) in matching {
            let env = &self.model.envs[*i];
            let mut set = self.with_limits(vec![rewritten.clone()], env);
            for (f, _) in forbids {
                if self.model.relevant(f, env) {
                    match self.model.rewrite(f, env) {
                        Ok(f) => set.push(f),
                        Err(_) => return Ok(false),
                    }
                }
            }
            let Ok(set) = self.compile(&set, env) else {
                return Ok(false);
            };
            if !matches!(self.solver.always_denies(&set)?, Answer::Holds) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Prints, as `policy check` prints its warnings, each permit of `policies` that can never
/// apply, and returns how many. Without cvc5 the check is skipped with a one-line note:
/// `policy check` works without the solver.
pub(crate) fn report_never_applying(file: &Path, policies: &Policies) -> usize {
    let name = file.display().to_string();
    match never_applying_permits(&name, policies) {
        Ok((found, open)) => {
            for n in &found {
                let warning = format!("warning: policy {}: {}", n.policy, n.message);
                println!("{}", printable::line(&warning));
            }
            for why in &open {
                let note = format!("note: not known whether it can apply: {why}");
                eprintln!("{}", printable::line(&note));
            }
            found.len()
        }
        Err(e) => {
            let note = match e {
                ProveError::NoSolver(_) => "note: cvc5 not found, so permits that can never apply were not looked for (install the cvc5 package)".to_owned(),
                other => format!("note: permits that can never apply were not looked for: {other}"),
            };
            eprintln!("{}", printable::line(&note));
            0
        }
    }
}
