//! One cvc5 process for all the queries of a command, driven through SymCC on a runtime of
//! its own, with a time limit per query.

use std::time::Duration;

use cedar_policy_symcc::err::Error;
use cedar_policy_symcc::solver::LocalSolver;
use cedar_policy_symcc::{CedarSymCompiler, CompiledPolicy, CompiledPolicySet, Env as Model};

use super::ProveError;

/// What a query found.
pub(crate) enum Answer<T> {
    /// The property holds for every request of the environment.
    Holds,
    /// It fails; what the solver gave (a counterexample, for the queries that ask one).
    Fails(T),
    /// The question was not answered: the solver gave up within the time limit, or its
    /// model could not be read back.
    Unknown(String),
}

pub(crate) struct Solver {
    runtime: tokio::runtime::Runtime,
    symcc: CedarSymCompiler<LocalSolver>,
}

impl Solver {
    /// Starts cvc5: the `CVC5` environment variable names it, else `cvc5` on the `PATH`.
    pub(crate) fn start(timeout: Duration) -> Result<Solver, ProveError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ProveError::Solver(format!("cannot start the solver's runtime: {e}")))?;
        let millis = timeout.as_millis().clamp(1, u128::from(u64::MAX));
        let limit = format!("--tlimit-per={millis}");
        // cvc5 before 1.1 refuses the extended string functions SymCC's encoding of `like`
        // and `contains` uses unless they are asked for.
        let args = [limit, "--strings-exp".to_owned()];
        // The process is spawned on the runtime, which reaps it.
        let spawned = runtime.block_on(async { LocalSolver::cvc5_with_args(args) });
        let solver = spawned.map_err(|e| {
            let which = std::env::var("CVC5").unwrap_or_else(|_| "cvc5".to_owned());
            let why = match &e {
                cedar_policy_symcc::solver::SolverError::Io(io) => io.to_string(),
                other => other.to_string(),
            };
            ProveError::NoSolver(format!(
                "cannot start the SMT solver {which:?} ({why}); install the cvc5 package (apt-get install cvc5), or set CVC5 to the solver's path"
            ))
        })?;
        let symcc = CedarSymCompiler::new(solver).map_err(|e| ProveError::Solver(e.to_string()))?;
        Ok(Solver { runtime, symcc })
    }

    /// No request is permitted by both sets; else one that is.
    pub(crate) fn disjoint(
        &mut self,
        a: &CompiledPolicySet,
        b: &CompiledPolicySet,
    ) -> Result<Answer<Model>, ProveError> {
        let symcc = &mut self.symcc;
        let r = self
            .runtime
            .block_on(symcc.check_disjoint_with_counterexample_opt(a, b));
        counterexample(r)
    }

    /// Every request `a` permits, `b` permits; else one it does not.
    pub(crate) fn implies(
        &mut self,
        a: &CompiledPolicySet,
        b: &CompiledPolicySet,
    ) -> Result<Answer<Model>, ProveError> {
        let symcc = &mut self.symcc;
        let r = self
            .runtime
            .block_on(symcc.check_implies_with_counterexample_opt(a, b));
        counterexample(r)
    }

    /// The set permits no request.
    pub(crate) fn always_denies(
        &mut self,
        set: &CompiledPolicySet,
    ) -> Result<Answer<()>, ProveError> {
        let symcc = &mut self.symcc;
        let r = self.runtime.block_on(symcc.check_always_denies_opt(set));
        verdict(r)
    }

    /// The policy's condition never errors.
    pub(crate) fn never_errors(
        &mut self,
        policy: &CompiledPolicy,
    ) -> Result<Answer<()>, ProveError> {
        let symcc = &mut self.symcc;
        let r = self.runtime.block_on(symcc.check_never_errors_opt(policy));
        verdict(r)
    }
}

fn counterexample(r: Result<Option<Model>, Error>) -> Result<Answer<Model>, ProveError> {
    match r {
        Ok(None) => Ok(Answer::Holds),
        Ok(Some(model)) => Ok(Answer::Fails(model)),
        Err(e) => unanswered(e),
    }
}

fn verdict(r: Result<bool, Error>) -> Result<Answer<()>, ProveError> {
    match r {
        Ok(true) => Ok(Answer::Holds),
        Ok(false) => Ok(Answer::Fails(())),
        Err(e) => unanswered(e),
    }
}

/// A query that got no answer. The solver failing (it died, or said something other than
/// sat, unsat or unknown) fails the command, as nothing after it can be trusted; a model
/// that cannot be read back leaves this one question open.
fn unanswered<T>(e: Error) -> Result<Answer<T>, ProveError> {
    match e {
        Error::SolverUnknown => Ok(Answer::Unknown(
            "the solver gave up (time limit per query reached)".to_owned(),
        )),
        Error::SolverError(inner) => Err(ProveError::Solver(format!(
            "the SMT solver failed: {inner}"
        ))),
        other => Ok(Answer::Unknown(format!(
            "the solver's answer could not be used: {other}"
        ))),
    }
}
