//! Services: start, stop, restart and status of a systemd unit, and the manager's reload.
//!
//! The unit name is made canonical first (`nginx` is `nginx.service`, as `systemctl` reads
//! it), and that is the `systemd::Service` the policy sees. Only after the gate permits does
//! Tollgate connect to the system bus (`DBUS_SYSTEM_BUS_ADDRESS`, else the standard socket)
//! and ask systemd's Manager (`org.freedesktop.systemd1`). When the bus cannot be reached but
//! systemd runs, `systemctl` is asked instead: as root it reaches systemd over its private
//! socket, which works while the bus daemon is down. Jobs are queued in mode `replace`, and
//! the call returns once systemd accepted the job, as Rex's does.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tollgate_policy::{Action, Permit, Resource};
use zbus::blocking::{Connection, Proxy};
use zbus::proxy::CacheProperties;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};

use crate::error::{HostError, HostResult};
use crate::Host;

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const SERVICE: &str = "org.freedesktop.systemd1.Service";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";

/// How long one bus call may take: systemctl's own default, so a hung manager cannot hold
/// the run past what an operator would wait for at a shell.
const CALL_TIMEOUT: Duration = Duration::from_secs(25);

/// The unit types systemd knows; a name ending in none of them is a service.
const UNIT_TYPES: &[&str] = &[
    "service",
    "socket",
    "target",
    "device",
    "mount",
    "automount",
    "swap",
    "timer",
    "path",
    "slice",
    "scope",
];

/// The longest unit name systemd accepts (its UNIT_NAME_MAX, less the terminating NUL).
const MAX_UNIT_NAME: usize = 255;

/// What systemd is asked to do with one unit, and what each needs of the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnitJob {
    Start,
    Stop,
    Restart,
    /// Restart only if running (Rex's `try_restart`); needs `restart`.
    TryRestart,
}

impl UnitJob {
    fn action(self) -> Action {
        match self {
            UnitJob::Start => Action::ServiceStart,
            UnitJob::Stop => Action::ServiceStop,
            UnitJob::Restart | UnitJob::TryRestart => Action::ServiceRestart,
        }
    }

    /// The Manager method on the bus.
    fn method(self) -> &'static str {
        match self {
            UnitJob::Start => "StartUnit",
            UnitJob::Stop => "StopUnit",
            UnitJob::Restart => "RestartUnit",
            UnitJob::TryRestart => "TryRestartUnit",
        }
    }

    /// The `systemctl` verb, also the operation named in error messages.
    fn verb(self) -> &'static str {
        match self {
            UnitJob::Start => "start",
            UnitJob::Stop => "stop",
            UnitJob::Restart => "restart",
            UnitJob::TryRestart => "try-restart",
        }
    }
}

/// `service_status(name)`: what systemd reports of a unit (Rex's fields).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceStatus {
    pub name: String,
    pub description: String,
    pub load_state: String,
    /// The unit file (systemd's `FragmentPath`).
    pub load_path: String,
    pub unit_file_state: String,
    pub unit_file_preset: String,
    /// `active`, `inactive`, `failed`, `activating`, `deactivating`, `reloading`, ...
    pub active_state: String,
    pub sub_state: String,
    /// Absent when no main process runs (or the unit is not a service).
    pub main_pid: Option<u32>,
    pub tasks: Option<u64>,
    pub memory: Option<u64>,
    pub documentation: Vec<String>,
    pub need_daemon_reload: bool,
}

/// The canonical unit name of `name`, as `systemctl` reads it: a name without a unit type
/// suffix gets `.service`. Refuses what is not a unit name (path separators, control
/// characters, globs, anything outside systemd's character set) instead of passing it on.
pub fn unit_name(name: &str) -> HostResult<String> {
    let invalid = |why: &str| {
        HostError::InvalidInput(format!(
            "{name:?} is not a unit name: {why}; use a name such as nginx or nginx.service"
        ))
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.contains('/') {
        return Err(invalid(
            "it contains '/' (give the unit's name, not its file)",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("it contains a control character"));
    }
    // systemd's own set: letters, digits and `:-_.\` , plus `@` for template instances.
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":-_.\\@".contains(*c)))
    {
        return Err(invalid(&format!("{c:?} is not allowed in a unit name")));
    }
    let has_type = name
        .rsplit_once('.')
        .is_some_and(|(stem, suffix)| !stem.is_empty() && UNIT_TYPES.contains(&suffix));
    let canonical = if has_type {
        name.to_owned()
    } else {
        format!("{name}.service")
    };
    let stem = canonical.rsplit_once('.').map_or("", |(stem, _)| stem);
    if stem.is_empty() || stem.starts_with('@') || stem.starts_with('.') {
        return Err(invalid("it has no name before its type"));
    }
    if canonical.len() > MAX_UNIT_NAME {
        return Err(invalid(&format!("it is longer than {MAX_UNIT_NAME} bytes")));
    }
    Ok(canonical)
}

