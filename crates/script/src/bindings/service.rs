//! Services: `service_start(name)`, `service_stop`, `service_restart`, `service_try_restart`,
//! `service_status`, `daemon_reload()`, and Rex's handle forms of the same
//! (`SystemctlManager().restart(name)`, `.status(name)`, ...). A status is Rex's
//! `ServiceInfo`, its `active_state` a value of Rex's `State` enum (`State::ACTIVE`, ...).

use rhai::{Dynamic, Engine, ImmutableString, Module};
use serde::Serialize;
use tollgate_host::service::{ServiceStatus, UnitJob};

use super::host_error;
use super::objects::{object, Kind};
use super::sdk_host::Sdk;

/// Rex's handle; it holds nothing, every call goes through the host.
#[derive(Clone, Debug)]
struct SystemctlManager;

/// The unit jobs, by the name of their handle method (the command adds `service_`).
/// The unit jobs: the verb, the SDK function (`service_start`) and method
/// (`SystemctlManager.start`) names, and the job.
const JOBS: &[(&str, &str, &str, UnitJob)] = &[
    (
        "start",
        "service_start",
        "SystemctlManager.start",
        UnitJob::Start,
    ),
    (
        "stop",
        "service_stop",
        "SystemctlManager.stop",
        UnitJob::Stop,
    ),
    (
        "restart",
        "service_restart",
        "SystemctlManager.restart",
        UnitJob::Restart,
    ),
    (
        "try_restart",
        "service_try_restart",
        "SystemctlManager.try_restart",
        UnitJob::TryRestart,
    ),
];

/// A unit's active state, as Rex's `State` enum: the constants `State::ACTIVE`, ...,
/// printed by `to_string()` in systemd's lower-case words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Active,
    Inactive,
    Failed,
    Activating,
    Deactivating,
    Maintenance,
    Reloading,
    Refreshing,
    Unknown,
}

impl State {
    const ALL: &'static [State] = &[
        State::Active,
        State::Inactive,
        State::Failed,
        State::Activating,
        State::Deactivating,
        State::Maintenance,
        State::Reloading,
        State::Refreshing,
        State::Unknown,
    ];

    /// systemd's word for it, `to_string()`.
    fn word(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Inactive => "inactive",
            State::Failed => "failed",
            State::Activating => "activating",
            State::Deactivating => "deactivating",
            State::Maintenance => "maintenance",
            State::Reloading => "reloading",
            State::Refreshing => "refreshing",
            State::Unknown => "unknown",
        }
    }

    /// A state systemd reports; one this build does not know is `Unknown`, as in Rex.
    fn of(word: &str) -> State {
        let word = word.to_ascii_lowercase();
        State::ALL
            .iter()
            .copied()
            .find(|s| s.word() == word)
            .unwrap_or(State::Unknown)
    }

    /// Running, possibly reloading: what Rex's `is_active` says.
    fn is_active(self) -> bool {
        matches!(self, State::Active | State::Reloading | State::Refreshing)
    }
}

/// `State`'s registration: the type, its constants, comparisons, `to_string()` and
/// `is_active`, and its plain form (its word) for the run's output.
pub(crate) const STATE_KIND: Kind = Kind {
    register: |engine: &mut Engine| {
        engine.register_type_with_name::<State>("State");
        let mut module = Module::new();
        for s in State::ALL {
            module.set_var(s.word().to_ascii_uppercase(), *s);
        }
        engine.register_static_module("State", module.into());
        engine.register_fn("==", |a: &mut State, b: State| *a == b);
        engine.register_fn("!=", |a: &mut State, b: State| *a != b);
        // By word, as a script that compares with systemd's text expects.
        engine.register_fn("==", |a: &mut State, b: ImmutableString| {
            a.word() == b.as_str()
        });
        engine.register_fn("!=", |a: &mut State, b: ImmutableString| {
            a.word() != b.as_str()
        });
        engine.register_fn("to_string", |a: &mut State| a.word().to_owned());
        engine.register_fn("to_debug", |a: &mut State| a.word().to_owned());
        engine.register_fn("is_active", |a: &mut State| a.is_active());
        engine.register_get("is_active", |a: &mut State| a.is_active());
    },
    plain: |v: &Dynamic| {
        v.read_lock::<State>()
            .map(|s| Dynamic::from(s.word().to_owned()))
    },
};

