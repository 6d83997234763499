//! The host owner's kill switch: `tollgate freeze` / `thaw` for every run on the host,
//! `tollgate runs` to see the active ones, `tollgate kill RUN_ID` to stop one.
//!
//! They meet the runs in the host's state directory (`$TOLLGATE_STATE_DIR`, else
//! `/run/tollgate` for root and `$XDG_RUNTIME_DIR/tollgate` or `/tmp/tollgate-UID` for others):
//!
//! ```text
//! frozen               present while the host is frozen (who, when, why)
//! runs/RUN_ID.json     one per active run: pid, principal, on-behalf-of, script hash, start
//! runs/RUN_ID.kill     asks that run to stop
//! ```
//!
//! Each tollgate process watches the directory from a thread of its own, every
//! [`POLL`]: a freeze turns every gate decision into a deny at once, in runs already going
//! too, and a kill request interrupts the run it names. A state directory that cannot be
//! read counts as frozen.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use clap::Args;
use serde::{Deserialize, Serialize};
use tollgate_audit::{AuditLog, Event, SyncMode};
use tollgate_host::Interrupt;

use crate::printable;

/// How often a process looks at the state directory; a freeze or kill takes effect within it.
const POLL: Duration = Duration::from_millis(50);

/// How long `tollgate kill` waits for the run to go.
const KILL_WAIT: Duration = Duration::from_secs(1);

/// The host's state directory.
#[derive(Clone, Debug)]
pub struct StateDir(PathBuf);

impl StateDir {
    pub fn locate() -> Result<StateDir, String> {
        if let Some(dir) = std::env::var_os("TOLLGATE_STATE_DIR") {
            return Ok(StateDir(PathBuf::from(dir)));
        }
        if nix::unistd::geteuid().is_root() {
            return Ok(StateDir(PathBuf::from("/run/tollgate")));
        }
        Ok(StateDir(match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(dir) => PathBuf::from(dir).join("tollgate"),
            None => PathBuf::from(format!("/tmp/tollgate-{}", nix::unistd::geteuid())),
        }))
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.0
    }

    fn frozen(&self) -> PathBuf {
        self.0.join("frozen")
    }

    fn runs(&self) -> PathBuf {
        self.0.join("runs")
    }

    fn run(&self, id: &str) -> PathBuf {
        self.runs().join(format!("{id}.json"))
    }

    fn kill_request(&self, id: &str) -> PathBuf {
        self.runs().join(format!("{id}.kill"))
    }

    fn create(&self) -> Result<(), String> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(self.runs())
            .map_err(|e| format!("state directory {}: {e}", self.0.display()))
    }

    /// Whether the host is frozen; an error other than "not there" counts as frozen.
    fn is_frozen(&self) -> bool {
        match std::fs::symlink_metadata(self.frozen()) {
            Ok(_) => true,
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        }
    }
}

/// What `tollgate runs` shows of an active run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    pub pid: u32,
    pub principal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
    pub script_sha256: String,
    pub started: String,
}

/// Keeps this process's view of the kill switch current, from a thread of its own.
pub struct Watch {
    state: StateDir,
    frozen: Arc<AtomicBool>,
    runs: Arc<Mutex<Vec<(String, Interrupt)>>>,
    _stop: mpsc::Sender<()>,
}

