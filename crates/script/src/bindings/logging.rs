//! `info`, `warn`, `error`, `debug`, `trace`, and the engine's `print`/`debug` statements, all
//! into the run's log with the calling line.

use std::rc::Rc;

use rhai::{Engine, NativeCallContext};

use crate::logs::LogSink;

pub(crate) fn register(engine: &mut Engine, sink: Rc<LogSink>) {
    for (name, level) in [
        ("info", "INFO"),
        ("warn", "WARN"),
        ("error", "ERROR"),
        ("debug", "DEBUG"),
        ("trace", "TRACE"),
    ] {
        let s = Rc::clone(&sink);
        engine.register_fn(name, move |ctx: NativeCallContext, msg: &str| {
            s.push(level, msg, ctx.call_position().line());
        });
        let s = Rc::clone(&sink);
        engine.register_fn(name, move |ctx: NativeCallContext, msg: rhai::Dynamic| {
            s.push(level, &msg.to_string(), ctx.call_position().line());
        });
    }
    let s = Rc::clone(&sink);
    engine.on_print(move |msg| s.push("INFO", msg, None));
    let s = sink;
    engine.on_debug(move |msg, _source, pos| s.push("DEBUG", msg, pos.line()));
}
