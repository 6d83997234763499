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
    // `debug(x)` is one of Rhai's statements: the engine calls `debug` for the text (it
    // must return a string) and hands that to `on_debug`, which logs it. The text is the
    // message itself, as `info` logs it, not Rhai's quoted debug form.
    engine.register_fn("debug", |msg: &str| msg.to_owned());
    engine.register_fn("debug", |msg: rhai::Dynamic| msg.to_string());
    let s = Rc::clone(&sink);
    engine.on_print(move |msg| s.push("INFO", msg, None));
    let s = sink;
    engine.on_debug(move |msg, _source, pos| s.push("DEBUG", msg, pos.line()));
}
