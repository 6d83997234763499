//! Running a binary: Rex's handle form `file.execute(options)` and Tollgate's `execute(path)`,
//! `execute(path, args)`, `execute(path, options)`, with Rex's `ExecuteOptions()` builder:
//! `ExecuteOptions().args(["-n", ["--lines", "5"]]).env(#{LANG: "C"}).user("nobody").build()`,
//! and its `ExecuteResult` (`exit_code`, `stdout`, `stderr`; Tollgate adds `truncated`).

use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use tollgate_host::exec::{ExecuteOptions as HostOptions, ExecuteResult as Finished};
use tollgate_host::Host;

use super::objects::{object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid};

/// The result object types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[ExecuteResult::KIND];

object! {
    /// What a finished binary left: Rex's `ExecuteResult`.
    pub(crate) struct ExecuteResult as "rust_safe_io::execute::ExecuteResult" {
        exit_code: i64,
        stdout: String,
        stderr: String,
        /// Whether output past the run's string limit was cut off (Tollgate's).
        truncated: bool,
    }
}

/// The default wall-clock limit of one `execute`; the run's own limit still applies.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the `ExecuteOptions()` builder collects; `build()` gives the finished options.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExecuteOptions {
    arguments: Vec<(String, Option<String>)>,
    environment: Vec<(String, String)>,
    user: Option<String>,
    group: Option<String>,
    timeout: Option<Duration>,
    /// Rex's ambient capabilities for the child; only an empty list can run (see `for_host`).
    capabilities: Vec<String>,
    /// Rex's namespace of another process to run the child in.
    namespace: Option<ChildNamespaceOptions>,
}

/// `ExecuteOptions()` before `build()`.
#[derive(Clone, Debug, Default)]
struct ExecuteOptionsBuilder(ExecuteOptions);

/// Rex's `ChildNamespaceOptions().target_process(pid).build()`.
#[derive(Clone, Copy, Debug)]
struct ChildNamespaceOptions {
    target_process: i64,
}

#[derive(Clone, Debug, Default)]
struct ChildNamespaceOptionsBuilder {
    target_process: Option<i64>,
}

impl ExecuteOptions {
    /// The options as the host runs them. Capabilities and another process's namespace are
    /// refused here, before the gate is asked: the worker runs with `no_new_privs` and a
    /// seccomp filter without `setns(2)`, so neither could be given to the child, and running
    /// it without them would be a different command than the one the script asked for.
    pub(crate) fn for_host(&self, host: &Host) -> Result<HostOptions, Box<EvalAltResult>> {
        if !self.capabilities.is_empty() {
            return Err(invalid(format!(
                "refused: ExecuteOptions().capabilities({:?}) needs capabilities raised for the child, which a confined worker (no_new_privs) cannot do; run without them",
                self.capabilities
            )));
        }
        if let Some(ns) = self.namespace {
            return Err(invalid(format!(
                "refused: ExecuteOptions().namespace(...) of process {} needs setns(2), which a confined worker may not call",
                ns.target_process
            )));
        }
        Ok(HostOptions {
            arguments: self.arguments.clone(),
            environment: self.environment.clone(),
            user: self.user.clone(),
            group: self.group.clone(),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
            max_output_bytes: host.limits().max_string_bytes,
        })
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

pub(crate) fn result(r: Finished) -> Dynamic {
    Dynamic::from(ExecuteResult {
        exit_code: i64::from(r.exit_code),
        stdout: r.stdout,
        stderr: r.stderr,
        truncated: r.truncated,
    })
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    type Builder = ExecuteOptionsBuilder;
    type Fallible = Result<Builder, Box<EvalAltResult>>;
    engine
        .register_type_with_name::<Builder>("rust_safe_io::execute::ExecuteOptionsBuilder")
        .register_type_with_name::<ExecuteOptions>("rust_safe_io::execute::ExecuteOptions");
    engine.register_fn("ExecuteOptions", Builder::default);
    engine.register_fn("args", |b: &mut Builder, args: Array| -> Fallible {
        b.0.arguments = parse_args(args)?;
        Ok(b.clone())
    });
    engine.register_fn("env", |b: &mut Builder, env: Map| -> Fallible {
        b.0.environment = parse_env(env)?;
        Ok(b.clone())
    });
    engine.register_fn("user", |b: &mut Builder, user: &str| {
        b.0.user = Some(user.to_owned());
        b.clone()
    });
    engine.register_fn("group", |b: &mut Builder, group: &str| {
        b.0.group = Some(group.to_owned());
        b.clone()
    });
    engine.register_fn("capabilities", |b: &mut Builder, caps: Array| -> Fallible {
        b.0.capabilities = caps
            .into_iter()
            .map(|c| {
                c.into_string()
                    .map_err(|_| invalid("capabilities are names, e.g. \"CAP_NET_ADMIN\""))
            })
            .collect::<Result<_, _>>()?;
        Ok(b.clone())
    });
    engine.register_fn("namespace", |b: &mut Builder, ns: ChildNamespaceOptions| {
        b.0.namespace = Some(ns);
        b.clone()
    });
    engine.register_fn("timeout_ms", |b: &mut Builder, ms: i64| -> Fallible {
        let ms = u64::try_from(ms)
            .ok()
            .filter(|&ms| ms > 0)
            .ok_or_else(|| invalid("timeout_ms must be positive"))?;
        b.0.timeout = Some(Duration::from_millis(ms));
        Ok(b.clone())
    });
    engine.register_fn("build", |b: &mut Builder| b.0.clone());

    engine
        .register_type_with_name::<ChildNamespaceOptionsBuilder>(
            "rust_safe_io::execute::ChildNamespaceOptionsBuilder",
        )
        .register_type_with_name::<ChildNamespaceOptions>(
            "rust_safe_io::execute::ChildNamespaceOptions",
        );
    engine.register_fn(
        "ChildNamespaceOptions",
        ChildNamespaceOptionsBuilder::default,
    );
    engine.register_fn(
        "target_process",
        |b: &mut ChildNamespaceOptionsBuilder, pid: i64| {
            b.target_process = Some(pid);
            b.clone()
        },
    );
    engine.register_fn("build", |b: &mut ChildNamespaceOptionsBuilder| {
        b.target_process
            .filter(|pid| *pid > 0)
            .map(|target_process| ChildNamespaceOptions { target_process })
            .ok_or_else(|| {
                invalid("ChildNamespaceOptions needs .target_process(pid) before .build()")
            })
    });

    let h = host.clone();
    engine.register_fn("execute", move |path: &str| {
        let h = h.call("execute");
        let options = ExecuteOptions::default().for_host(&h)?;
        h.execute(path, &options).map(result).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("execute", move |path: &str, args: Array| {
        let h = h.call("execute");
        let options = ExecuteOptions {
            arguments: parse_args(args)?,
            ..Default::default()
        };
        h.execute(path, &options.for_host(&h)?)
            .map(result)
            .map_err(host_error)
    });
    let h = host;
    engine.register_fn("execute", move |path: &str, o: ExecuteOptions| {
        let h = h.call("execute");
        h.execute(path, &o.for_host(&h)?)
            .map(result)
            .map_err(host_error)
    });
}

super::objects::display_as_type_name!(ExecuteResult);
