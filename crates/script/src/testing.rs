//! What the crate's tests share: the engine and the run that `run` makes, over a gate that
//! permits nothing.

use std::rc::Rc;
use std::sync::Arc;

use rhai::{Engine, Scope};
use tollgate_host::{Host, Interrupt};
use tollgate_policy::{Gate, Policies, Recorder, Schema};

use crate::{Limits, Outcome};

fn host(limits: &Limits) -> Host {
    let schema = Schema::tollgate().unwrap();
    let policies = Policies::parse("empty.cedar", "", &schema).unwrap();
    let gate = Gate::new(
        schema,
        policies,
        "nobody",
        Recorder::Unaudited,
        Arc::default(),
    );
    Host::new(gate, limits.host(), Interrupt::new()).unwrap()
}

/// The engine a run with the default limits uses.
pub(crate) fn engine() -> Engine {
    let limits = Limits::default();
    let sink = Rc::new(crate::logs::LogSink::new(1024));
    crate::build_engine(Rc::new(host(&limits)), sink, &limits, Interrupt::new())
}

/// Runs `script` with no variables.
pub(crate) fn run(script: &str, limits: Limits) -> Outcome {
    crate::run(host(&limits), script, Scope::new(), limits)
}
