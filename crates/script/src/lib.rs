//! Tollgate's script runtime.
//!
//! Builds a Rhai engine with every limit set, the SDK functions bound to the host operations,
//! and nothing else: no `eval`, no module imports, no file or network access of Rhai's own.
//! Runs one script against one [`Host`] and reports its output, error and logs.
//!
//! This crate must never give a script a way to the host that does not go through
//! `tollgate_host` (and so through the gate), and never let a script outrun its limits.

mod args;
mod bindings;
mod error;
mod limits;
mod logs;
mod memory;
#[cfg(test)]
mod parity;
pub mod sdk;
#[cfg(test)]
mod testing;
mod value;

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::mpsc;
use std::thread;

use rhai::packages::{Package, StandardPackage};
use rhai::{Dynamic, Engine, Scope};
use tollgate_host::redact::Counts;
use tollgate_host::{Host, Interrupt};
use tollgate_policy::DecisionCounts;

pub use args::{parse_args, MAX_DEPTH as MAX_ARGS_DEPTH};
pub use bindings::reports::{Alarm, Metric, Reports};
pub use error::{DeniedCall, ErrorType, RunError};
pub use limits::Limits;
pub use logs::LogEntry;
pub use memory::{allocated, exit_when_exhausted, CountingAlloc, EXHAUSTED_EXIT};
pub use value::{human_text, output_text, plain_value};

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// The script's final value (absent when the run failed).
    pub value: Option<Dynamic>,
    pub error: Option<RunError>,
    pub logs: Vec<LogEntry>,
    pub decisions: DecisionCounts,
    /// What was replaced in each file read redacted, by path.
    pub redactions: BTreeMap<String, Counts>,
    /// The metrics and alarms the script published (also when it failed, as in Rex).
    pub reports: Reports,
}

/// Compiles and runs `script` with the variables in `scope`.
pub fn run(host: Host, script: &str, mut scope: Scope<'static>, limits: Limits) -> Outcome {
    error::raised::reset();
    bindings::reports::start(limits.max_output);
    let interrupt = host.interrupt().clone();
    let host = Rc::new(host);
    let sink = Rc::new(logs::LogSink::new(limits.max_output));
    let engine = build_engine(
        Rc::clone(&host),
        Rc::clone(&sink),
        &limits,
        interrupt.clone(),
    );

    // Whatever the run hands back (a value, logs, metrics, or an error a script may have
    // built from what it read) leaves only if its release is permitted.
    let finish = |value: Option<Dynamic>, error: Option<RunError>| {
        let (value, error, withheld) = match host.release_output() {
            Ok(()) => (value, error, false),
            Err(d) => (None, Some(error::of_denial(&d)), true),
        };
        let reports = bindings::reports::take();
        let logs = sink.finish();
        let (logs, mut reports) = if withheld {
            (Vec::new(), bindings::reports::Reports::default())
        } else {
            (logs, reports)
        };
        // Where a candidate policy disagreed: names of requests, none of the data.
        reports.shadow = host.gate().shadow_differences();
        Outcome {
            value,
            error,
            logs,
            decisions: host.gate().counts(),
            redactions: host.redactions(),
            reports,
        }
    };

    let ast = match engine.compile_with_scope(&scope, script) {
        Ok(ast) => ast,
        Err(e) => {
            let msg = format!("the script does not compile: {e}");
            return finish(None, Some(RunError::new(ErrorType::Validation, msg)));
        }
    };

    let stop = watchdog(limits.timeout, interrupt.clone());
    let result = engine.eval_ast_with_scope::<Dynamic>(&mut scope, &ast);
    drop(stop);
    if interrupt.was_killed() {
        let msg = "the host owner stopped this run (tollgate kill)".to_owned();
        return finish(None, Some(RunError::new(ErrorType::AccessDenied, msg)));
    }

    match result {
        Ok(v) => {
            // Rhai checks sizes as most values are built, but not on every path (an indexed
            // assignment can grow a map past its limit); the result is checked in full.
            if let Some(what) = value::oversized(&v, &limits) {
                let msg = format!("the result holds {what}; return less or raise the limit");
                return finish(None, Some(RunError::new(ErrorType::ResourceLimit, msg)));
            }
            let size = output_text(&v).len();
            // The metrics and alarms print with the result and the logs.
            let used = sink.used() + bindings::reports::size();
            let room = limits.max_output.saturating_sub(used);
            if size > room {
                let msg = format!(
                    "the result is {size} bytes and the log, metrics and alarms {used} bytes, more than --max-output ({} bytes) together; return less or raise the limit",
                    limits.max_output
                );
                finish(None, Some(RunError::new(ErrorType::ResourceLimit, msg)))
            } else {
                finish(Some(v), None)
            }
        }
        Err(e) => finish(None, Some(error::classify(&e, &limits))),
    }
}

/// Raises `interrupt` when `timeout` passes, unless the returned sender is dropped first.
fn watchdog(timeout: std::time::Duration, interrupt: Interrupt) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(timeout) {
            interrupt.raise();
        }
    });
    tx
}

fn build_engine(
    host: Rc<Host>,
    sink: Rc<logs::LogSink>,
    limits: &Limits,
    interrupt: Interrupt,
) -> Engine {
    // A raw engine has no module resolver (so `import` finds nothing) and no I/O of its own.
    let mut engine = Engine::new_raw();
    engine.register_global_module(StandardPackage::new().as_shared_module());
    engine
        .disable_symbol("eval")
        .set_strict_variables(true)
        .set_max_operations(limits.max_operations)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_call_levels(limits.max_call_depth)
        .set_max_expr_depths(limits.max_expr_depth, limits.max_expr_depth)
        .set_max_modules(0);
    bindings::register_builtins(&mut engine, interrupt.clone());
    let max_memory = limits.max_memory;
    engine.on_progress(move |_| {
        if interrupt.is_raised() {
            Some(error::STOP_TIME.into())
        } else if memory::allocated() > max_memory {
            Some(error::STOP_MEMORY.into())
        } else {
            None
        }
    });
    bindings::register_logging(&mut engine, sink);
    bindings::register(&mut engine, host);
    engine
}
