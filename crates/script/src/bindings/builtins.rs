//! Rhai built-ins that would block or spin inside native code, where the engine's progress
//! callback cannot stop them, replaced by versions that cannot outrun the run's limits:
//! `sleep` sleeps in short steps and stops at the time limit (and refuses a duration that is
//! not a number of seconds from 0 to a day, instead of panicking); `pad` with an empty padding
//! string, which never grows the string, is refused.

use std::time::{Duration, Instant};

use rhai::{Engine, EvalAltResult, ImmutableString, Position, FLOAT, INT};
use tollgate_host::Interrupt;

use super::invalid;

/// How long one step of a sleep lasts: the latency of the time limit inside it.
const SLEEP_STEP: Duration = Duration::from_millis(10);

/// The longest sleep asked for that is not an error: a day, longer than any run's limit.
const MAX_SLEEP_SECONDS: FLOAT = 86_400.0;

pub(crate) fn register(engine: &mut Engine, interrupt: Interrupt) {
    let stop = interrupt.clone();
    engine.register_fn("sleep", move |seconds: FLOAT| sleep(&stop, seconds));
    engine.register_fn("sleep", move |seconds: INT| {
        sleep(&interrupt, seconds as FLOAT)
    });
    engine.register_fn(
        "pad",
        |s: &mut ImmutableString, len: INT, padding: &str| -> Result<(), Box<EvalAltResult>> {
            if padding.is_empty() {
                return Err(invalid(
                    "pad needs a padding string of at least one character",
                ));
            }
            let len = usize::try_from(len).unwrap_or(0);
            let mut text = s.to_string();
            let have = text.chars().count();
            if have < len {
                let needed = len - have;
                text.extend(padding.chars().cycle().take(needed));
            }
            *s = text.into();
            Ok(())
        },
    );
}

fn sleep(interrupt: &Interrupt, seconds: FLOAT) -> Result<(), Box<EvalAltResult>> {
    if !(0.0..=MAX_SLEEP_SECONDS).contains(&seconds) {
        return Err(invalid(format!(
            "sleep takes from 0 to {MAX_SLEEP_SECONDS} seconds, not {seconds}"
        )));
    }
    let total = Duration::from_secs_f64(seconds);
    let end = Instant::now() + total;
    loop {
        if interrupt.is_raised() {
            return Err(EvalAltResult::ErrorTerminated(
                crate::error::STOP_TIME.into(),
                Position::NONE,
            )
            .into());
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLEEP_STEP));
    }
}

#[cfg(test)]
mod scratch {
    #[test]
    fn dump() {
        let mut engine = rhai::Engine::new_raw();
        use rhai::packages::Package;
        engine.register_global_module(rhai::packages::StandardPackage::new().as_shared_module());
        let mut v = engine.gen_fn_signatures(true);
        v.sort();
        std::fs::write("/tmp/sigs.txt", v.join("\n")).unwrap();
    }
}