/// The unit a permit is for. Bus calls take the permit, so they can only name a unit the
/// gate saw.
fn permitted_unit(permit: &Permit) -> HostResult<&str> {
    match permit.resource() {
        Resource::Service(unit) => Ok(unit),
        other => Err(HostError::InvalidInput(format!(
            "{other} is not a systemd unit"
        ))),
    }
}

/// Where the request goes: the bus, or `systemctl` when the bus is out of reach.
enum Manager {
    Bus(Connection),
    Systemctl(&'static str),
}

impl Manager {
    /// Connects to the system bus; without one, finds a running systemd for `systemctl`.
    /// Neither: the error says services cannot be managed here. Each call on the bus waits
    /// at most `timeout`.
    fn connect(timeout: Duration) -> HostResult<Manager> {
        let bus_error = match zbus::blocking::connection::Builder::system()
            .map(|b| b.method_timeout(timeout.max(Duration::from_millis(1))))
            .and_then(|b| b.build())
        {
            Ok(conn) => return Ok(Manager::Bus(conn)),
            Err(e) => e,
        };
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .unwrap_or_else(|_| "unix:path=/var/run/dbus/system_bus_socket".to_owned());
        // The test systemd itself uses (sd_booted): this directory exists iff systemd is
        // the init system.
        if !Path::new("/run/systemd/system").is_dir() {
            return Err(HostError::NoServiceManager(format!(
                "no systemd on this host: the system bus at {address} cannot be reached ({bus_error}) and systemd is not running; services can only be managed where systemd is the init system (set DBUS_SYSTEM_BUS_ADDRESS if the bus is elsewhere)"
            )));
        }
        match ["/usr/bin/systemctl", "/bin/systemctl"]
            .into_iter()
            .find(|p| Path::new(p).is_file())
        {
            Some(systemctl) => Ok(Manager::Systemctl(systemctl)),
            None => Err(HostError::NoServiceManager(format!(
                "no systemd to ask: the system bus at {address} cannot be reached ({bus_error}) and systemctl is not installed"
            ))),
        }
    }

    fn job(&self, job: UnitJob, unit: &str) -> HostResult<()> {
        match self {
            Manager::Bus(conn) => {
                let _job: OwnedObjectPath = manager(conn)?
                    .call(job.method(), &(unit, "replace"))
                    .map_err(|e| bus_error(job.verb(), unit, e))?;
                Ok(())
            }
            Manager::Systemctl(path) => systemctl(
                path,
                &["--no-block", job.verb(), "--", unit],
                job.verb(),
                unit,
            )
            .map(drop),
        }
    }

    fn reload(&self) -> HostResult<()> {
        const WHAT: &str = "the service manager";
        match self {
            Manager::Bus(conn) => manager(conn)?
                .call::<_, _, ()>("Reload", &())
                .map_err(|e| bus_error("daemon-reload", WHAT, e)),
            Manager::Systemctl(path) => {
                systemctl(path, &["daemon-reload"], "daemon-reload", WHAT).map(drop)
            }
        }
    }

    fn status(&self, unit: &str) -> HostResult<ServiceStatus> {
        let props = match self {
            Manager::Bus(conn) => bus_properties(conn, unit)?,
            Manager::Systemctl(path) => {
                let mut args = vec!["show".to_owned()];
                args.extend(PROPERTY_NAMES.iter().map(|p| format!("--property={p}")));
                args.extend(["--".to_owned(), unit.to_owned()]);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let out = systemctl(path, &args, "status", unit)?;
                out.lines()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.to_owned(), Property::Text(v.to_owned())))
                    .collect()
            }
        };
        let status = ServiceStatus::from_properties(unit, &props);
        if status.load_state == "not-found" {
            return Err(HostError::UnknownUnit {
                unit: unit.to_owned(),
            });
        }
        Ok(status)
    }
}

/// The unit and service properties a status reads; the names are systemd's.
const PROPERTY_NAMES: &[&str] = &[
    "Description",
    "LoadState",
    "FragmentPath",
    "UnitFileState",
    "UnitFilePreset",
    "ActiveState",
    "SubState",
    "MainPID",
    "TasksCurrent",
    "MemoryCurrent",
    "Documentation",
    "NeedDaemonReload",
];

