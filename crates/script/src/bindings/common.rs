//! Rex's common utilities: dates and times (`DateTime`, `now`, `parse_datetime` and the
//! `datetime_operations` operators), `Duration`, `random_alphanumeric` and `to_json`. The
//! metrics and alarms a script reports are in `reports`. Nothing here touches the host, so
//! nothing asks the gate; what is built is bounded by the run's string limit.

use std::time::Duration;

use rhai::{
    Dynamic, Engine, EvalAltResult, FnNamespace, FuncRegistration, Map, Module, NativeCallContext,
    Position,
};

use super::datetime::{DateError, DateTime, Format};
use super::objects::{enumeration, plain, Kind};
use super::reports;

enumeration! {
    /// The text forms of a `DateTime` (`DateTimeFormat::RFC3339`).
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum DateTimeFormat as "rust_sdk_common_utils::types::datetime::DateTimeFormat" in "DateTimeFormat" { RFC3339, RFC2822 }
}

impl DateTimeFormat {
    fn format(self) -> Format {
        match self {
            DateTimeFormat::RFC3339 => Format::Rfc3339,
            DateTimeFormat::RFC2822 => Format::Rfc2822,
        }
    }
}

/// Rex's name of the `DateTime` type, which `type_of` gives.
const DATETIME: &str = "rust_sdk_common_utils::types::datetime::DateTime";
/// Rex's name of the `Duration` type (`Duration::from_secs`).
const DURATION: &str = "core::time::Duration";

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    DateTimeFormat::KIND,
    Kind {
        register: register_datetime,
        // A date prints as its RFC 3339 text, in the output and in tables.
        plain: |v| {
            v.read_lock::<DateTime>()
                .map(|d| Dynamic::from(d.rfc3339()))
        },
    },
    Kind {
        register: register_duration,
        // A duration prints as its seconds.
        plain: |v| {
            v.read_lock::<Duration>()
                .map(|d| Dynamic::from(d.as_secs_f64()))
        },
    },
    reports::METRIC_UNIT_KIND,
];

/// A date failure as Rex's caught error: `kind` (`CommonUtilsErrorKind`), `message`,
/// `source`.
fn date_error(e: DateError) -> Box<EvalAltResult> {
    let mut m = Map::new();
    m.insert("kind".into(), Dynamic::from(super::errors::named(e.kind())));
    m.insert("message".into(), Dynamic::from(e.message().to_owned()));
    m.insert(
        "source".into(),
        Dynamic::from("CommonUtilsErrorKind".to_owned()),
    );
    EvalAltResult::ErrorRuntime(Dynamic::from_map(m), Position::NONE).into()
}

type DateResult<T> = Result<T, Box<EvalAltResult>>;

