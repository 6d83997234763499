//! Processes: `ps`, `kill`, Rex's `ProcessManager` and its results (`ProcessInfo`,
//! `PidNamespace`, `OpenFileInfo`, `FuserInfo`, `IpcsInfo`), its option builders
//! (`ProcessOptions()`, `KillOptions()`, `LsofOptions()`, `MonitorProcessesCpuOptions()`,
//! `TraceOptions()`, `NamespaceOptions()`) and the `Signal` enum.
//!
//! An option builder is set by chained calls and checked by `build()`, as in Rex:
//! `KillOptions().process_name("sleep").signal(Signal::SIGTERM).build()`. A setter changes
//! the builder it is called on and returns it, so both the chained and the statement form
//! work.

use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, ImmutableString};
use tollgate_host::open_files::{OpenFile, OpenFilesOf, PathUser};
use tollgate_host::process::{Ipcs, ListOptions, ProcessEntry, ProcessMatch};

use super::flags;
use super::formats::{traced_process, TracedProcess};
use super::objects::{enumeration, object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid, map};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The result object and enum types of this area (see `objects`), services' included.
pub(crate) const KINDS: &[Kind] = &[
    super::service::ServiceInfo::KIND,
    super::service::STATE_KIND,
    ProcessInfo::KIND,
    PidNamespace::KIND,
    OpenFileInfo::KIND,
    FuserInfo::KIND,
    IpcsInfo::KIND,
    Signal::KIND,
];

object! {
    /// One process (or thread) of a listing.
    pub(crate) struct ProcessInfo as "rust_safe_process_mgmt::ProcessInfo" {
        pid: i64,
        name: String,
        /// `()` for a process without a parent (pid 1, kernel threads' root).
        ppid: Option<i64>,
        uid: Option<i64>,
        username: String,
        /// Resident memory, in bytes.
        memory_usage: i64,
        memory_percent: f64,
        state: String,
        command: String,
        /// Measured only by `monitor_processes_cpu`; `()` in a listing.
        recent_cpu_usage: Option<f64>,
        historical_cpu_usage: f64,
        /// A `PidNamespace`, with `ProcessOptions().load_namespace_info(true)`.
        pid_namespace: Option<Dynamic>,
    }
}

object! {
    /// A process's pid namespace.
    pub(crate) struct PidNamespace as "rust_safe_process_mgmt::PidNamespace" {
        namespace_id: i64,
        child_ns_pid: i64,
    }
}

object! {
    /// One open file of one process (`list_open_files`). Its getter `access` is
    /// `access_type`, as Rex names them.
    pub(crate) struct OpenFileInfo as "rust_safe_process_mgmt::OpenFileInfo" {
        pid: i64,
        process_name: String,
        user: String,
        command: String,
        access_type: String,
        file_type: String,
        file_path: String,
    }
}

object! {
    /// One process holding a path (`processes_using_inode`). Its getter `access` joins
    /// `access_types` with ", ".
    pub(crate) struct FuserInfo as "rust_safe_process_mgmt::FuserInfo" {
        user: String,
        pid: i64,
        access_types: Array,
        command: String,
    }
}

object! {
    /// The System V IPC tables (`ipcs_info`).
    pub(crate) struct IpcsInfo as "rust_safe_process_mgmt::IpcsInfo" {
        shared_memory: String,
        semaphores: String,
        queues: String,
    }
}

/// As Rex prints the tables: each under its heading, in the order shm, queues, semaphores.
impl std::fmt::Display for IpcsInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Shared Memory Segments:")?;
        writeln!(f, "{}", self.shared_memory)?;
        writeln!(f, "\nMessage Queues:")?;
        writeln!(f, "{}", self.queues)?;
        writeln!(f, "\nSemaphore Arrays:")?;
        write!(f, "{}", self.semaphores)
    }
}

enumeration! {
    /// The signals Rex's `KillOptions().signal(...)` takes (`Signal::SIGTERM`, ...).
    #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
    pub(crate) enum Signal as "Signal" in "Signal" { SIGTERM, SIGQUIT, SIGHUP, SIGKILL }
}