/// One property value, as the bus types it or as `systemctl show` prints it.
enum Property {
    Bus(OwnedValue),
    Text(String),
}

impl Property {
    fn text(&self) -> String {
        match self {
            Property::Bus(v) => v
                .downcast_ref::<&str>()
                .map(str::to_owned)
                .unwrap_or_default(),
            Property::Text(t) => t.clone(),
        }
    }

    /// A number; systemd's "not set" (u64::MAX, `[not set]`) and a zero pid are absent.
    fn number(&self) -> Option<u64> {
        let n = match self {
            Property::Bus(v) => v
                .downcast_ref::<u64>()
                .ok()
                .or_else(|| v.downcast_ref::<u32>().ok().map(u64::from)),
            Property::Text(t) => t.parse().ok(),
        };
        n.filter(|n| *n != 0 && *n != u64::MAX)
    }

    fn flag(&self) -> bool {
        match self {
            Property::Bus(v) => v.downcast_ref::<bool>().unwrap_or(false),
            Property::Text(t) => t == "yes",
        }
    }

    fn list(&self) -> Vec<String> {
        match self {
            Property::Bus(v) => <Vec<String>>::try_from(v.clone()).unwrap_or_default(),
            Property::Text(t) => t.split_whitespace().map(str::to_owned).collect(),
        }
    }
}

impl ServiceStatus {
    fn from_properties(unit: &str, props: &HashMap<String, Property>) -> ServiceStatus {
        let get = |name: &str| props.get(name);
        let text = |name: &str| get(name).map(Property::text).unwrap_or_default();
        let number = |name: &str| get(name).and_then(Property::number);
        ServiceStatus {
            name: unit.to_owned(),
            description: text("Description"),
            load_state: text("LoadState"),
            load_path: text("FragmentPath"),
            unit_file_state: text("UnitFileState"),
            unit_file_preset: text("UnitFilePreset"),
            active_state: text("ActiveState"),
            sub_state: text("SubState"),
            main_pid: number("MainPID").and_then(|p| u32::try_from(p).ok()),
            tasks: number("TasksCurrent"),
            memory: number("MemoryCurrent"),
            documentation: get("Documentation").map(Property::list).unwrap_or_default(),
            need_daemon_reload: get("NeedDaemonReload").is_some_and(Property::flag),
        }
    }
}

/// A proxy that only calls methods: no property cache, so creating it sends nothing.
fn proxy<'a>(conn: &Connection, path: &'a str, interface: &'a str) -> HostResult<Proxy<'a>> {
    zbus::blocking::proxy::Builder::new(conn)
        .destination(DESTINATION)
        .and_then(|b| b.path(path))
        .and_then(|b| b.interface(interface))
        .map(|b| b.cache_properties(CacheProperties::No))
        .and_then(|b| b.build())
        .map_err(|e| bus_error("connect to", "the service manager", e))
}

fn manager(conn: &Connection) -> HostResult<Proxy<'static>> {
    proxy(conn, MANAGER_PATH, MANAGER)
}

/// The unit's properties: its object from `GetUnit` if loaded, else `LoadUnit` (which
/// returns a `not-found` unit for a name systemd has no file for), then every property of
/// the Unit and, for a service, the Service interface.
fn bus_properties(conn: &Connection, unit: &str) -> HostResult<HashMap<String, Property>> {
    let mgr = manager(conn)?;
    let path: OwnedObjectPath = match mgr.call("GetUnit", &(unit,)) {
        Ok(path) => path,
        Err(e) if error_name(&e) == Some(NO_SUCH_UNIT) => mgr
            .call("LoadUnit", &(unit,))
            .map_err(|e| bus_error("status", unit, e))?,
        Err(e) => return Err(bus_error("status", unit, e)),
    };
    let properties = proxy(conn, path.as_str(), PROPERTIES)?;
    let mut out = HashMap::new();
    let interfaces: &[&str] = if unit.ends_with(".service") {
        &[UNIT, SERVICE]
    } else {
        &[UNIT]
    };
    for interface in interfaces {
        let all: HashMap<String, OwnedValue> = properties
            .call("GetAll", &(*interface,))
            .map_err(|e| bus_error("status", unit, e))?;
        out.extend(
            all.into_iter()
                .filter(|(k, _)| PROPERTY_NAMES.contains(&k.as_str()))
                .map(|(k, v)| (k, Property::Bus(v))),
        );
    }
    Ok(out)
}

/// The D-Bus error name of a failed call, if the other side sent one.
fn error_name(e: &zbus::Error) -> Option<&str> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

