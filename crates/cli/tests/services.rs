//! Services, gated: each test starts a real `dbus-daemon` on a private socket, with a
//! stand-in for systemd that owns `org.freedesktop.systemd1` and records every Manager call
//! it receives, and points the real binary at it through `DBUS_SYSTEM_BUS_ADDRESS`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::*;
use serde_json::Value;
use zbus::interface;
use zbus::zvariant::OwnedObjectPath;

const DESTINATION: &str = "org.freedesktop.systemd1";

/// The units the stand-in knows: (name, load state, active state, sub state, main pid).
/// `ghost.service` is what systemd's LoadUnit gives for a name it has no file for.
const UNITS: &[(&str, &str, &str, &str, u32)] = &[
    ("nginx.service", "loaded", "active", "running", 4242),
    ("idle.service", "loaded", "inactive", "dead", 0),
    ("ghost.service", "not-found", "inactive", "dead", 0),
];

/// systemd's object path of a unit: every byte that is not a letter or digit as `_xx`.
fn unit_path(name: &str) -> OwnedObjectPath {
    let escaped: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("_{b:02x}")
            }
        })
        .collect();
    OwnedObjectPath::try_from(format!("/org/freedesktop/systemd1/unit/{escaped}")).unwrap()
}

#[derive(Debug, zbus::DBusError)]
#[zbus(prefix = "org.freedesktop.systemd1")]
enum SystemdError {
    #[zbus(error)]
    ZBus(zbus::Error),
    NoSuchUnit(String),
}

type Calls = Arc<Mutex<Vec<String>>>;

struct Manager {
    calls: Calls,
}

impl Manager {
    /// Records the call; answers for a loaded unit, else NoSuchUnit as systemd does.
    fn job(&self, call: &str, name: &str, mode: &str) -> Result<OwnedObjectPath, SystemdError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{call} {name} {mode}"));
        if UNITS.iter().any(|u| u.0 == name && u.1 == "loaded") {
            Ok(OwnedObjectPath::try_from("/org/freedesktop/systemd1/job/7").unwrap())
        } else {
            Err(SystemdError::NoSuchUnit(format!("Unit {name} not found.")))
        }
    }
}

#[interface(name = "org.freedesktop.systemd1.Manager")]
impl Manager {
    fn start_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, SystemdError> {
        self.job("StartUnit", &name, &mode)
    }

    fn stop_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, SystemdError> {
        self.job("StopUnit", &name, &mode)
    }

    fn restart_unit(&self, name: String, mode: String) -> Result<OwnedObjectPath, SystemdError> {
        self.job("RestartUnit", &name, &mode)
    }

    fn try_restart_unit(
        &self,
        name: String,
        mode: String,
    ) -> Result<OwnedObjectPath, SystemdError> {
        self.job("TryRestartUnit", &name, &mode)
    }

    fn reload(&self) {
        self.calls.lock().unwrap().push("Reload".to_owned());
    }

    fn get_unit(&self, name: String) -> Result<OwnedObjectPath, SystemdError> {
        self.calls.lock().unwrap().push(format!("GetUnit {name}"));
        match UNITS.iter().find(|u| u.0 == name && u.1 == "loaded") {
            Some(u) => Ok(unit_path(u.0)),
            None => Err(SystemdError::NoSuchUnit(format!("Unit {name} not loaded."))),
        }
    }

    fn load_unit(&self, name: String) -> Result<OwnedObjectPath, SystemdError> {
        self.calls.lock().unwrap().push(format!("LoadUnit {name}"));
        match UNITS.iter().find(|u| u.0 == name) {
            Some(u) => Ok(unit_path(u.0)),
            None => Err(SystemdError::NoSuchUnit(format!("Unit {name} not found."))),
        }
    }
}