impl Signal {
    /// The host's name for it (the `kill::` flag's).
    fn host_name(self) -> &'static str {
        match self {
            Signal::SIGTERM => "TERM",
            Signal::SIGQUIT => "QUIT",
            Signal::SIGHUP => "HUP",
            Signal::SIGKILL => "KILL",
        }
    }
}

fn process_info(p: ProcessEntry) -> ProcessInfo {
    ProcessInfo {
        pid: i64::from(p.pid),
        name: p.name,
        ppid: (p.ppid != 0).then_some(i64::from(p.ppid)),
        uid: Some(i64::from(p.uid)),
        username: p.user,
        memory_usage: i64::try_from(p.rss_bytes).unwrap_or(i64::MAX),
        memory_percent: p.memory_percent,
        state: p.state,
        command: p.command,
        recent_cpu_usage: p.recent_cpu_usage,
        historical_cpu_usage: p.historical_cpu_usage,
        pid_namespace: p.pid_namespace.map(|n| {
            Dynamic::from(PidNamespace {
                namespace_id: i64::try_from(n.namespace_id).unwrap_or(i64::MAX),
                child_ns_pid: i64::from(n.child_ns_pid),
            })
        }),
    }
}

fn processes_array(list: Vec<ProcessEntry>) -> Array {
    list.into_iter()
        .map(|p| Dynamic::from(process_info(p)))
        .collect()
}

/// What `kill` returns: `#{name, pid}` for each process signalled.
fn killed(list: Vec<(String, u32)>) -> Array {
    list.into_iter()
        .map(|(name, pid)| {
            map([
                ("name", name.into()),
                ("pid", Dynamic::from(i64::from(pid))),
            ])
        })
        .collect()
}

fn open_file(f: OpenFile) -> Dynamic {
    Dynamic::from(OpenFileInfo {
        pid: i64::from(f.pid),
        process_name: f.process_name,
        user: f.user,
        command: f.command,
        access_type: f.access.to_owned(),
        file_type: f.file_type.to_owned(),
        file_path: f.file_path,
    })
}

fn path_user(u: PathUser) -> Dynamic {
    Dynamic::from(FuserInfo {
        user: u.user,
        pid: i64::from(u.pid),
        access_types: u
            .access
            .into_iter()
            .map(|a| Dynamic::from(a.to_owned()))
            .collect(),
        command: u.command,
    })
}

fn ipcs_info(i: Ipcs) -> IpcsInfo {
    IpcsInfo {
        shared_memory: i.shared_memory,
        semaphores: i.semaphores,
        queues: i.queues,
    }
}

/// A pid from a script's integer, as Rex's `i64 => u32` setters take it.
fn pid_from(what: &str, n: i64) -> Result<u32> {
    u32::try_from(n).map_err(|_| invalid(format!("{what}: {n} is not a process id")))
}

/// Rex's process handle; it holds nothing, every call goes through the host.
#[derive(Clone, Debug)]
struct RcProcessManager;

#[derive(Clone, Debug, Default)]
struct ProcessOptionsBuilder(ListOptions);
#[derive(Clone, Debug)]
struct ProcessOptions(ListOptions);

#[derive(Clone, Debug, Default)]
struct KillOptionsBuilder {
    pid: Option<i64>,
    process_name: Option<String>,
    username: Option<String>,
    exact_match: bool,
    command: Option<String>,
    signal: Option<Signal>,
}
#[derive(Clone, Debug)]
struct KillOptions(KillOptionsBuilder);

#[derive(Clone, Debug, Default)]
struct LsofOptionsBuilder {
    path: Option<String>,
    include_subdir: bool,
    pid: Option<u32>,
}
#[derive(Clone, Debug)]
struct LsofOptions(OpenFilesOf);

#[derive(Clone, Debug)]
struct MonitorProcessesCpuOptionsBuilder {
    pids: Option<Vec<u32>>,
    batches: u32,
    delay_in_seconds: u64,
    include_threads: bool,
}
#[derive(Clone, Debug)]
struct MonitorProcessesCpuOptions(MonitorProcessesCpuOptionsBuilder);