fn register_datetime(engine: &mut Engine) {
    engine.register_type_with_name::<DateTime>(DATETIME);
    engine.register_fn(
        "DateTime",
        |y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ns: i64| -> DateResult<DateTime> {
            DateTime::new(y, mo, d, h, mi, s, ns).map_err(date_error)
        },
    );
    engine.register_fn("from_epoch_seconds", |s: i64| -> DateResult<DateTime> {
        DateTime::from_epoch(s, 0).map_err(date_error)
    });
    engine.register_fn(
        "from_epoch_nanos",
        |s: i64, ns: i64| -> DateResult<DateTime> {
            DateTime::from_epoch(s, ns).map_err(date_error)
        },
    );
    engine.register_fn("now", || -> DateResult<DateTime> {
        DateTime::now(false).map_err(date_error)
    });
    engine.register_fn("now_nanos", || -> DateResult<DateTime> {
        DateTime::now(true).map_err(date_error)
    });
    engine.register_fn(
        "parse_datetime",
        |text: &str, f: DateTimeFormat| -> DateResult<DateTime> {
            DateTime::parse(text, f.format()).map_err(date_error)
        },
    );
    engine.register_fn("epoch_seconds", |d: &mut DateTime| d.epoch_seconds());
    engine.register_fn("nanos", |d: &mut DateTime| d.nanosecond);
    engine.register_fn("month_str", |d: &mut DateTime| d.month_name().0.to_owned());
    engine.register_fn("month_str_short", |d: &mut DateTime| {
        d.month_name().1.to_owned()
    });
    engine.register_fn(
        "to_string",
        |d: &mut DateTime, f: DateTimeFormat| -> DateResult<String> {
            d.format(f.format()).map_err(date_error)
        },
    );
    // Rex gives a DateTime no text form of its own: `to_string()` (and `${d}`) is its type
    // name; `to_string(DateTimeFormat::RFC3339)` is the text.
    engine.register_fn("to_string", |_: &mut DateTime| DATETIME.to_owned());
    engine.register_fn("to_debug", |_: &mut DateTime| DATETIME.to_owned());
    engine.register_get("year", |d: &mut DateTime| d.year);
    engine.register_get("month", |d: &mut DateTime| d.month);
    engine.register_get("day", |d: &mut DateTime| d.day);
    engine.register_get("hour", |d: &mut DateTime| d.hour);
    engine.register_get("minute", |d: &mut DateTime| d.minute);
    engine.register_get("second", |d: &mut DateTime| d.second);
    engine.register_get("nanosecond", |d: &mut DateTime| d.nanosecond);

    // The operators, global as in Rex, and also gathered in the `datetime_operations` module
    // Rex declares them in.
    let mut ops = Module::new();
    let global = |name: &str| FuncRegistration::new(name).with_namespace(FnNamespace::Global);
    global("+").set_into_module(&mut ops, |d: DateTime, s: i64| -> DateResult<DateTime> {
        d.plus_seconds(s).map_err(date_error)
    });
    global("-").set_into_module(&mut ops, |d: DateTime, s: i64| -> DateResult<DateTime> {
        let back = s.checked_neg().ok_or_else(|| {
            date_error(DateError::InvalidArguments(format!(
                "{s} seconds is out of range"
            )))
        })?;
        d.plus_seconds(back).map_err(date_error)
    });
    // Whole seconds between two dates, as in Rex (the nanoseconds are not counted).
    global("-").set_into_module(&mut ops, |a: DateTime, b: DateTime| {
        a.epoch_seconds() - b.epoch_seconds()
    });
    global("==").set_into_module(&mut ops, |a: DateTime, b: DateTime| a == b);
    global("!=").set_into_module(&mut ops, |a: DateTime, b: DateTime| a != b);
    global("<").set_into_module(&mut ops, |a: DateTime, b: DateTime| a < b);
    global("<=").set_into_module(&mut ops, |a: DateTime, b: DateTime| a <= b);
    global(">").set_into_module(&mut ops, |a: DateTime, b: DateTime| a > b);
    global(">=").set_into_module(&mut ops, |a: DateTime, b: DateTime| a >= b);
    engine.register_static_module("datetime_operations", ops.into());
}

fn register_duration(engine: &mut Engine) {
    engine.register_type_with_name::<Duration>(DURATION);
    let mut module = Module::new();
    // A negative count is no time at all, as in Rex.
    FuncRegistration::new("from_secs")
        .with_namespace(FnNamespace::Global)
        .set_into_module(&mut module, |secs: i64| {
            Duration::from_secs(u64::try_from(secs).unwrap_or(0))
        });
    engine.register_static_module("Duration", module.into());
    engine.register_fn("to_string", |d: &mut Duration| {
        format!("{}s", d.as_secs_f64())
    });
    engine.register_fn("to_debug", |d: &mut Duration| {
        format!("{}s", d.as_secs_f64())
    });
}

/// Letters and digits, the alphabet of `random_alphanumeric`.
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `length` letters and digits from the kernel's random source. A negative length means 16,
/// as in Rex; a length past the run's string limit is refused before anything is drawn.
fn random_alphanumeric(ctx: NativeCallContext, length: i64) -> Result<String, Box<EvalAltResult>> {
    let length = usize::try_from(length).unwrap_or(16);
    let limit = ctx.engine().max_string_size();
    if limit != 0 && length > limit {
        return Err(EvalAltResult::ErrorDataTooLarge(
            format!("random_alphanumeric({length}): longer than --max-string-size ({limit} bytes)"),
            Position::NONE,
        )
        .into());
    }
    let mut out = String::with_capacity(length);
    let mut pool = [0u8; 256];
    while out.len() < length {
        fill_random(&mut pool)?;
        // Bytes below 248 (4 x 62) map evenly onto the alphabet; the rest are dropped.
        for b in pool.iter().filter(|b| **b < 248) {
            if out.len() == length {
                break;
            }
            out.push(ALPHANUMERIC[usize::from(*b) % ALPHANUMERIC.len()] as char);
        }
    }
    Ok(out)
}

fn fill_random(buf: &mut [u8]) -> Result<(), Box<EvalAltResult>> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: the pointer and length are those of `rest`, a live, writable slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(super::invalid(format!(
                "random_alphanumeric: the kernel's random source failed: {e}"
            )));
        }
        filled += n as usize;
    }
    Ok(())
}

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("random_alphanumeric", random_alphanumeric);
    // Objects in the map become their maps first, so that they print as JSON too.
    engine.register_fn("to_json", |m: &mut Map| {
        let value = plain(&Dynamic::from_map(m.clone()));
        value
            .read_lock::<Map>()
            .map(|m| rhai::format_map_as_json(&m))
            .unwrap_or_default()
    });
    reports::register(engine);
}