impl Watch {
    pub fn start(state: StateDir) -> Result<Watch, String> {
        state.create()?;
        let frozen = Arc::new(AtomicBool::new(state.is_frozen()));
        let runs: Arc<Mutex<Vec<(String, Interrupt)>>> = Arc::default();
        let (stop, stopped) = mpsc::channel::<()>();
        let (thread_state, thread_frozen, thread_runs) =
            (state.clone(), Arc::clone(&frozen), Arc::clone(&runs));
        std::thread::Builder::new()
            .name("kill-switch".to_owned())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(POLL) {
                    thread_frozen.store(thread_state.is_frozen(), Ordering::Relaxed);
                    let runs = thread_runs.lock().unwrap_or_else(|p| p.into_inner());
                    for (id, interrupt) in runs.iter() {
                        if thread_state.kill_request(id).exists() {
                            interrupt.kill();
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot watch the state directory: {e}"))?;
        Ok(Watch {
            state,
            frozen,
            runs,
            _stop: stop,
        })
    }

    /// The flag the gate checks before every decision.
    pub fn frozen(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.frozen)
    }

    /// Lists a run as active until the returned guard is dropped; a kill request for it
    /// raises `interrupt`.
    pub fn register(&self, info: &RunInfo, interrupt: Interrupt) -> Result<Registration, String> {
        let path = self.state.run(&info.run_id);
        let text = serde_json::to_string(info).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((info.run_id.clone(), interrupt));
        Ok(Registration {
            state: self.state.clone(),
            id: info.run_id.clone(),
            runs: Arc::clone(&self.runs),
        })
    }
}

/// An active run's entry in the state directory, removed when the run is over.
pub struct Registration {
    state: StateDir,
    id: String,
    runs: Arc<Mutex<Vec<(String, Interrupt)>>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|(id, _)| *id != self.id);
        // Gone already is as good as removed.
        let _ = std::fs::remove_file(self.state.run(&self.id));
        let _ = std::fs::remove_file(self.state.kill_request(&self.id));
    }
}

#[derive(Args)]
pub struct ControlArgs {
    /// Where the control action is recorded (default: as for `tollgate run`).
    #[arg(long, value_name = "DIR")]
    audit_log: Option<PathBuf>,
    /// Why, for the audit record.
    #[arg(long)]
    reason: Option<String>,
}

#[derive(Args)]
pub struct KillArgs {
    /// The run to stop, as `tollgate runs` lists it.
    run_id: String,
    #[command(flatten)]
    control: ControlArgs,
}

#[derive(Args)]
pub struct RunsArgs {
    /// `human` (one line a run) or `json` (one object a line).
    #[arg(long, short = 'o', value_enum, default_value = "human")]
    output: crate::audit::ShowFormat,
}

/// `tollgate freeze` (`true`) or `tollgate thaw`.
pub fn freeze(args: ControlArgs, freeze: bool) -> ExitCode {
    let result = StateDir::locate().and_then(|state| {
        state.create()?;
        recorded(&args, if freeze { "freeze" } else { "thaw" }, None, || {
            if freeze {
                let note = serde_json::json!({
                    "by": whoami(),
                    "at": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                    "reason": args.reason,
                });
                std::fs::write(state.frozen(), note.to_string())
                    .map_err(|e| format!("{}: {e}", state.frozen().display()))
            } else {
                match std::fs::remove_file(state.frozen()) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(format!("{}: {e}", state.frozen().display()))
                    }
                    _ => Ok(()),
                }
            }
        })
    });
    finish(result.map(|()| {
        if freeze {
            "frozen: every gate decision on this host is a deny until `tollgate thaw`".to_owned()
        } else {
            "thawed: gate decisions follow the policies again".to_owned()
        }
    }))
}

/// `tollgate runs`: the active runs, those whose process is gone left out.
pub fn runs(args: RunsArgs) -> ExitCode {
    let listed = StateDir::locate().and_then(|state| active_runs(&state));
    let (runs, malformed) = match listed {
        Ok(r) => r,
        Err(e) => return finish(Err(e)),
    };
    let mut out = std::io::stdout().lock();
    for r in &runs {
        let _ = match args.output {
            crate::audit::ShowFormat::Json => {
                writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())
            }
            // The entry is a file anyone who can write the directory may have planted, and
            // its principal comes from a token: the line is escaped whole.
            crate::audit::ShowFormat::Human => {
                let line = format!(
                    "{}  pid {}  {}{}  script {}  since {}",
                    r.run_id,
                    r.pid,
                    r.principal,
                    r.on_behalf_of
                        .as_ref()
                        .map(|u| format!(" for {u}"))
                        .unwrap_or_default(),
                    r.script_sha256.chars().take(16).collect::<String>(),
                    r.started
                );
                writeln!(out, "{}", printable::line(&line))
            }
        };
    }
    // An entry Tollgate did not write is named, and makes the listing fail: the registry is
    // what `kill` acts on, so a forged or damaged one must not pass unnoticed.
    for (path, why) in &malformed {
        let line = format!(
            "{}: not a run entry Tollgate wrote ({why}); it was skipped: remove it",
            path.display()
        );
        eprintln!("tollgate: {}", printable::line(&line));
    }
    if malformed.is_empty() {
        ExitCode::SUCCESS
    } else {
        crate::exit::exit_code(Some(tollgate_script::ErrorType::Internal))
    }
}

