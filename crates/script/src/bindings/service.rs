//! Services: `service_start(name)`, `service_stop`, `service_restart`, `service_try_restart`,
//! `service_status`, `daemon_reload()`, and Rex's handle forms of the same
//! (`SystemctlManager().restart(name)`, `.status(name)`, ...), with Rex's `State::` names for
//! the active states a status reports.

use std::rc::Rc;

use rhai::{Dynamic, Engine, Map, Module};
use tollgate_host::service::{ServiceStatus, UnitJob};
use tollgate_host::Host;

use super::host_error;

/// Rex's handle; it holds nothing, every call goes through the host.
#[derive(Clone, Debug)]
struct SystemctlManager;

/// The unit jobs, by the name of their handle method (the command adds `service_`).
const JOBS: &[(&str, UnitJob)] = &[
    ("start", UnitJob::Start),
    ("stop", UnitJob::Stop),
    ("restart", UnitJob::Restart),
    ("try_restart", UnitJob::TryRestart),
];

/// `State::ACTIVE`, ...: the values of a status's `active_state`.
const STATES: &[&str] = &[
    "active",
    "inactive",
    "failed",
    "activating",
    "deactivating",
    "maintenance",
    "reloading",
    "refreshing",
    "unknown",
];

/// The status as a script map; a number systemd does not report is `()`.
fn status_map(s: ServiceStatus) -> Dynamic {
    let number = |n: Option<u64>| n.map_or(Dynamic::UNIT, |n| Dynamic::from(n as i64));
    let fields: [(&str, Dynamic); 13] = [
        ("name", s.name.into()),
        ("description", s.description.into()),
        ("load_state", s.load_state.into()),
        ("load_path", s.load_path.into()),
        ("unit_file_state", s.unit_file_state.into()),
        ("unit_file_preset", s.unit_file_preset.into()),
        ("active_state", s.active_state.into()),
        ("sub_state", s.sub_state.into()),
        ("main_pid", number(s.main_pid.map(u64::from))),
        ("tasks", number(s.tasks)),
        ("memory", number(s.memory)),
        (
            "documentation",
            Dynamic::from_array(s.documentation.into_iter().map(Dynamic::from).collect()),
        ),
        ("need_daemon_reload", s.need_daemon_reload.into()),
    ];
    let m: Map = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Dynamic::from_map(m)
}

pub(crate) fn register(engine: &mut Engine, host: Rc<Host>) {
    engine.register_type_with_name::<SystemctlManager>("SystemctlManager");
    engine.register_fn("SystemctlManager", || SystemctlManager);

    let mut states = Module::new();
    for state in STATES {
        states.set_var(state.to_ascii_uppercase(), *state);
    }
    engine.register_static_module("State", states.into());

    for &(verb, job) in JOBS {
        let h = Rc::clone(&host);
        engine.register_fn(format!("service_{verb}"), move |name: &str| {
            h.service_job(job, name).map_err(host_error)
        });
        let h = Rc::clone(&host);
        engine.register_fn(verb, move |_: &mut SystemctlManager, name: &str| {
            h.service_job(job, name).map_err(host_error)
        });
    }

    let h = Rc::clone(&host);
    engine.register_fn("service_status", move |name: &str| {
        h.service_status(name).map(status_map).map_err(host_error)
    });
    let h = Rc::clone(&host);
    engine.register_fn("status", move |_: &mut SystemctlManager, name: &str| {
        h.service_status(name).map(status_map).map_err(host_error)
    });

    let h = Rc::clone(&host);
    engine.register_fn("daemon_reload", move || {
        h.daemon_reload().map_err(host_error)
    });
    let h = host;
    engine.register_fn("daemon_reload", move |_: &mut SystemctlManager| {
        h.daemon_reload().map_err(host_error)
    });
}