struct Unit(&'static (&'static str, &'static str, &'static str, &'static str, u32));

#[interface(name = "org.freedesktop.systemd1.Unit")]
impl Unit {
    #[zbus(property, name = "Id")]
    fn id(&self) -> String {
        self.0 .0.to_owned()
    }
    #[zbus(property, name = "Description")]
    fn description(&self) -> String {
        format!("The {} stand-in", self.0 .0)
    }
    #[zbus(property, name = "LoadState")]
    fn load_state(&self) -> String {
        self.0 .1.to_owned()
    }
    #[zbus(property, name = "ActiveState")]
    fn active_state(&self) -> String {
        self.0 .2.to_owned()
    }
    #[zbus(property, name = "SubState")]
    fn sub_state(&self) -> String {
        self.0 .3.to_owned()
    }
    #[zbus(property, name = "FragmentPath")]
    fn fragment_path(&self) -> String {
        format!("/lib/systemd/system/{}", self.0 .0)
    }
    #[zbus(property, name = "UnitFileState")]
    fn unit_file_state(&self) -> String {
        "enabled".to_owned()
    }
    #[zbus(property, name = "UnitFilePreset")]
    fn unit_file_preset(&self) -> String {
        "enabled".to_owned()
    }
    #[zbus(property, name = "Documentation")]
    fn documentation(&self) -> Vec<String> {
        vec!["man:nginx(8)".to_owned()]
    }
    #[zbus(property, name = "NeedDaemonReload")]
    fn need_daemon_reload(&self) -> bool {
        false
    }
}

struct Service(u32);

#[interface(name = "org.freedesktop.systemd1.Service")]
impl Service {
    #[zbus(property, name = "MainPID")]
    fn main_pid(&self) -> u32 {
        self.0
    }
    /// systemd reports "not set" (u64::MAX) for a unit that runs nothing.
    #[zbus(property, name = "TasksCurrent")]
    fn tasks_current(&self) -> u64 {
        if self.0 == 0 {
            u64::MAX
        } else {
            3
        }
    }
    #[zbus(property, name = "MemoryCurrent")]
    fn memory_current(&self) -> u64 {
        if self.0 == 0 {
            u64::MAX
        } else {
            4 << 20
        }
    }
}

/// A private bus daemon; killed on drop.
struct Bus {
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Bus {
    fn start() -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("system_bus_socket");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon runs (install the dbus package)");
        // The daemon prints its address once it listens.
        let mut address = String::new();
        BufReader::new(daemon.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        Bus {
            daemon,
            address: address.trim().to_owned(),
            _dir: dir,
        }
    }

    fn env(&self) -> [(&str, &str); 1] {
        [("DBUS_SYSTEM_BUS_ADDRESS", self.address.as_str())]
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// A bus with the systemd stand-in on it.
struct Systemd {
    bus: Bus,
    calls: Calls,
    _conn: zbus::blocking::Connection,
}

impl Systemd {
    fn start() -> Systemd {
        let bus = Bus::start();
        let calls = Calls::default();
        let mut builder = zbus::blocking::connection::Builder::address(bus.address.as_str())
            .unwrap()
            .name(DESTINATION)
            .unwrap()
            .serve_at(
                "/org/freedesktop/systemd1",
                Manager {
                    calls: Arc::clone(&calls),
                },
            )
            .unwrap();
        for unit in UNITS {
            builder = builder
                .serve_at(unit_path(unit.0), Unit(unit))
                .unwrap()
                .serve_at(unit_path(unit.0), Service(unit.4))
                .unwrap();
        }
        let conn = builder.build().unwrap();
        Systemd {
            bus,
            calls,
            _conn: conn,
        }
    }

    /// Runs `script` under `policy` with this bus as the system bus.
    fn run(&self, s: &Sandbox, policy: &str, script: &str) -> Run {
        s.run_env(policy, script, &[], &self.bus.env())
    }

    /// The calls received so far, and forgets them.
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

const NGINX_JOBS: &str = r#"permit(principal, action in [systemd::Action::"start", systemd::Action::"stop", systemd::Action::"restart"], resource == systemd::Service::"nginx.service");"#;

const ALL_SYSTEMD: &str =
    r#"permit(principal, action in systemd::Action::"SystemdAction", resource);"#;

#[test]
fn permitted_jobs_reach_systemd_with_the_canonical_unit_and_mode_replace() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let script = r#"
        service_start("nginx");
        service_stop("nginx.service");
        service_restart("nginx");
        service_try_restart("nginx");
        let m = SystemctlManager();
        m.start("nginx");
        m.stop("nginx");
        m.restart("nginx.service");
        m.try_restart("nginx");
        "done"
    "#;
    assert_eq!(systemd.run(&s, NGINX_JOBS, script).ok(), "done");
    assert_eq!(
        systemd.take_calls(),
        [
            "StartUnit nginx.service replace",
            "StopUnit nginx.service replace",
            "RestartUnit nginx.service replace",
            "TryRestartUnit nginx.service replace",
            "StartUnit nginx.service replace",
            "StopUnit nginx.service replace",
            "RestartUnit nginx.service replace",
            "TryRestartUnit nginx.service replace",
        ]
    );
}

#[test]
fn denied_jobs_never_reach_systemd() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let status_only = r#"permit(principal, action == systemd::Action::"status", resource == systemd::Service::"nginx.service");"#;
    for (script, action) in [
        (r#"service_start("nginx")"#, "start"),
        (r#"service_stop("nginx")"#, "stop"),
        (r#"service_restart("nginx")"#, "restart"),
        (r#"SystemctlManager().restart("nginx")"#, "restart"),
        (r#"SystemctlManager().try_restart("nginx")"#, "restart"),
    ] {
        let r = systemd.run(&s, status_only, script);
        assert_eq!(r.code, 4, "{script}: {:#}", r.json);
        assert!(
            r.message()
                .contains(&format!(r#"systemd::Action::"{action}""#))
                && r.message().contains(r#"systemd::Service::"nginx.service""#),
            "{}",
            r.message()
        );
    }
    // Permission for one unit is not permission for another.
    let r = systemd.run(&s, NGINX_JOBS, r#"service_start("idle")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains(r#""idle.service""#), "{}", r.message());
    let r = systemd.run(&s, NGINX_JOBS, r#"service_status("nginx")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(systemd.take_calls(), Vec::<String>::new());
}

#[test]
fn status_reports_what_systemd_says() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let policy =
        r#"permit(principal, action == systemd::Action::"status", resource is systemd::Service);"#;
    let st: Value =
        serde_json::from_str(systemd.run(&s, policy, r#"service_status("nginx")"#).ok()).unwrap();
    assert_eq!(st["name"], "nginx.service");
    assert_eq!(st["active_state"], "active");
    assert_eq!(st["sub_state"], "running");
    assert_eq!(st["load_state"], "loaded");
    assert_eq!(st["description"], "The nginx.service stand-in");
    assert_eq!(st["load_path"], "/lib/systemd/system/nginx.service");
    assert_eq!(st["unit_file_state"], "enabled");
    assert_eq!(st["main_pid"], 4242);
    assert_eq!(st["tasks"], 3);
    assert_eq!(st["memory"], 4 << 20);
    assert_eq!(st["documentation"], serde_json::json!(["man:nginx(8)"]));
    assert_eq!(st["need_daemon_reload"], false);
    assert_eq!(systemd.take_calls(), ["GetUnit nginx.service"]);

    // Rex's form, and its State names.
    let script = r#"
        let st = SystemctlManager().status("idle");
        [st.active_state == State::INACTIVE, st.main_pid == (), st.tasks == ()]
    "#;
    assert_eq!(systemd.run(&s, policy, script).ok(), "[true,true,true]");
}

#[test]
fn status_is_a_service_info_with_a_state_as_rex_has_them() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let policy =
        r#"permit(principal, action == systemd::Action::"status", resource is systemd::Service);"#;
    let script = r#"
        let st = SystemctlManager().status("nginx");
        let state = st.active_state;
        let json = parse_json(st.to_string());
        [type_of(st), type_of(SystemctlManager()), type_of(state), state.to_string(),
         state.is_active, state.is_active(), State::RELOADING.is_active, State::FAILED.is_active,
         state == State::ACTIVE, state != State::FAILED, state == "active",
         st.to_map().active_state, st.main_pid, st.tasks, st.memory,
         json.tasks, json.memory, json.active_state, json.main_pid]
    "#;
    let out: Value = serde_json::from_str(systemd.run(&s, policy, script).ok()).unwrap();
    assert_eq!(
        out,
        serde_json::json!([
            "rust_safe_process_mgmt::systemctl::ServiceInfo",
            "rust_safe_process_mgmt::systemctl::SystemctlManager",
            "State",
            "active",
            true,
            true,
            true,
            false,
            true,
            true,
            true,
            "active",
            4242,
            3,
            4 << 20,
            "3",
            (4 << 20).to_string(),
            "active",
            4242
        ])
    );
    // Every state Rex names, by its word.
    let script = r#"
        [State::ACTIVE, State::INACTIVE, State::FAILED, State::ACTIVATING, State::DEACTIVATING,
         State::MAINTENANCE, State::RELOADING, State::REFRESHING, State::UNKNOWN].map(|s| s.to_string())
    "#;
    assert_eq!(
        systemd.run(&s, policy, script).ok(),
        r#"["active","inactive","failed","activating","deactivating","maintenance","reloading","refreshing","unknown"]"#
    );
}

#[test]
fn human_output_shows_the_status_as_lines() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let policy =
        r#"permit(principal, action == systemd::Action::"status", resource is systemd::Service);"#;
    let env = systemd.bus.env();
    let human = ["--output", "human"];
    let r = s.run_env(policy, r#"service_status("nginx")"#, &human, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = single_spaced(r.json.as_str().unwrap());
    for line in [
        "active_state: active",
        "sub_state: running",
        "main_pid: 4242",
        "name: nginx.service",
        "documentation:\n  - man:nginx(8)",
    ] {
        assert!(text.contains(line), "{line:?} missing from:\n{text}");
    }
    let r = s.run_env(policy, r#"service_status("idle")"#, &human, &env);
    assert!(
        single_spaced(r.json.as_str().unwrap()).contains("main_pid: (none)"),
        "{:?}",
        r.json
    );
}

/// Human output aligns values in a column; this puts one space after each key instead.
fn single_spaced(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(": ") {
            Some((k, v)) => format!("{k}: {}\n", v.trim_start()),
            None => format!("{l}\n"),
        })
        .collect()
}

#[test]
fn daemon_reload_needs_daemon_reload_on_systemd() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let services_only = r#"permit(principal, action in [systemd::Action::"start", systemd::Action::"stop", systemd::Action::"restart", systemd::Action::"status"], resource);"#;
    for script in ["daemon_reload()", "SystemctlManager().daemon_reload()"] {
        let r = systemd.run(&s, services_only, script);
        assert_eq!(r.code, 4, "{:#}", r.json);
        assert!(
            r.message().contains(r#"systemd::Action::"daemon_reload""#)
                && r.message().contains("systemd::Systemd"),
            "{}",
            r.message()
        );
    }
    assert_eq!(systemd.take_calls(), Vec::<String>::new());
    let reload = r#"permit(principal, action == systemd::Action::"daemon_reload", resource == systemd::Systemd::"systemd");"#;
    let r = systemd.run(
        &s,
        reload,
        "daemon_reload(); SystemctlManager().daemon_reload()",
    );
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert_eq!(systemd.take_calls(), ["Reload", "Reload"]);
}

#[test]
fn an_unknown_service_is_a_not_found_error() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    let r = systemd.run(&s, ALL_SYSTEMD, r#"service_status("ghost")"#);
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("ghost.service: no such unit"),
        "{}",
        r.message()
    );
    let r = systemd.run(&s, ALL_SYSTEMD, r#"service_start("nosuch")"#);
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("nosuch.service: no such unit"),
        "{}",
        r.message()
    );
    let caught = r#"
        let kinds = [];
        try { service_status("ghost") } catch (e) { kinds.push(e.kind) }
        try { SystemctlManager().stop("ghost") } catch (e) { kinds.push(e.kind) }
        kinds
    "#;
    assert_eq!(
        systemd.run(&s, ALL_SYSTEMD, caught).ok(),
        r#"["ServiceNotFound","ServiceNotFound"]"#
    );
    assert_eq!(
        systemd.take_calls(),
        [
            "GetUnit ghost.service",
            "LoadUnit ghost.service",
            "StartUnit nosuch.service replace",
            "GetUnit ghost.service",
            "LoadUnit ghost.service",
            "StopUnit ghost.service replace",
        ]
    );
}

#[test]
fn bad_unit_names_are_refused_before_the_gate_and_the_bus() {
    let systemd = Systemd::start();
    let s = Sandbox::new();
    for name in [
        r#""../../etc/passwd""#,
        r#""nginx/..""#,
        r#""nginx\n.service""#,
        r#""nginx*""#,
        r#""""#,
    ] {
        let r = systemd.run(&s, ALL_SYSTEMD, &format!("service_restart({name})"));
        assert_eq!(r.code, 5, "{name}: {:#}", r.json);
        assert!(
            r.message().contains("is not a unit name"),
            "{name}: {}",
            r.message()
        );
    }
    let r = systemd.run(
        &s,
        ALL_SYSTEMD,
        r#"let k = ""; try { service_status("a/b") } catch (e) { k = e.kind } k"#,
    );
    assert_eq!(r.ok(), "InvalidArguments");
    assert_eq!(systemd.take_calls(), Vec::<String>::new());
    // Nothing was asked of the gate either: the audit log holds no service decision.
    assert!(
        s.records()
            .iter()
            .all(|r| r["resource_type"] != "systemd::Service"),
        "{:#?}",
        s.records()
    );
}

#[test]
fn without_systemd_the_error_says_so() {
    let s = Sandbox::new();
    // A bus with nobody owning systemd's name on it.
    let bus = Bus::start();
    let r = s.run_env(ALL_SYSTEMD, r#"service_status("nginx")"#, &[], &bus.env());
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("no systemd on the system bus"),
        "{}",
        r.message()
    );
    // No bus at all. Where systemd does run, Tollgate rightly falls back to systemctl.
    if Path::new("/run/systemd/system").exists() {
        eprintln!("systemd runs here; the no-systemd case is not checked");
        return;
    }
    let missing = format!("unix:path={}/none", s.path(""));
    let env = [("DBUS_SYSTEM_BUS_ADDRESS", missing.as_str())];
    for script in [r#"service_start("nginx")"#, "daemon_reload()"] {
        let r = s.run_env(ALL_SYSTEMD, script, &[], &env);
        assert_eq!(r.code, 5, "{:#}", r.json);
        assert!(
            r.message().contains("no systemd on this host")
                && r.message().contains("cannot be reached"),
            "{}",
            r.message()
        );
    }
    let r = s.run_env(
        ALL_SYSTEMD,
        r#"let k = ""; try { service_stop("nginx") } catch (e) { k = e.kind } k"#,
        &[],
        &env,
    );
    assert_eq!(r.ok(), "Unavailable");
}