#[derive(Clone, Debug, Default)]
struct TraceOptionsBuilder {
    ns_pid: Option<u32>,
}
#[derive(Clone, Debug)]
struct TraceOptions {
    ns_pid: u32,
}

#[derive(Clone, Debug, Default)]
struct NamespaceOptionsBuilder {
    mount: bool,
    net: bool,
    pid: Option<u32>,
    net_ns_name: Option<String>,
}
#[derive(Clone, Debug)]
struct NamespaceOptions(NamespaceOptionsBuilder);

/// Registers a builder setter that changes the builder in place and returns it.
macro_rules! setter {
    ($engine:expr, $name:literal, |$b:ident: &mut $B:ty, $v:ident: $V:ty| $body:block) => {
        $engine.register_fn($name, |$b: &mut $B, $v: $V| -> Result<$B> {
            let set = |$b: &mut $B, $v: $V| -> Result<()> { $body };
            set(&mut *$b, $v)?;
            Ok($b.clone())
        });
    };
}

impl KillOptionsBuilder {
    /// Rex's rules: a signal, one way of choosing processes, no negative pid.
    fn build(&self) -> Result<KillOptions> {
        if self.signal.is_none() {
            return Err(invalid(
                "KillOptions: signal is required, e.g. .signal(Signal::SIGTERM)",
            ));
        }
        if self.pid.is_some_and(|p| p < 0) {
            return Err(invalid("KillOptions: pid cannot be negative"));
        }
        let by_pattern =
            self.process_name.is_some() || self.username.is_some() || self.command.is_some();
        if self.pid.is_none() && !by_pattern {
            return Err(invalid(
                "KillOptions: give pid, process_name, username or command to choose processes",
            ));
        }
        if self.pid.is_some() && by_pattern {
            return Err(invalid(
                "KillOptions: pid cannot be used together with process_name, username or command",
            ));
        }
        if self.process_name.is_some() && self.command.is_some() {
            return Err(invalid(
                "KillOptions: process_name and command cannot be used together",
            ));
        }
        Ok(KillOptions(self.clone()))
    }
}

impl LsofOptionsBuilder {
    fn build(&self) -> Result<LsofOptions> {
        match (&self.path, self.pid) {
            (Some(_), Some(_)) => Err(invalid("LsofOptions: pid and path are mutually exclusive")),
            (None, None) => Err(invalid("LsofOptions: either path or pid is required")),
            (Some(p), None) if p.is_empty() => Err(invalid("LsofOptions: path cannot be empty")),
            (Some(p), None) => Ok(LsofOptions(OpenFilesOf::Path {
                path: p.clone(),
                subdirs: self.include_subdir,
            })),
            (None, Some(pid)) => Ok(LsofOptions(OpenFilesOf::Pid(pid))),
        }
    }
}

