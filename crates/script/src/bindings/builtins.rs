//! Rhai built-ins that would block, spin or allocate past the run's limits inside native
//! code, where the engine's progress callback cannot stop them, replaced by versions that
//! cannot outrun the limits. Each replacement has the name and parameter types of the Rhai
//! function it hides, and otherwise behaves as Rhai's does:
//!
//! - `sleep` sleeps in short steps and stops at the time limit (and refuses a duration that
//!   is not a number of seconds from 0 to a day, instead of panicking);
//! - `pad` on a string refuses an empty padding string, which never grows the string (Rhai's
//!   loops forever), and a length past `--max-string-size` before it pads;
//! - `pad` on an array checks the padded size without overflowing (Rhai's check multiplies
//!   without overflow checks, and a length chosen to wrap passes it);
//! - `replace` on a string computes the result's length before building it (Rhai builds it
//!   first, and one call can ask for as many bytes as the string has times the substitute);
//! - `split`, `split_rev` and `to_chars` count the pieces before making them (Rhai makes them
//!   all, some 60 bytes each, before the array limit is checked);
//! - `sort`, `sort_by`, `order`, `order_by` and `dedup` with a comparer stop at the comparer's
//!   first error and return it (Rhai ignores those errors and keeps calling the comparer, even
//!   once the time or operations limit has stopped the script).
//!
//! Every function a script can call is listed in `registered_functions.txt` beside this file,
//! and a test fails when the engine registers one that is not there: a new Rhai version, a
//! new package or a new binding is reviewed here before a script can call it.

use std::cmp::Ordering;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use rhai::{
    Array, Blob, Dynamic, Engine, EvalAltResult, FnPtr, FuncRegistration, ImmutableString, Map,
    NativeCallContext, Position, FLOAT, INT,
};
use tollgate_host::Interrupt;

use super::invalid;

/// How long one step of a sleep lasts: the latency of the time limit inside it.
const SLEEP_STEP: Duration = Duration::from_millis(10);

/// The longest sleep asked for that is not an error: a day, longer than any run's limit.
const MAX_SLEEP_SECONDS: FLOAT = 86_400.0;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

pub(crate) fn register(engine: &mut Engine, interrupt: Interrupt) {
    register_sleep(engine, interrupt);
    register_strings(engine);
    register_arrays(engine);
}

fn register_sleep(engine: &mut Engine, interrupt: Interrupt) {
    // Volatile, as Rhai's: the optimizer must never run it while compiling.
    let stop = interrupt.clone();
    FuncRegistration::new("sleep")
        .with_volatility(true)
        .register_into_engine(engine, move |seconds: FLOAT| sleep(&stop, seconds));
    FuncRegistration::new("sleep")
        .with_volatility(true)
        .register_into_engine(engine, move |seconds: INT| {
            sleep(&interrupt, seconds as FLOAT)
        });
}

fn sleep(interrupt: &Interrupt, seconds: FLOAT) -> Result<()> {
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

fn register_strings(engine: &mut Engine) {
    // The functions that change their string are not pure, as Rhai's: a constant is refused.
    FuncRegistration::new("pad")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, s: &mut ImmutableString, len: INT, padding: &str| {
                pad_string(&ctx, s, len, padding)
            },
        );
    FuncRegistration::new("replace")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, s: &mut ImmutableString, find: &str, with: &str| {
                replace(&ctx, s, find, with)
            },
        );
    FuncRegistration::new("replace")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, s: &mut ImmutableString, find: &str, with: char| {
                replace(&ctx, s, find, &with.to_string())
            },
        );
    FuncRegistration::new("replace")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, s: &mut ImmutableString, find: char, with: &str| {
                replace(&ctx, s, &find.to_string(), with)
            },
        );

    engine.register_fn("to_chars", |ctx: NativeCallContext, s: &str| {
        pieces(&ctx, s.chars())
    });
    engine.register_fn(
        "split",
        |ctx: NativeCallContext, s: &mut ImmutableString| {
            if s.is_empty() {
                Ok(vec![s.clone().into()])
            } else {
                pieces(&ctx, s.split_whitespace())
            }
        },
    );
    for (name, reverse) in [("split", false), ("split_rev", true)] {
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, s: &mut ImmutableString, delimiter: &str| {
                split(&ctx, s, delimiter, None, reverse)
            },
        );
        engine.register_fn(
            name,
            move |ctx: NativeCallContext, s: &mut ImmutableString, delimiter: char| {
                split(&ctx, s, &delimiter.to_string(), None, reverse)
            },
        );
        engine.register_fn(
            name,
            move |ctx: NativeCallContext,
                  s: &mut ImmutableString,
                  delimiter: &str,
                  segments: INT| { split(&ctx, s, delimiter, Some(segments), reverse) },
        );
        engine.register_fn(
            name,
            move |ctx: NativeCallContext,
                  s: &mut ImmutableString,
                  delimiter: char,
                  segments: INT| {
                split(&ctx, s, &delimiter.to_string(), Some(segments), reverse)
            },
        );
    }
}