/// `tollgate kill RUN_ID`: asks the run to stop and waits up to a second for it to go.
pub fn kill(args: KillArgs) -> ExitCode {
    let result = StateDir::locate().and_then(|state| {
        let id = &args.run_id;
        if id.contains('/') || id.starts_with('.') || !state.run(id).exists() {
            return Err(format!(
                "no active run {id:?}; `tollgate runs` lists the active ones"
            ));
        }
        recorded(&args.control, "kill", Some(id), || {
            std::fs::write(state.kill_request(id), "")
                .map_err(|e| format!("{}: {e}", state.kill_request(id).display()))?;
            let deadline = Instant::now() + KILL_WAIT;
            while state.run(id).exists() {
                if Instant::now() > deadline {
                    return Err(format!(
                        "run {id} was asked to stop but is still running after {KILL_WAIT:?}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(format!("run {id} stopped"))
        })
    });
    finish(result)
}

/// The registry's entries whose process is alive, and those that could not be read as an
/// entry (with why).
type Listed = (Vec<RunInfo>, Vec<(PathBuf, String)>);

fn active_runs(state: &StateDir) -> Result<Listed, String> {
    let entries = match std::fs::read_dir(state.runs()) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(format!("{}: {e}", state.runs().display())),
    };
    let (mut runs, mut malformed) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let read = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<RunInfo>(&text).map_err(|e| e.to_string()))
            .and_then(|r| {
                // The entry is named after its run: any other name was not written by a run.
                let named = path.file_stem().and_then(|s| s.to_str()) == Some(r.run_id.as_str());
                if named {
                    Ok(r)
                } else {
                    Err(format!("it names run {:?}", r.run_id))
                }
            });
        match read {
            Ok(r) if alive(r.pid) => runs.push(r),
            Ok(_) => {}
            // A run that ended between the listing and the read.
            Err(_) if !path.exists() => {}
            Err(why) => malformed.push((path, why)),
        }
    }
    runs.sort_by(|a, b| a.started.cmp(&b.started));
    Ok((runs, malformed))
}

/// Whether the run's process still exists (a run killed with SIGKILL leaves its entry).
fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Appends the control action to the host's audit log; failing to means not acting.
/// Records `action`, then does it. The record comes first, because a switch pulled without a
/// record would be an unaudited act; if the act then fails, a `<action>_failed` record with
/// the error follows, so the log does not show as done what was not.
fn recorded<T>(
    args: &ControlArgs,
    action: &str,
    target: Option<&str>,
    act: impl FnOnce() -> Result<T, String>,
) -> Result<T, String> {
    record(args, action, target, args.reason.clone())?;
    act().map_err(
        |e| match record(args, &format!("{action}_failed"), target, Some(e.clone())) {
            Ok(()) => e,
            Err(r) => format!("{e}; and the failure could not be recorded: {r}"),
        },
    )
}

fn record(
    args: &ControlArgs,
    action: &str,
    target: Option<&str>,
    reason: Option<String>,
) -> Result<(), String> {
    let dir = match &args.audit_log {
        Some(d) => d.clone(),
        None => {
            let config = crate::config::load(None)?;
            crate::audit::default_dir(&config)?
        }
    };
    let fail = |e: tollgate_audit::AuditError| {
        format!("the audit log is not available, so nothing was done: {e}")
    };
    tollgate_audit::init(&dir, &Default::default()).map_err(fail)?;
    let log = AuditLog::open(&dir, SyncMode::Batch).map_err(fail)?;
    log.append(
        &crate::audit::new_run_id(),
        Event::Control {
            principal: format!("User::\"{}\"", whoami().escape_default()),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            reason,
        },
    )
    .and_then(|_| log.checkpoint())
    .map_err(fail)?;
    Ok(())
}

pub(crate) fn whoami() -> String {
    let uid = nix::unistd::geteuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name)
}

/// Prints the outcome, escaped: it may name a run id from the command line or the registry.
fn finish(result: Result<String, String>) -> ExitCode {
    match result {
        Ok(msg) => {
            eprintln!("{}", printable::line(&msg));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate: {}", printable::line(&e));
            ExitCode::FAILURE
        }
    }
}