fn register_builders(engine: &mut Engine) {
    engine.register_type_with_name::<ProcessOptionsBuilder>(
        "rust_safe_process_mgmt::options::ProcessOptionsBuilder",
    );
    engine.register_type_with_name::<ProcessOptions>(
        "rust_safe_process_mgmt::options::ProcessOptions",
    );
    engine.register_fn("ProcessOptions", ProcessOptionsBuilder::default);
    setter!(
        engine,
        "load_namespace_info",
        |b: &mut ProcessOptionsBuilder, v: bool| {
            b.0.namespaces = v;
            Ok(())
        }
    );
    setter!(
        engine,
        "include_threads",
        |b: &mut ProcessOptionsBuilder, v: bool| {
            b.0.threads = v;
            Ok(())
        }
    );
    engine.register_fn(
        "build",
        |b: &mut ProcessOptionsBuilder| -> Result<ProcessOptions> { Ok(ProcessOptions(b.0)) },
    );

    engine.register_type_with_name::<KillOptionsBuilder>(
        "rust_safe_process_mgmt::options::KillOptionsBuilder",
    );
    engine.register_type_with_name::<KillOptions>("rust_safe_process_mgmt::options::KillOptions");
    engine.register_fn("KillOptions", KillOptionsBuilder::default);
    setter!(engine, "pid", |b: &mut KillOptionsBuilder, v: i64| {
        b.pid = Some(v);
        Ok(())
    });
    setter!(
        engine,
        "process_name",
        |b: &mut KillOptionsBuilder, v: ImmutableString| {
            b.process_name = Some(v.to_string());
            Ok(())
        }
    );
    setter!(
        engine,
        "username",
        |b: &mut KillOptionsBuilder, v: ImmutableString| {
            b.username = Some(v.to_string());
            Ok(())
        }
    );
    setter!(
        engine,
        "command",
        |b: &mut KillOptionsBuilder, v: ImmutableString| {
            b.command = Some(v.to_string());
            Ok(())
        }
    );
    setter!(
        engine,
        "exact_match",
        |b: &mut KillOptionsBuilder, v: bool| {
            b.exact_match = v;
            Ok(())
        }
    );
    setter!(engine, "signal", |b: &mut KillOptionsBuilder, v: Signal| {
        b.signal = Some(v);
        Ok(())
    });
    engine.register_fn("build", |b: &mut KillOptionsBuilder| b.build());

    engine.register_type_with_name::<LsofOptionsBuilder>(
        "rust_safe_process_mgmt::options::LsofOptionsBuilder",
    );
    engine.register_type_with_name::<LsofOptions>("rust_safe_process_mgmt::options::LsofOptions");
    engine.register_fn("LsofOptions", LsofOptionsBuilder::default);
    setter!(
        engine,
        "path",
        |b: &mut LsofOptionsBuilder, v: ImmutableString| {
            b.path = Some(v.to_string());
            Ok(())
        }
    );
    setter!(
        engine,
        "include_subdir",
        |b: &mut LsofOptionsBuilder, v: bool| {
            b.include_subdir = v;
            Ok(())
        }
    );
    setter!(engine, "pid", |b: &mut LsofOptionsBuilder, v: i64| {
        b.pid = Some(pid_from("LsofOptions", v)?);
        Ok(())
    });
    engine.register_fn("build", |b: &mut LsofOptionsBuilder| b.build());

    engine.register_type_with_name::<MonitorProcessesCpuOptionsBuilder>(
        "rust_safe_process_mgmt::options::MonitorProcessesCpuOptionsBuilder",
    );
    engine.register_type_with_name::<MonitorProcessesCpuOptions>(
        "rust_safe_process_mgmt::options::MonitorProcessesCpuOptions",
    );
    engine.register_fn("MonitorProcessesCpuOptions", || {
        MonitorProcessesCpuOptionsBuilder {
            pids: None,
            batches: 1,
            delay_in_seconds: 0,
            include_threads: false,
        }
    });
    setter!(
        engine,
        "pids_to_monitor",
        |b: &mut MonitorProcessesCpuOptionsBuilder, v: Array| {
            // Rex drops what is not a process id; so does this.
            let pids = v
                .iter()
                .filter_map(|p| p.as_int().ok().and_then(|n| u32::try_from(n).ok()))
                .collect();
            b.pids = Some(pids);
            Ok(())
        }
    );
    setter!(
        engine,
        "batches",
        |b: &mut MonitorProcessesCpuOptionsBuilder, v: i64| {
            b.batches = u32::try_from(v)
                .map_err(|_| invalid(format!("MonitorProcessesCpuOptions: {v} batches")))?;
            Ok(())
        }
    );
    setter!(
        engine,
        "delay_in_seconds",
        |b: &mut MonitorProcessesCpuOptionsBuilder, v: i64| {
            b.delay_in_seconds = u64::try_from(v)
                .map_err(|_| invalid(format!("MonitorProcessesCpuOptions: a delay of {v} s")))?;
            Ok(())
        }
    );
    setter!(
        engine,
        "include_threads",
        |b: &mut MonitorProcessesCpuOptionsBuilder, v: bool| {
            b.include_threads = v;
            Ok(())
        }
    );
    engine.register_fn("build", |b: &mut MonitorProcessesCpuOptionsBuilder| {
        if b.pids.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(
                "MonitorProcessesCpuOptions: the pids array cannot be empty",
            ));
        }
        Ok(MonitorProcessesCpuOptions(b.clone()))
    });

    engine.register_type_with_name::<TraceOptionsBuilder>(
        "rust_safe_process_mgmt::options::TraceOptionsBuilder",
    );
    engine.register_type_with_name::<TraceOptions>("rust_safe_process_mgmt::options::TraceOptions");
    engine.register_fn("TraceOptions", TraceOptionsBuilder::default);
    setter!(engine, "ns_pid", |b: &mut TraceOptionsBuilder, v: i64| {
        b.ns_pid = Some(pid_from("TraceOptions", v)?);
        Ok(())
    });
    engine.register_fn("build", |b: &mut TraceOptionsBuilder| match b.ns_pid {
        Some(ns_pid) => Ok(TraceOptions { ns_pid }),
        None => Err(invalid("TraceOptions: ns_pid is required")),
    });

    engine.register_type_with_name::<NamespaceOptionsBuilder>(
        "rust_safe_process_mgmt::options::NamespaceOptionsBuilder",
    );
    engine.register_type_with_name::<NamespaceOptions>(
        "rust_safe_process_mgmt::options::NamespaceOptions",
    );
    engine.register_fn("NamespaceOptions", NamespaceOptionsBuilder::default);
    setter!(engine, "mount", |b: &mut NamespaceOptionsBuilder,
                              v: bool| {
        b.mount = v;
        Ok(())
    });
    setter!(engine, "net", |b: &mut NamespaceOptionsBuilder, v: bool| {
        b.net = v;
        Ok(())
    });
    setter!(engine, "pid", |b: &mut NamespaceOptionsBuilder, v: i64| {
        b.pid = Some(pid_from("NamespaceOptions", v)?);
        Ok(())
    });
    setter!(
        engine,
        "net_ns_name",
        |b: &mut NamespaceOptionsBuilder, v: ImmutableString| {
            b.net_ns_name = Some(v.to_string());
            Ok(())
        }
    );
    engine.register_fn(
        "build",
        |b: &mut NamespaceOptionsBuilder| -> Result<NamespaceOptions> {
            Ok(NamespaceOptions(b.clone()))
        },
    );
}