fn pad_string(
    ctx: &NativeCallContext,
    s: &mut ImmutableString,
    len: INT,
    padding: &str,
) -> Result<()> {
    if padding.is_empty() {
        return Err(invalid(
            "pad needs a padding string of at least one character",
        ));
    }
    let Ok(len) = usize::try_from(len) else {
        return Ok(());
    };
    // `len` counts characters, each of at least one byte.
    string_fits(ctx, len)?;
    let have = s.chars().count();
    if have < len {
        s.make_mut()
            .extend(padding.chars().cycle().take(len - have));
    }
    Ok(())
}

fn replace(ctx: &NativeCallContext, s: &mut ImmutableString, find: &str, with: &str) -> Result<()> {
    if s.is_empty() {
        return Ok(());
    }
    // Matches do not overlap, so they take at most the whole string.
    let matches = s.matches(find).count();
    let kept = s.len() - matches * find.len();
    string_fits(ctx, kept.saturating_add(matches.saturating_mul(with.len())))?;
    *s = s.replace(find, with).into();
    Ok(())
}

/// `split` and `split_rev` on a string delimiter (a character is passed as its string), with
/// Rhai's answers for an empty string and a delimiter that does not occur: the string itself.
fn split(
    ctx: &NativeCallContext,
    s: &ImmutableString,
    delimiter: &str,
    segments: Option<INT>,
    reverse: bool,
) -> Result<Array> {
    let whole = || Ok(vec![s.clone().into()]);
    if s.is_empty() || (!delimiter.is_empty() && !s.contains(delimiter)) {
        return whole();
    }
    match segments {
        None if reverse => pieces(ctx, s.rsplit(delimiter)),
        None => pieces(ctx, s.split(delimiter)),
        Some(n) if n <= 1 => whole(),
        Some(n) => {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            if reverse {
                pieces(ctx, s.rsplitn(n, delimiter))
            } else {
                pieces(ctx, s.splitn(n, delimiter))
            }
        }
    }
}

/// The pieces as an array, refused before any is made when there are more than the array
/// limit allows.
fn pieces<T: Into<Dynamic>>(
    ctx: &NativeCallContext,
    pieces: impl Iterator<Item = T> + Clone,
) -> Result<Array> {
    let max = ctx.engine().max_array_size();
    if max > 0 && pieces.clone().count() > max {
        return Err(too_large("Size of array"));
    }
    Ok(pieces.map(Into::into).collect())
}

fn register_arrays(engine: &mut Engine) {
    FuncRegistration::new("pad")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, array: &mut Array, len: INT, item: Dynamic| {
                pad_array(&ctx, array, len, item)
            },
        );
    for name in ["sort", "sort_by"] {
        FuncRegistration::new(name)
            .with_purity(false)
            .register_into_engine(
                engine,
                |ctx: NativeCallContext, array: &mut Array, comparer: FnPtr| {
                    sort_by(&ctx, array, &comparer)
                },
            );
    }
    FuncRegistration::new("sort")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, array: &mut Array, comparer: &str| {
                sort_by(&ctx, array, &FnPtr::new(comparer)?)
            },
        );
    for name in ["order", "order_by"] {
        engine.register_fn(
            name,
            |ctx: NativeCallContext, array: &mut Array, comparer: FnPtr| {
                let mut ordered = array.clone();
                sort_by(&ctx, &mut ordered, &comparer).map(|()| ordered)
            },
        );
    }
    FuncRegistration::new("dedup")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, array: &mut Array, comparer: FnPtr| {
                dedup_by(&ctx, array, &comparer)
            },
        );
    FuncRegistration::new("dedup")
        .with_purity(false)
        .register_into_engine(
            engine,
            |ctx: NativeCallContext, array: &mut Array, comparer: &str| {
                dedup_by(&ctx, array, &FnPtr::new(comparer)?)
            },
        );
}