object! {
    /// What systemd reports of a unit (`status`, `service_status`).
    pub(crate) struct ServiceInfo as "rust_safe_process_mgmt::systemctl::ServiceInfo" {
        name: String,
        description: String,
        load_state: String,
        load_path: String,
        unit_file_state: String,
        unit_file_preset: String,
        /// A `State`.
        active_state: Dynamic,
        sub_state: String,
        /// `()` when no main process runs.
        main_pid: Option<i64>,
        /// `()` when systemd does not count them.
        tasks: Option<i64>,
        /// Bytes; `()` when systemd does not count it.
        memory: Option<i64>,
        documentation: rhai::Array,
        need_daemon_reload: bool,
    }
}

/// `to_string()` is the status as pretty JSON, its fields in Rex's order, the task and
/// memory counts as strings, as Rex prints it.
impl std::fmt::Display for ServiceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[derive(Serialize)]
        struct Json<'a> {
            name: &'a str,
            description: &'a str,
            load_state: &'a str,
            load_path: &'a str,
            unit_file_state: &'a str,
            unit_file_preset: &'a str,
            active_state: String,
            sub_state: &'a str,
            main_pid: Option<i64>,
            tasks: Option<String>,
            memory: Option<String>,
            documentation: Vec<String>,
            need_daemon_reload: bool,
        }
        let state = self
            .active_state
            .read_lock::<State>()
            .map_or(State::Unknown, |s| *s);
        let json = Json {
            name: &self.name,
            description: &self.description,
            load_state: &self.load_state,
            load_path: &self.load_path,
            unit_file_state: &self.unit_file_state,
            unit_file_preset: &self.unit_file_preset,
            active_state: state.word().to_owned(),
            sub_state: &self.sub_state,
            main_pid: self.main_pid,
            tasks: self.tasks.map(|n| n.to_string()),
            memory: self.memory.map(|n| n.to_string()),
            documentation: self.documentation.iter().map(|d| d.to_string()).collect(),
            need_daemon_reload: self.need_daemon_reload,
        };
        let text = serde_json::to_string_pretty(&json).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

fn service_info(s: ServiceStatus) -> ServiceInfo {
    // Counts past i64 are what systemd reports for "no limit"; the host leaves those out.
    let count = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
    ServiceInfo {
        name: s.name,
        description: s.description,
        load_state: s.load_state,
        load_path: s.load_path,
        unit_file_state: s.unit_file_state,
        unit_file_preset: s.unit_file_preset,
        active_state: Dynamic::from(State::of(&s.active_state)),
        sub_state: s.sub_state,
        main_pid: s.main_pid.map(i64::from),
        tasks: count(s.tasks),
        memory: count(s.memory),
        documentation: s.documentation.into_iter().map(Dynamic::from).collect(),
        need_daemon_reload: s.need_daemon_reload,
    }
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    engine.register_type_with_name::<SystemctlManager>(
        "rust_safe_process_mgmt::systemctl::SystemctlManager",
    );
    engine.register_fn("SystemctlManager", || SystemctlManager);

    for &(verb, function, method, job) in JOBS {
        let h = host.clone();
        engine.register_fn(function, move |name: &str| {
            h.call(function).service_job(job, name).map_err(host_error)
        });
        let h = host.clone();
        engine.register_fn(verb, move |_: &mut SystemctlManager, name: &str| {
            h.call(method).service_job(job, name).map_err(host_error)
        });
    }

    let h = host.clone();
    engine.register_fn("service_status", move |name: &str| {
        let h = h.call("service_status");
        h.service_status(name).map(service_info).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("status", move |_: &mut SystemctlManager, name: &str| {
        let h = h.call("SystemctlManager.status");
        h.service_status(name).map(service_info).map_err(host_error)
    });

    let h = host.clone();
    engine.register_fn("daemon_reload", move || {
        let h = h.call("daemon_reload");
        h.daemon_reload().map_err(host_error)
    });
    let h = host;
    engine.register_fn("daemon_reload", move |_: &mut SystemctlManager| {
        let h = h.call("SystemctlManager.daemon_reload");
        h.daemon_reload().map_err(host_error)
    });
}
