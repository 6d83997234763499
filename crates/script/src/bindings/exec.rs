//! Running a binary: `execute(path)`, `execute(path, args)`, `execute(path, options)` and the
//! handle form `file.execute(options)`, with Rex's `ExecuteOptions()` builder:
//! `ExecuteOptions().args(["-n", ["--lines", "5"]]).env(#{LANG: "C"}).user("nobody").build()`.

use std::rc::Rc;
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use tollgate_host::exec::{ExecuteOptions as HostOptions, ExecuteResult};
use tollgate_host::Host;

use super::{host_error, invalid};

/// The default wall-clock limit of one `execute`; the run's own limit still applies.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the `ExecuteOptions()` builder collects.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecuteOptions {
    arguments: Vec<(String, Option<String>)>,
    environment: Vec<(String, String)>,
    user: Option<String>,
    group: Option<String>,
    timeout: Option<Duration>,
}

impl ExecuteOptions {
    pub(crate) fn for_host(&self, host: &Host) -> HostOptions {
        HostOptions {
            arguments: self.arguments.clone(),
            environment: self.environment.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            max_output_bytes: host.limits().max_string_bytes,
        }
    }
}

/// Rex's argument forms: `"word"` is passed alone, `[key, value]` as two words.
fn parse_args(args: Array) -> Result<Vec<(String, Option<String>)>, Box<EvalAltResult>> {
    let text = |v: &Dynamic, i: usize| {
        v.clone()
            .into_string()
            .map_err(|_| invalid(format!("argument {i}: keys and values must be strings")))
    };
    args.iter()
        .enumerate()
        .map(|(i, a)| {
            if a.is_string() {
                return Ok((text(a, i)?, None));
            }
            match a.clone().try_cast::<Array>().as_deref() {
                Some([key]) => Ok((text(key, i)?, None)),
                Some([key, value]) => Ok((text(key, i)?, Some(text(value, i)?))),
                _ => Err(invalid(format!(
                    "argument {i} must be a string or a [key, value] array"
                ))),
            }
        })
        .collect()
}

fn parse_env(env: Map) -> Result<Vec<(String, String)>, Box<EvalAltResult>> {
    env.into_iter()
        .map(|(k, v)| {
            v.into_string()
                .map(|v| (k.to_string(), v))
                .map_err(|_| invalid(format!("environment variable {k} must be a string")))
        })
        .collect()
}

pub(crate) fn result(r: ExecuteResult) -> Dynamic {
    let mut m = Map::new();
    m.insert("exit_code".into(), Dynamic::from(i64::from(r.exit_code)));
    m.insert("stdout".into(), Dynamic::from(r.stdout));
    m.insert("stderr".into(), Dynamic::from(r.stderr));
    m.insert("truncated".into(), Dynamic::from(r.truncated));
    Dynamic::from_map(m)
}

pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    engine.register_type_with_name::<ExecuteOptions>("ExecuteOptions");
    engine.register_fn("ExecuteOptions", ExecuteOptions::default);
    engine.register_fn("args", |o: &mut ExecuteOptions, args: Array| {
        o.arguments = parse_args(args)?;
        Ok::<_, Box<EvalAltResult>>(o.clone())
    });
    engine.register_fn("env", |o: &mut ExecuteOptions, env: Map| {
        o.environment = parse_env(env)?;
        Ok::<_, Box<EvalAltResult>>(o.clone())
    });
    engine.register_fn("user", |o: &mut ExecuteOptions, user: &str| {
        o.user = Some(user.to_owned());
        o.clone()
    });
    engine.register_fn("group", |o: &mut ExecuteOptions, group: &str| {
        o.group = Some(group.to_owned());
        o.clone()
    });
    engine.register_fn("timeout_ms", |o: &mut ExecuteOptions, ms: i64| {
        let ms = u64::try_from(ms)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| invalid("timeout_ms must be positive"))?;
        o.timeout = Some(Duration::from_millis(ms));
        Ok::<_, Box<EvalAltResult>>(o.clone())
    });
    engine.register_fn("build", |o: &mut ExecuteOptions| o.clone());

    let h = Rc::clone(&host);
    engine.register_fn("execute", move |path: &str| {
        let options = ExecuteOptions::default().for_host(&h);
        h.execute(path, &options).map(result).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("execute", move |path: &str, args: Array| {
        let options = ExecuteOptions {
            arguments: parse_args(args)?,
            ..Default::default()
        };
        h.execute(path, &options.for_host(&h))
            .map(result)
            .map_err(host_error)
    });
    let h = host;
    engine.register_fn("execute", move |path: &str, o: ExecuteOptions| {
        h.execute(path, &o.for_host(&h))
            .map(result)
            .map_err(host_error)
    });
}