fn pad_array(ctx: &NativeCallContext, array: &mut Array, len: INT, item: Dynamic) -> Result<()> {
    let Ok(len) = usize::try_from(len) else {
        return Ok(());
    };
    if len <= array.len() {
        return Ok(());
    }
    let copies = len - array.len();
    // Every copy counts in full, as an element and with all it holds.
    let (elements, entries, bytes) = array_sizes(array);
    let (item_elements, item_entries, item_bytes) = held(&item);
    let times = |n: usize| copies.saturating_mul(n);
    sizes_fit(
        ctx,
        (
            elements.saturating_add(times(item_elements.saturating_add(1))),
            entries.saturating_add(times(item_entries)),
            bytes.saturating_add(times(item_bytes)),
        ),
    )?;
    array.resize(len, item);
    Ok(())
}

/// Sorts with a script comparer as Rhai does (an answer that is neither a number nor a bool
/// orders by type), except that the comparer's first error ends the sort and is returned.
fn sort_by(ctx: &NativeCallContext, array: &mut Array, comparer: &FnPtr) -> Result<()> {
    if array.len() <= 1 {
        return Ok(());
    }
    let mut failure = None;
    // `slice::sort_by` may panic when the comparer is not a total order; Rhai catches that
    // the same way.
    let sorted = panic::catch_unwind(AssertUnwindSafe(|| {
        array.sort_by(|x, y| {
            if failure.is_some() {
                return Ordering::Equal;
            }
            match comparer.call_raw(ctx, None, [x.clone(), y.clone()]) {
                Ok(answer) => answer
                    .as_int()
                    .or_else(|_| answer.as_bool().map(|less| if less { -1 } else { 1 }))
                    .map_or_else(|_| x.type_id().cmp(&y.type_id()), |n| n.cmp(&0)),
                Err(e) => {
                    failure = Some(e);
                    Ordering::Equal
                }
            }
        });
    }));
    if let Some(e) = failure {
        return Err(e);
    }
    sorted.map_err(|_| {
        EvalAltResult::ErrorRuntime("error in comparer for sorting".into(), Position::NONE).into()
    })
}