/// A failed bus call, with systemd's "no such unit" and "no systemd on the bus" made their
/// own kinds.
fn bus_error(op: &'static str, what: &str, e: zbus::Error) -> HostError {
    match error_name(&e) {
        Some(NO_SUCH_UNIT) => HostError::UnknownUnit {
            unit: what.to_owned(),
        },
        Some("org.freedesktop.DBus.Error.ServiceUnknown")
        | Some("org.freedesktop.DBus.Error.NameHasNoOwner") => {
            HostError::NoServiceManager(format!(
                "no systemd on the system bus: nothing owns {DESTINATION}, so {what} cannot be managed here ({e})"
            ))
        }
        _ => HostError::Io {
            op,
            path: what.to_owned(),
            source: io::Error::other(e.to_string()),
        },
    }
}

/// Runs `systemctl ARGS` with a clean environment and C messages; returns its output. Only
/// for a job, status or reload whose permit the caller holds (see `Manager`).
#[allow(clippy::disallowed_methods)]
fn systemctl(path: &str, args: &[&str], op: &'static str, what: &str) -> HostResult<String> {
    let out = Command::new(path)
        .arg("--no-ask-password")
        .args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| HostError::io(op, what, e))?;
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    if stderr.contains("not found") || stderr.contains("not loaded") {
        return Err(HostError::UnknownUnit {
            unit: what.to_owned(),
        });
    }
    if stderr.contains("has not been booted with systemd") || stderr.contains("connect to bus") {
        return Err(HostError::NoServiceManager(format!(
            "no systemd to ask: the system bus cannot be reached and systemctl cannot reach systemd ({stderr})"
        )));
    }
    Err(HostError::Io {
        op,
        path: what.to_owned(),
        source: io::Error::other(format!("systemctl {}: {stderr}", out.status)),
    })
}

impl Host {
    /// `service_start`, `service_stop`, `service_restart`, `service_try_restart`: the
    /// matching `systemd::Action` on `systemd::Service::"<unit>"`, then the job.
    pub fn service_job(&self, job: UnitJob, name: &str) -> HostResult<()> {
        let unit = unit_name(name)?;
        self.interrupt.check()?;
        let permit = self
            .gate
            .authorize(&[job.action()], &Resource::Service(unit))?;
        Manager::connect(self.interrupt.bound(CALL_TIMEOUT))?.job(job, permitted_unit(&permit)?)
    }

    /// `service_status(name)`: `systemd::Action::"status"` on the service, then its state.
    pub fn service_status(&self, name: &str) -> HostResult<ServiceStatus> {
        let unit = unit_name(name)?;
        self.interrupt.check()?;
        let permit = self
            .gate
            .authorize(&[Action::ServiceStatus], &Resource::Service(unit))?;
        Manager::connect(self.interrupt.bound(CALL_TIMEOUT))?.status(permitted_unit(&permit)?)
    }

    /// `daemon_reload()`: `systemd::Action::"daemon_reload"` on `systemd::Systemd`, then
    /// the manager rereads its unit files.
    pub fn daemon_reload(&self) -> HostResult<()> {
        self.interrupt.check()?;
        let permit = self
            .gate
            .authorize(&[Action::SystemdDaemonReload], &Resource::Systemd)?;
        crate::effect::check(&permit, &[Action::SystemdDaemonReload], &Resource::Systemd)
            .map_err(|e| HostError::io("reload", "systemd", e))?;
        Manager::connect(self.interrupt.bound(CALL_TIMEOUT))?.reload()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_without_a_unit_type_is_a_service() {
        assert_eq!(unit_name("nginx").unwrap(), "nginx.service");
        assert_eq!(unit_name("nginx.service").unwrap(), "nginx.service");
        assert_eq!(unit_name("multi-user.target").unwrap(), "multi-user.target");
        assert_eq!(unit_name("getty@tty1").unwrap(), "getty@tty1.service");
        assert_eq!(unit_name("app.v2").unwrap(), "app.v2.service");
        assert_eq!(unit_name("-.mount").unwrap(), "-.mount");
    }

    #[test]
    fn refuses_what_is_not_a_unit_name() {
        for bad in [
            "",
            "../etc/passwd",
            "a/b.service",
            "nginx\n.service",
            "nginx\0",
            "ngi nx",
            "nginx*",
            ".service",
            "@.service",
        ] {
            let err = unit_name(bad).unwrap_err();
            assert!(matches!(err, HostError::InvalidInput(_)), "{bad:?}: {err}");
        }
        assert!(unit_name(&"a".repeat(300)).is_err());
    }
}