/// The host's signal name for `kill(flags, pid)`: a `kill::` flag (Tollgate's) or a
/// `Signal::` value (Rex's), at most one; TERM without.
fn signal_of(fl: &Array) -> Result<&'static str> {
    if let [one] = fl.as_slice() {
        if let Some(s) = one.read_lock::<Signal>() {
            return Ok(s.host_name());
        }
    }
    let chosen = flags::parse("kill", fl)?;
    match chosen.as_slice() {
        [] => Ok("TERM"),
        [one] => Ok(one.name),
        _ => Err(invalid("kill takes one signal flag, e.g. [kill::KILL]")),
    }
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    register_builders(engine);
    engine.register_get("access", |o: &mut OpenFileInfo| o.access_type.clone());
    engine.register_get("access", |o: &mut FuserInfo| {
        if o.access_types.is_empty() {
            return "No access".to_owned();
        }
        let names: Vec<String> = o.access_types.iter().map(|a| a.to_string()).collect();
        names.join(", ")
    });

    let h = host.clone();
    engine.register_fn("ps", move || -> Result<Array> {
        let h = h.call("ps");
        h.ps().map(processes_array).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("kill", move |pid: i64| -> Result<Array> {
        let h = h.call("kill");
        let one = h.kill(pid, "TERM").map_err(host_error)?;
        Ok(killed(vec![one]))
    });
    let h = host.clone();
    engine.register_fn("kill", move |fl: Array, pid: i64| -> Result<Array> {
        let h = h.call("kill");
        let one = h.kill(pid, signal_of(&fl)?).map_err(host_error)?;
        Ok(killed(vec![one]))
    });

    engine.register_type_with_name::<RcProcessManager>("rust_safe_process_mgmt::RcProcessManager");
    engine.register_fn("ProcessManager", || RcProcessManager);
    let h = host.clone();
    engine.register_fn(
        "processes",
        move |_: &mut RcProcessManager| -> Result<Array> {
            let h = h.call("RcProcessManager.processes");
            h.ps().map(processes_array).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "processes",
        move |_: &mut RcProcessManager, o: ProcessOptions| -> Result<Array> {
            let h = h.call("RcProcessManager.processes");
            h.processes(o.0).map(processes_array).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "kill",
        move |_: &mut RcProcessManager, o: KillOptions| -> Result<Array> {
            let h = h.call("RcProcessManager.kill");
            let o = o.0;
            // `build()` made sure there is a signal; TERM is Rex's default elsewhere.
            let signal = o.signal.map_or("TERM", Signal::host_name);
            let list = match o.pid {
                Some(pid) => vec![h.kill(pid, signal).map_err(host_error)?],
                None => {
                    let which = ProcessMatch {
                        name: o.process_name,
                        user: o.username,
                        command: o.command,
                        exact: o.exact_match,
                    };
                    h.kill_matching(&which, signal).map_err(host_error)?
                }
            };
            Ok(killed(list))
        },
    );
    let h = host.clone();
    engine.register_fn(
        "list_open_files",
        move |_: &mut RcProcessManager, o: LsofOptions| -> Result<Array> {
            let h = h.call("RcProcessManager.list_open_files");
            let files = h.open_files(&o.0).map_err(host_error)?;
            Ok(files.into_iter().map(open_file).collect())
        },
    );
    let h = host.clone();
    engine.register_fn(
        "processes_using_inode",
        move |_: &mut RcProcessManager, path: &str| -> Result<Array> {
            let h = h.call("RcProcessManager.processes_using_inode");
            let users = h.processes_using(path).map_err(host_error)?;
            Ok(users.into_iter().map(path_user).collect())
        },
    );
    let h = host.clone();
    engine.register_fn(
        "ipcs_info",
        move |_: &mut RcProcessManager| -> Result<IpcsInfo> {
            let h = h.call("RcProcessManager.ipcs_info");
            h.ipcs().map(ipcs_info).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "monitor_processes_cpu",
        move |_: &mut RcProcessManager, o: MonitorProcessesCpuOptions| -> Result<Array> {
            let h = h.call("RcProcessManager.monitor_processes_cpu");
            let o = o.0;
            let batches = h
                .monitor_cpu(
                    o.pids.as_deref().unwrap_or(&[]),
                    o.batches,
                    Duration::from_secs(o.delay_in_seconds),
                    o.include_threads,
                )
                .map_err(host_error)?;
            Ok(batches
                .into_iter()
                .map(|b| Dynamic::from_array(processes_array(b)))
                .collect())
        },
    );
    let h = host.clone();
    engine.register_fn(
        "trace",
        move |_: &mut RcProcessManager, pid: i64| -> Result<TracedProcess> {
            let h = h.call("RcProcessManager.trace");
            h.trace(pid, None).map(traced_process).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "trace",
        move |_: &mut RcProcessManager, pid: i64, o: TraceOptions| -> Result<TracedProcess> {
            let h = h.call("RcProcessManager.trace");
            h.trace(pid, Some(o.ns_pid))
                .map(traced_process)
                .map_err(host_error)
        },
    );
    let h = host;
    engine.register_fn(
        "nsenter",
        move |_: &mut RcProcessManager, o: NamespaceOptions, _: FnPtr| -> Result<Dynamic> {
            let h = h.call("RcProcessManager.nsenter");
            let o = o.0;
            let target = match (o.pid, &o.net_ns_name) {
                (Some(pid), _) => format!("the namespaces of process {pid}"),
                (None, Some(name)) => format!("network namespace {name}"),
                (None, None) => {
                    return Err(invalid(
                        "NamespaceOptions: give pid (with mount or net) or net_ns_name",
                    ))
                }
            };
            h.nsenter(&target).map_err(host_error)?;
            Ok(Dynamic::UNIT)
        },
    );
}

// Rex gives these types no `to_string` of their own: Rhai prints their type name.
super::objects::display_as_type_name!(ProcessInfo, PidNamespace, OpenFileInfo, FuserInfo);