/// Removes consecutive elements the comparer calls equal, as Rhai does, except that the
/// comparer's first error ends the call and is returned.
fn dedup_by(ctx: &NativeCallContext, array: &mut Array, comparer: &FnPtr) -> Result<()> {
    let mut failure = None;
    array.dedup_by(|x, y| {
        if failure.is_some() {
            return false;
        }
        match comparer.call_raw(ctx, None, [y.clone(), x.clone()]) {
            Ok(answer) => answer.as_bool().unwrap_or(false),
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    });
    failure.map_or(Ok(()), Err)
}

/// Rhai's measure of an array against its limits: array elements and BLOB bytes, map entries
/// and string bytes, everything nested counted.
fn array_sizes(array: &Array) -> (usize, usize, usize) {
    array
        .iter()
        .fold((0, 0, 0), |total, v| add(add(total, (1, 0, 0)), held(v)))
}

/// What an element of an array or map adds to that measure besides itself (a BLOB counts one
/// more, as Rhai counts it).
fn held(value: &Dynamic) -> (usize, usize, usize) {
    if let Some(array) = value.read_lock::<Array>() {
        array_sizes(&array)
    } else if let Some(blob) = value.read_lock::<Blob>() {
        (blob.len().saturating_add(1), 0, 0)
    } else if let Some(map) = value.read_lock::<Map>() {
        map.values()
            .fold((0, 0, 0), |total, v| add(add(total, (0, 1, 0)), held(v)))
    } else if let Some(s) = value.read_lock::<ImmutableString>() {
        (0, 0, s.len())
    } else {
        (0, 0, 0)
    }
}

fn add(a: (usize, usize, usize), b: (usize, usize, usize)) -> (usize, usize, usize) {
    (
        a.0.saturating_add(b.0),
        a.1.saturating_add(b.1),
        a.2.saturating_add(b.2),
    )
}

/// Refuses what would break the engine's size limits, with Rhai's error.
fn sizes_fit(
    ctx: &NativeCallContext,
    (elements, entries, bytes): (usize, usize, usize),
) -> Result<()> {
    let engine = ctx.engine();
    let over = |n: usize, max: usize| max > 0 && n > max;
    if over(bytes, engine.max_string_size()) {
        Err(too_large("Length of string"))
    } else if over(elements, engine.max_array_size()) {
        Err(too_large("Size of array"))
    } else if over(entries, engine.max_map_size()) {
        Err(too_large("Size of object map"))
    } else {
        Ok(())
    }
}

fn string_fits(ctx: &NativeCallContext, bytes: usize) -> Result<()> {
    sizes_fit(ctx, (0, 0, bytes))
}

/// A size-limit error: not catchable, and reported as the run's resource limit.
fn too_large(what: &str) -> Box<EvalAltResult> {
    EvalAltResult::ErrorDataTooLarge(what.into(), Position::NONE).into()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::{Duration, Instant};

    use rhai::packages::{Package, StandardPackage};
    use rhai::{Dynamic, Engine};
    use serde_json::Value;

    use crate::testing;
    use crate::{ErrorType, Limits, RunError};

    const REVIEWED: &str = include_str!("registered_functions.txt");

    /// Every function a script can call, one line each and sorted by signature: where it
    /// comes from (`rhai`, `tollgate`, or `replaced` for Tollgate's in place of Rhai's), its
    /// name and its parameter types.
    fn callable_functions() -> Vec<String> {
        let engine = testing::engine();
        let listed = |standard: bool| {
            let json = engine.gen_fn_metadata_to_json(standard).unwrap();
            let mut found = Vec::new();
            collect(
                &engine,
                &serde_json::from_str(&json).unwrap(),
                "",
                &mut found,
            );
            found
        };
        // A function is known by its namespace and hash (its name and parameter types): a
        // script calling one that Tollgate and Rhai both register gets Tollgate's.
        let mut ours = BTreeMap::<(String, u64), usize>::new();
        for (key, _) in listed(false) {
            *ours.entry(key).or_default() += 1;
        }
        let mut all = BTreeMap::<(String, u64), Vec<String>>::new();
        for (key, signature) in listed(true) {
            all.entry(key).or_default().push(signature);
        }
        let mut lines: Vec<(String, &str)> = all
            .into_iter()
            .flat_map(|(key, signatures)| {
                let tollgate = ours.get(&key).copied().unwrap_or(0);
                let rhai = signatures.len() - tollgate;
                // Rhai's functions that Tollgate's hide cannot be called: they are not listed.
                let (origin, callable) = match (tollgate, rhai) {
                    (0, n) => ("rhai", n),
                    (n, 0) => ("tollgate", n),
                    (n, _) => ("replaced", n),
                };
                let signature = signatures.into_iter().min().unwrap();
                std::iter::repeat_n((signature, origin), callable)
            })
            .collect();
        lines.sort();
        // Rhai registers some overloads without their parameter types: they read alike.
        let mut counted: Vec<((String, &str), usize)> = Vec::new();
        for line in lines {
            match counted.last_mut() {
                Some((last, n)) if *last == line => *n += 1,
                _ => counted.push((line, 1)),
            }
        }
        counted
            .into_iter()
            .map(|((signature, origin), n)| match n {
                1 => format!("{origin:<9}{signature}"),
                n => format!("{origin:<9}{signature} ({n} overloads)"),
            })
            .collect()
    }

    /// The functions of a module of the engine's metadata and of its sub-modules, as
    /// ((namespace, hash), `name(parameter types)`).
    fn collect(
        engine: &Engine,
        module: &Value,
        namespace: &str,
        out: &mut Vec<((String, u64), String)>,
    ) {
        for f in module["functions"].as_array().into_iter().flatten() {
            let params = f["params"].as_array().cloned().unwrap_or_default();
            let count = f["numParams"].as_u64().unwrap() as usize;
            let types: Vec<String> = (0..count)
                .map(|i| {
                    params
                        .get(i)
                        .map_or("_".to_owned(), |p| type_name(engine, p))
                })
                .collect();
            let signature = format!(
                "{namespace}{}({})",
                f["name"].as_str().unwrap(),
                types.join(", ")
            );
            out.push((
                (namespace.to_owned(), f["fullHash"].as_u64().unwrap()),
                signature,
            ));
        }
        for (name, sub) in module["modules"].as_object().into_iter().flatten() {
            collect(engine, sub, &format!("{namespace}{name}::"), out);
        }
    }

    /// A parameter's type as a script sees it (`string`, `array`, `&mut map`).
    fn type_name(engine: &Engine, param: &Value) -> String {
        let Some(typ) = param["type"].as_str() else {
            return "_".to_owned();
        };
        let (by_ref, typ) = match typ.strip_prefix("&mut ") {
            Some(rest) => ("&mut ", rest),
            None => ("", typ),
        };
        // A `Dynamic` parameter of a function registered from Rust shows its module path.
        let typ = typ.trim_start_matches("types::dynamic::");
        format!("{by_ref}{}", engine.map_type_name(typ))
    }

    #[test]
    fn every_function_a_script_can_call_has_been_reviewed() {
        let reviewed: Vec<&str> = REVIEWED
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let callable = callable_functions();
        let new: Vec<&str> = callable
            .iter()
            .map(String::as_str)
            .filter(|l| !reviewed.contains(l))
            .collect();
        let vanished: Vec<&str> = reviewed
            .iter()
            .copied()
            .filter(|l| !callable.iter().any(|c| c == l))
            .collect();
        assert!(
            new.is_empty() && vanished.is_empty(),
            "the functions a script can call have changed.\n\
             New: review each for native code that blocks, spins or allocates past the run's \
             limits (see src/bindings/builtins.rs), wrap or remove it there if it does, then add \
             its line to src/bindings/registered_functions.txt:\n{}\n\
             Vanished: remove their lines from src/bindings/registered_functions.txt:\n{}",
            new.join("\n"),
            vanished.join("\n"),
        );
    }

    fn failure(script: &str, limits: Limits) -> RunError {
        let outcome = testing::run(script, limits);
        outcome
            .error
            .unwrap_or_else(|| panic!("{script} succeeded: {:?}", outcome.value))
    }

    fn value(script: &str) -> String {
        let outcome = testing::run(script, Limits::default());
        match outcome.value {
            Some(v) => v.to_string(),
            None => panic!("{script} failed: {:?}", outcome.error),
        }
    }

    fn assert_limit(script: &str, limits: Limits, flag: &str) {
        let e = failure(script, limits);
        assert_eq!(e.error_type, ErrorType::ResourceLimit, "{script}: {e}");
        assert!(e.message.contains(flag), "{script}: {e}");
    }

    fn timeout(ms: u64) -> Limits {
        Limits {
            timeout: Duration::from_millis(ms),
            ..Limits::default()
        }
    }

    #[test]
    fn sleep_stops_at_the_time_limit() {
        for script in ["sleep(60)", "sleep(60.0)", "loop { sleep(0.001); }"] {
            let begun = Instant::now();
            assert_limit(script, timeout(200), "--timeout");
            assert!(begun.elapsed() < Duration::from_secs(5), "{script}");
        }
    }

    #[test]
    fn sleep_refuses_what_is_not_a_duration() {
        for script in [
            "sleep(-1)",
            "sleep(1e300)",
            "sleep(0.0 / 0.0)",
            "sleep(86401)",
        ] {
            let e = failure(script, Limits::default());
            assert_eq!(e.error_type, ErrorType::Script, "{script}: {e}");
            assert!(
                e.message.contains("from 0 to 86400 seconds"),
                "{script}: {e}"
            );
        }
        assert_eq!(value("sleep(0); sleep(0.01); 1"), "1");
    }

    #[test]
    fn pad_refuses_an_empty_padding_string() {
        let e = failure(r#"let s = "abc"; s.pad(10, ""); s"#, Limits::default());
        assert!(e.message.contains("at least one character"), "{e}");
        assert_eq!(
            value(
                r#"let s = "abc"; let kind = (); try { s.pad(10, ""); } catch (e) { kind = e.kind.to_string(); } kind"#
            ),
            "InvalidArguments"
        );
    }

    #[test]
    fn pad_refuses_a_string_past_the_limit_before_padding() {
        let small = Limits {
            max_string_size: 10,
            ..Limits::default()
        };
        assert_limit(
            r#"let s = "abc"; s.pad(11, "x"); s"#,
            small,
            "--max-string-size",
        );
        // Rhai's own check comes after the string is built: one too long to build fails the
        // same way.
        assert_limit(
            r#"let s = "abc"; s.pad(1 << 62, "x"); s"#,
            Limits::default(),
            "--max-string-size",
        );
    }

    #[test]
    fn pad_refuses_an_array_whose_copies_pass_the_limit() {
        for script in [
            "let a = []; a.pad(1 << 62, 0); a.len()",
            // Each copy holds 2^19 - 1 elements: the copies count 2^64, which Rhai's own
            // check wraps to 0.
            "let item = []; item.pad(524287, 0); let a = []; a.pad(1 << 45, item); a.len()",
            r#"let x = "x"; x.pad(100000, "x"); let a = []; a.pad(1000, x); a.len()"#,
            "let a = []; a.pad(200000, #{a: 1}); a.len()",
        ] {
            assert_limit(script, Limits::default(), "exceeds its limit");
        }
        assert_eq!(value("let a = []; a.pad(1000, [1, 2, 3]); a.len()"), "1000");
    }

    #[test]
    fn replace_refuses_a_result_past_the_limit_before_building_it() {
        // A million matches times a megabyte: a terabyte, were it built.
        for find in [r#""a""#, "'a'", r#""""#] {
            let script = format!(
                r#"let s = ""; s.pad(1000000, "a"); let t = ""; t.pad(1000000, "b"); s.replace({find}, t); s.len()"#
            );
            assert_limit(&script, Limits::default(), "--max-string-size");
        }
        let small = Limits {
            max_string_size: 9,
            ..Limits::default()
        };
        assert_limit(
            r#"let s = "aaaaa"; s.replace("a", 'b'); s.replace("b", "bb"); s"#,
            small,
            "--max-string-size",
        );
        assert_eq!(
            value(r#"let s = "aaaaa"; s.replace("a", "bb"); s"#),
            "bbbbbbbbbb"
        );
    }

    #[test]
    fn split_and_to_chars_refuse_more_pieces_than_the_array_limit_before_making_them() {
        let small = Limits {
            max_array_size: 5,
            ..Limits::default()
        };
        for call in [
            r#"s.split("")"#,
            r#"s.split(",")"#,
            "s.split(',')",
            r#"s.split(",", 100)"#,
            "s.split(',', 100)",
            r#"s.split_rev(",")"#,
            "s.split_rev(',')",
            r#"s.split_rev(",", 100)"#,
            "s.split_rev(',', 100)",
            "s.split()",
            "s.to_chars()",
        ] {
            let script = format!(r#"let s = "a b,c d,e f,g h,i j,k l"; {call}"#);
            assert_limit(&script, small, "--max-array-size");
        }
        assert_eq!(value(r#""a,b,c,d,e".split(",", 2).len()"#), "2");
    }

    #[test]
    fn sorting_and_dedup_stop_at_the_comparers_first_error() {
        for call in [
            "a.sort(|x, y| { n += 1; throw \"stop\" })",
            "a.sort_by(|x, y| { n += 1; throw \"stop\" })",
            "a.order(|x, y| { n += 1; throw \"stop\" })",
            "a.order_by(|x, y| { n += 1; throw \"stop\" })",
            "a.dedup(|x, y| { n += 1; throw \"stop\" })",
        ] {
            let script = format!(
                "let n = 0; let a = [5, 3, 1, 4, 2]; let caught = (); \
                 try {{ {call}; }} catch (e) {{ caught = e; }} [n, caught]"
            );
            assert_eq!(value(&script), r#"[1, "stop"]"#, "{call}");
        }
        for call in [r#"a.sort("stop")"#, r#"a.dedup("stop")"#] {
            let script = format!(
                r#"fn stop(x, y) {{ throw "stop" }} let a = [5, 3, 1]; let caught = (); try {{ {call}; }} catch (e) {{ caught = e; }} caught"#
            );
            assert_eq!(value(&script), "stop", "{call}");
        }
    }

    #[test]
    fn a_comparer_stops_at_the_run_limits() {
        let array = "let a = []; for i in 0..300 { a.push((i * 37) % 301); }";
        for call in ["a.sort(|x, y| { loop {} })", "a.dedup(|x, y| { loop {} })"] {
            let script = format!("{array} {call}");
            let begun = Instant::now();
            assert_limit(&script, timeout(300), "--timeout");
            assert!(begun.elapsed() < Duration::from_secs(5), "{call}");
            let few = Limits {
                max_operations: 100_000,
                ..Limits::default()
            };
            assert_limit(&script, few, "--max-operations");
        }
    }

    #[test]
    fn replacements_answer_as_rhai_does_within_the_limits() {
        let mut rhai = Engine::new_raw();
        rhai.register_global_module(StandardPackage::new().as_shared_module());
        let tollgate = testing::engine();
        let eval = |engine: &Engine, script: &str| {
            engine
                .eval::<Dynamic>(script)
                .map(|v| format!("{v:?}"))
                .map_err(|e| e.to_string())
        };
        for script in [
            r#"let s = "ab"; s.pad(5, "xy"); s"#,
            r#"let s = "abc"; s.pad(2, "x"); s"#,
            r#"let s = "ab"; s.pad(-1, "x"); s"#,
            r#"let s = "héllo"; s.pad(8, "€"); s"#,
            r#"const S = "ab"; S.pad(5, "x"); S"#,
            r#"let s = "hello, world"; s.replace("o", "0"); s"#,
            r#"let s = "hello"; s.replace("", "-"); s"#,
            r#"let s = "hello"; s.replace("l", 'L'); s"#,
            r#"let s = "hello"; s.replace('l', "LL"); s"#,
            r#"let s = ""; s.replace("", "x"); s"#,
            r#"const S = "ab"; S.replace("a", "b"); S"#,
            r#""a,b,,c".split(",")"#,
            r#""a,b,c".split(',')"#,
            r#""abc".split("")"#,
            r#""".split(",")"#,
            r#""".split("")"#,
            r#""abc".split("x")"#,
            r#""  a b  c ".split()"#,
            r#""".split()"#,
            r#""a,b,c".split(",", 2)"#,
            r#""a,b,c".split(',', 0)"#,
            r#""a,b,c".split(",", 99)"#,
            r#""a,b,c".split_rev(",")"#,
            r#""a,b,c".split_rev(',')"#,
            r#""a,b,c".split_rev(",", 2)"#,
            r#""a,b,c".split_rev(',', 2)"#,
            r#""abc".split_rev("")"#,
            r#"const S = "a,b"; S.split(",")"#,
            r#""héllo".to_chars()"#,
            r#""".to_chars()"#,
            "let a = [1]; a.pad(3, 0); a",
            "let a = [1, 2]; a.pad(1, 0); a",
            "let a = []; a.pad(2, [1, 2]); a",
            "let a = []; a.pad(-2, 1); a",
            "const A = [1]; A.pad(3, 0); A",
            "let a = [3, 1, 2]; a.sort(|x, y| x - y); a",
            "let a = [3, 1, 2]; a.sort_by(|x, y| y - x); a",
            "let a = [3, 1, 2]; a.sort(|x, y| x < y); a",
            r#"let a = [3, "b", 2, "a"]; a.sort(|x, y| "?"); a"#,
            "fn down(x, y) { y - x } let a = [3, 1, 2]; a.sort(\"down\"); a",
            "let a = [3, 1, 2]; [a.order(|x, y| x - y), a]",
            "let a = [3, 1, 2]; [a.order_by(|x, y| y - x), a]",
            "const A = [3, 1]; A.sort(|x, y| x - y); A",
            "let a = [1, 1, 2, 2, 1]; a.dedup(|x, y| x == y); a",
            "let a = [1, 2, 2, 2, 3, 1, 2, 3, 4, 3, 3, 2, 1]; a.dedup(|a, b| a >= b); a",
            "fn same(x, y) { x == y } let a = [1, 1, 2]; a.dedup(\"same\"); a",
        ] {
            assert_eq!(eval(&tollgate, script), eval(&rhai, script), "{script}");
        }
    }
}
