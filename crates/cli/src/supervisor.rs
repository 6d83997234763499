//! A run as two processes. This one, the supervisor, has validated the policy and the host
//! config; it forks a worker for the script, then opens the audit log with the signing key,
//! records the run's start, and enforces from outside what the script cannot be trusted to
//! stop by itself: the wall clock (the worker's process group is killed at `--timeout`), the
//! size of what is printed, the host owner's kill switch, and signals to the supervisor.
//! Whatever the worker does, the supervisor writes exactly one end record saying how it
//! ended, and the caller prints one well-formed result. It also carries out what the
//! confined worker may not do itself (another process's descriptors, `trace`, `unmount`):
//! each such call is decided again here, against the run's policy and Tollgate's own files,
//! by a gate of the supervisor's own that records into the run's log, before anything is
//! done (see `tollgate_host::supervisor_call`).
//!
//! The worker (see [`crate::worker`]) is forked, not executed anew, so it starts with the
//! parsed policy and costs no second start-up; it builds the run's only gate itself, with
//! its decision log and the freeze flag the supervisor drives. The fork happens while this process has one
//! thread, has opened no log and has read no key: the key is loaded only after the fork, so
//! it is never in the worker's memory.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use serde::{Deserialize, Serialize};
use tollgate_audit::{Event, GateRecorder};
use tollgate_host::redact::Counts;
use tollgate_host::supervisor_call::{
    self, CallBounds, CallError, CallErrorKind, SupervisorAnswer, SupervisorCall,
};
use tollgate_host::Interrupt;
use tollgate_policy::{Gate, Recorder};
use tollgate_script::{DeniedCall, ErrorType, LogEntry, Reports, RunError, EXHAUSTED_EXIT};

use crate::cgroup::MemoryCgroup;
use crate::control::RunInfo;
use crate::files::sha256_hex;
use crate::output::{self, Format};
use crate::run::{Finished, Setup};
use crate::sandbox::Confinement;

/// How long past `--timeout` a worker that does not stop by itself is given before it is
/// killed: its own watchdog ends a script cleanly within this.
const GRACE: Duration = Duration::from_millis(50);

/// How often the supervisor looks at the kill switch and at due checkpoints.
const TICK: Duration = Duration::from_millis(20);

/// What the worker sends, one JSON line each: `Ready` once it is confined, then `Done`.
#[derive(Serialize, Deserialize)]
pub(crate) enum WorkerMessage {
    Ready(Confinement),
    /// The worker could not start the script (its log or its confinement failed).
    Failed(RunError),
    /// A checkpoint fell due at the worker's last append: the supervisor takes it and
    /// publishes it in the background.
    Due,
    /// What the worker may not do itself and its gate has permitted (another process's
    /// descriptors, a trace, an unmount): decided again here against the run's policy, then
    /// carried out; answered with [`ANSWER`] and a JSON line. `sdk_call` is the SDK call it
    /// serves, which the supervisor's decision records too.
    Call {
        call: SupervisorCall,
        sdk_call: Option<String>,
    },
    Done(WorkerResult),
}

/// The run as the worker saw it end.
#[derive(Serialize, Deserialize)]
pub(crate) struct WorkerResult {
    pub output: Option<String>,
    pub error: Option<RunError>,
    /// The denial that ended the run, for agent-facing callers.
    pub denied: Option<DeniedCall>,
    pub logs: Vec<LogEntry>,
    pub redactions: std::collections::BTreeMap<String, Counts>,
    /// The metrics and alarms the script published.
    #[serde(default)]
    pub reports: Reports,
    pub permits: u64,
    pub denies: u64,
    /// Whether the worker's own watchdog stopped the script at the time limit.
    pub timed_out: bool,
}

/// What the supervisor sends first, once the run's start is recorded: whether the host is
/// frozen. After it, single bytes: [`FREEZE`] and [`THAW`].
#[derive(Serialize, Deserialize)]
pub(crate) struct Go {
    pub frozen: bool,
    /// What is left of `--timeout` for the script.
    pub timeout_ms: u64,
}

pub(crate) const FREEZE: u8 = b'F';
pub(crate) const THAW: u8 = b'T';
/// Precedes the JSON line that answers a [`WorkerMessage::Call`].
pub(crate) const ANSWER: u8 = b'A';

/// How the worker ended, as the end record says it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Returned,
    Timeout,
    Memory,
    Output,
    Killed,
    Cancelled,
    Crashed,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::Returned => "returned",
            Ending::Timeout => "timeout",
            Ending::Memory => "memory",
            Ending::Output => "output",
            Ending::Killed => "killed",
            Ending::Cancelled => "cancelled",
            Ending::Crashed => "crashed",
        }
    }
}

/// Runs `script` in a worker and returns how the run ended, its end recorded.
pub fn run(setup: &mut Setup, script: String, args_text: Option<&str>, format: Format) -> Finished {
    let scope = match setup.check_inputs(&script, args_text) {
        Ok(v) => v,
        Err(e) => return Finished::failed(e),
    };
    // Named before the fork: the worker's gate records its decisions under it from the
    // first, and the supervisor records the run's start and end under it.
    let run_id = crate::audit::new_run_id();
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        RunError::new(
            ErrorType::Internal,
            format!("cannot start the script's worker: {what}: {e}, so nothing ran"),
        )
    };
    if let Err(n) = single_threaded() {
        return Finished::failed(internal("the supervisor has other threads", &n));
    }
    if let Some(dir) = setup.audit_dir.clone() {
        if let Err(e) = init_apart(&dir) {
            return Finished::failed(setup.refuse(e));
        }
    }
    // Signals that end the run are taken from a descriptor, so that a SIGTERM during the
    // run kills the worker and still records the end.
    let mut ending_signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        ending_signals.add(s);
    }
    if let Err(e) = ending_signals.thread_block() {
        return Finished::failed(internal("block signals", &e));
    }
    let signals = match SignalFd::with_flags(
        &ending_signals,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    ) {
        Ok(fd) => fd,
        Err(e) => return Finished::failed(internal("signalfd", &e)),
    };
    let pipes = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).and_then(|result| {
        rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).map(|control| (result, control))
    });
    let ((result_read, result_write), (control_read, control_write)) = match pipes {
        Ok(p) => p,
        Err(e) => return Finished::failed(internal("pipe", &e)),
    };
    let supervisor_pid = std::process::id();
    // SAFETY: this process has one thread (checked above), so the child starts in a
    // consistent state and may allocate and run ordinary Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Finished::failed(internal("fork", &std::io::Error::last_os_error()));
    }
    if pid == 0 {
        drop(result_read);
        drop(control_write);
        let _ = ending_signals.thread_unblock();
        crate::worker::main(crate::worker::Start {
            supervisor_pid,
            result: result_write,
            control: control_read,
            run_id,
            script,
            scope,
            setup,
            format,
        });
    }
    // The supervisor will hold the signing key: not dumpable, its memory, maps and
    // environment are kept from processes of its user that lack CAP_SYS_PTRACE (the worker
    // gave it up), where the kernel applies that; the gate refuses scripts its /proc
    // directory in any case, and Landlock keeps the worker from its memory.
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    drop(result_write);
    drop(control_read);
    // Also done by the worker itself; whichever runs first makes the group.
    // SAFETY: setpgid takes two integers.
    unsafe { libc::setpgid(pid, pid) };
    let worker = Worker {
        pid,
        result: result_read,
        control: control_write,
        received: Vec::new(),
    };
    let finished = supervise(setup, worker, run_id, &signals, &script, args_text, format);
    let _ = ending_signals.thread_unblock();
    finished
}

/// Creates the audit log if there is none yet, in a child process of its own: making a log
/// makes its signing key, and the key must never be in this process's memory before the
/// worker is forked from it.
fn init_apart(dir: &std::path::Path) -> Result<(), RunError> {
    if dir.join("config.json").exists() {
        return Ok(());
    }
    let unavailable = |e: String| crate::run::audit_unavailable(e);
    let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| unavailable(format!("cannot create it: {e}")))?;
    // SAFETY: as for the worker's fork: this process has one thread (checked by the caller).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(unavailable(format!(
            "cannot create it: {}",
            std::io::Error::last_os_error()
        )));
    }
    if pid == 0 {
        drop(read);
        let code = match tollgate_audit::init(dir, &Default::default()) {
            Ok(_) => 0,
            Err(e) => {
                let _ = std::fs::File::from(write).write_all(e.to_string().as_bytes());
                1
            }
        };
        // SAFETY: ends this child without running the parent's exit handlers.
        unsafe { libc::_exit(code) }
    }
    drop(write);
    let mut message = String::new();
    let _ = std::fs::File::from(read)
        .take(64 << 10)
        .read_to_string(&mut message);
    let mut status = 0;
    // SAFETY: waitpid writes the status into the integer it is given.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
    {}
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if message.is_empty() {
        Err(unavailable("creating it failed".to_owned()))
    } else {
        Err(unavailable(message))
    }
}

/// The forked worker, seen from the supervisor.
struct Worker {
    pid: libc::pid_t,
    result: OwnedFd,
    control: OwnedFd,
    /// What the worker has sent and the supervisor has not read as a message yet.
    received: Vec<u8>,
}

impl Worker {
    /// Kills the worker's whole process group (reaping is [`Worker::reap`]'s).
    fn kill(&self) {
        // SAFETY: kill takes two integers; a group that is gone gives ESRCH, which is fine.
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
            libc::kill(self.pid, libc::SIGKILL);
        }
    }

    /// Waits for the worker to exit and says how.
    fn reap(&self) -> std::process::ExitStatus {
        use std::os::unix::process::ExitStatusExt;
        let mut status = 0;
        loop {
            // SAFETY: waitpid writes the status into the integer it is given.
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid
                || (r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                break;
            }
        }
        std::process::ExitStatus::from_raw(status)
    }

    fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut f = std::fs::File::from(self.control.try_clone()?);
        f.write_all(bytes)
    }
}

/// Whether this process has exactly one thread (the condition for a safe fork). A thread
/// that was joined can still be counted while the kernel finishes its exit (policy loading
/// parses the schema on one): microseconds on an idle host, possibly far longer on a loaded
/// one, where a run must not fail to start for it. So the count is looked at again for up
/// to a second before the answer is no; a run whose threads are gone never waits.
fn single_threaded() -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
        let threads = status
            .lines()
            .find_map(|l| l.strip_prefix("Threads:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default();
        if threads == "1" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("{threads} threads"));
        }
        std::thread::sleep(Duration::from_micros(50));
    }
}

/// Room in the worker's cgroup above `--max-memory` for the binary's pages, the stacks of
/// its threads and the allocator's slack.
const CGROUP_ALLOWANCE: u64 = 32 << 20;

/// Why the supervisor stopped waiting for the worker.
enum Stop {
    /// The worker closed its end: it has sent everything it will send.
    Closed,
    Timeout,
    Output,
    Killed,
    Cancelled,
}

/// The supervisor's side of one run.
fn supervise(
    setup: &mut Setup,
    mut worker: Worker,
    run_id: String,
    signals: &SignalFd,
    script: &str,
    args_text: Option<&str>,
    format: Format,
) -> Finished {
    let deadline = setup.begun + setup.limits.timeout;
    // The most a worker may send: the result and logs within --max-output, escaped as JSON
    // (at most six bytes a byte), and the envelope.
    let cap = setup
        .limits
        .max_output
        .saturating_mul(6)
        .saturating_add(1 << 20);
    let refuse = |setup: &mut Setup, worker: &Worker, e: RunError| {
        worker.kill();
        worker.reap();
        Finished::failed(setup.refuse(e))
    };
    // 1. The worker confines itself and says how.
    let ready = match next_message(&mut worker, signals, deadline, cap) {
        Ok(Some(WorkerMessage::Ready(c))) => c,
        Ok(Some(WorkerMessage::Failed(e))) => return refuse(setup, &worker, e),
        Ok(_) | Err(_) => {
            let e = RunError::new(
                ErrorType::Internal,
                "the script's worker stopped before it was confined, so nothing ran".to_owned(),
            );
            return refuse(setup, &worker, e);
        }
    };
    if setup.require_sandbox && !ready.complete() {
        let e = RunError::new(
            ErrorType::AccessDenied,
            format!(
                "this host requires a confined worker (--require-sandbox), and the kernel could not apply: {}; so nothing ran",
                ready.missing.join("; ")
            ),
        );
        return refuse(setup, &worker, e);
    }
    for missing in &ready.missing {
        eprintln!("tollgate: warning: the worker is not fully confined: {missing}");
    }
    // The kernel's bound on what the worker and what it runs hold, where the host lets one be
    // made; it lives until the worker is reaped.
    let mut ready = ready;
    let _memory_cgroup = match MemoryCgroup::join(
        worker.pid,
        (setup.limits.max_memory as u64).saturating_add(CGROUP_ALLOWANCE),
    ) {
        Ok(cgroup) => {
            ready.memory_cgroup = Some(cgroup.path().display().to_string());
            Some(cgroup)
        }
        Err(why) => {
            ready.memory_cgroup_unavailable = Some(why);
            None
        }
    };
    // 2. The log, with the key, opened only now that the worker exists without it.
    let log = match setup.audit() {
        Ok(log) => log,
        Err(e) => return refuse(setup, &worker, e),
    };
    let frozen = match setup.watch() {
        Ok(w) => w.frozen(),
        Err(e) => return refuse(setup, &worker, e),
    };
    let mut recorder = None;
    if let Some(log) = &log {
        let sandbox = serde_json::to_value(&ready).ok();
        match setup.start_audit(
            log,
            run_id.clone(),
            script,
            args_text.unwrap_or(""),
            sandbox,
        ) {
            Ok(r) => recorder = Some(r),
            Err(e) => {
                worker.kill();
                worker.reap();
                return Finished::failed(e);
            }
        }
    }
    let interrupt = tollgate_host::Interrupt::new();
    let info = RunInfo {
        run_id,
        pid: std::process::id(),
        principal: setup.caller.principal_uid(),
        on_behalf_of: tollgate_audit::on_behalf_of(&setup.caller),
        script_sha256: sha256_hex(script.as_bytes()),
        started: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    };
    let registration = match setup.watch().and_then(|w| {
        w.register(&info, interrupt.clone()).map_err(|e| {
            RunError::new(
                ErrorType::AccessDenied,
                format!("the run cannot be listed for the kill switch, so nothing ran: {e}"),
            )
        })
    }) {
        Ok(r) => r,
        Err(e) => return abandon(setup, &worker, recorder, format, e),
    };
    // 3. Go.
    let mut is_frozen = frozen.load(std::sync::atomic::Ordering::Relaxed);
    let go = Go {
        frozen: is_frozen,
        timeout_ms: deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64,
    };
    let go_line = serde_json::to_string(&go).map(|l| l + "\n");
    if let Err(e) = go_line
        .map_err(std::io::Error::other)
        .and_then(|l| worker.send(l.as_bytes()))
    {
        let e = RunError::new(
            ErrorType::Internal,
            format!("the script's worker could not be started: {e}"),
        );
        return abandon(setup, &worker, recorder, format, e);
    }
    // 4. Wait, enforcing from outside.
    let mut done = None;
    let mut calls = Calls::new(deadline, &setup.limits, worker.pid);
    let stop = loop {
        calls.answer_finished(&worker);
        match wait_readable(&worker, signals, TICK) {
            Ok(Readable::Result) => match read_some(&mut worker, cap) {
                Ok(open) => {
                    for message in complete_messages(&mut worker.received) {
                        match message {
                            WorkerMessage::Due => {
                                // A checkpoint that cannot even be taken: no later decision
                                // of the run may be made.
                                let taken = log
                                    .as_ref()
                                    .is_some_and(|l| l.checkpoint_in_background().is_ok());
                                if !taken {
                                    let _ = worker.send(&[FREEZE]);
                                }
                            }
                            WorkerMessage::Call { call, sdk_call } => {
                                calls.take(
                                    setup,
                                    &call,
                                    sdk_call.as_deref(),
                                    &info.run_id,
                                    &log,
                                    &frozen,
                                    &worker,
                                );
                            }
                            WorkerMessage::Done(r) => done = Some(r),
                            WorkerMessage::Ready(_) | WorkerMessage::Failed(_) => {}
                        }
                    }
                    if !open {
                        break Stop::Closed;
                    }
                    continue;
                }
                Err(other) => break other,
            },
            Ok(Readable::Signal) => break Stop::Cancelled,
            Ok(Readable::Nothing) => {}
            Err(_) => break Stop::Closed,
        }
        if interrupt.was_killed() {
            break Stop::Killed;
        }
        if Instant::now() >= deadline + GRACE {
            break Stop::Timeout;
        }
        // A checkpoint that could not be published in the background: no later decision of
        // the run may be taken.
        let publishing_failed = log.as_ref().is_some_and(|l| l.publishing().is_err());
        let now_frozen = frozen.load(std::sync::atomic::Ordering::Relaxed) || publishing_failed;
        if now_frozen != is_frozen {
            is_frozen = now_frozen;
            let _ = worker.send(&[if now_frozen { FREEZE } else { THAW }]);
        }
    };
    // A trace still running is stopped: its answer has no one to go to.
    calls.interrupt.raise();
    if !matches!(stop, Stop::Closed) {
        worker.kill();
    }
    let status = worker.reap();
    // Whatever the worker left running in its group goes with it.
    worker.kill();
    drop(registration);
    // 5. How it ended.
    let (finished, permits, denies, ending) = match (stop, done) {
        (Stop::Closed, Some(r)) => {
            let mut error = r.error;
            if let (Some(e), Some(d)) = (error.as_mut(), r.denied) {
                e.denied = Some(Box::new(d));
            }
            let ending = if r.timed_out && error.is_some() {
                Ending::Timeout
            } else {
                Ending::Returned
            };
            let finished = Finished {
                output: r.output,
                error,
                logs: r.logs,
                redactions: r.redactions,
                reports: r.reports,
                run: None,
            };
            (finished, r.permits, r.denies, ending)
        }
        (stop, _) => {
            let (ending, error) = ending_of(stop, status, &setup.limits);
            (Finished::failed(error), 0, 0, ending)
        }
    };
    end(setup, recorder, format, finished, permits, denies, ending)
}

/// The worker's calls (see [`WorkerMessage::Call`]): each decided again by a gate of this
/// process's own, made at the first call, for the run's policy and caller, Tollgate's own
/// files and the kill switch, recording into the run's log; then carried out here. A trace
/// runs on a thread of its own, so that the wait for it still enforces the run's limits.
struct Calls {
    gate: Option<Gate>,
    bounds: CallBounds,
    /// Stops a running trace when the run ends.
    interrupt: Interrupt,
    finished: std::sync::mpsc::Receiver<Result<SupervisorAnswer, CallError>>,
    finishing: std::sync::mpsc::Sender<Result<SupervisorAnswer, CallError>>,
}

impl Calls {
    fn new(deadline: Instant, limits: &tollgate_script::Limits, worker: libc::pid_t) -> Calls {
        let interrupt = Interrupt::until(deadline);
        let (finishing, finished) = std::sync::mpsc::channel();
        Calls {
            gate: None,
            bounds: CallBounds {
                interrupt: interrupt.clone(),
                max_output_bytes: limits.host().max_string_bytes,
                own_processes: vec![worker as u32],
            },
            interrupt,
            finished,
            finishing,
        }
    }

    /// Decides `call` (for the SDK call `sdk_call`, which its record names) and carries it
    /// out, answering the worker now, or, for a trace, once it has finished (see
    /// [`Calls::answer_finished`]).
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        setup: &mut Setup,
        call: &SupervisorCall,
        sdk_call: Option<&str>,
        run_id: &str,
        log: &Option<std::sync::Arc<tollgate_audit::AuditLog>>,
        frozen: &std::sync::Arc<std::sync::atomic::AtomicBool>,
        worker: &Worker,
    ) {
        if self.gate.is_none() {
            let recorder = match log {
                Some(log) => Recorder::Log(Box::new(GateRecorder::new(
                    std::sync::Arc::clone(log),
                    run_id.to_owned(),
                    &setup.caller,
                ))),
                None => Recorder::Unaudited,
            };
            match setup.gate(recorder, std::sync::Arc::clone(frozen)) {
                Ok(g) => self.gate = Some(g),
                Err(e) => {
                    let refused = CallError {
                        kind: CallErrorKind::Denied,
                        message: format!("the supervisor cannot decide it: {}", e.message),
                    };
                    return answer(worker, &Err(refused));
                }
            }
        }
        let Some(gate) = &self.gate else { return };
        // The worker's word for which SDK call this serves is only a name on the records:
        // one the SDK does not have is left off.
        let sdk_call = sdk_call.and_then(|name| {
            tollgate_script::sdk::SDK
                .iter()
                .find(|f| f.name == name)
                .map(|f| f.name)
        });
        let _named = sdk_call.map(|name| gate.calling(name));
        let permit = match supervisor_call::decide(gate, call, &self.bounds) {
            Ok(p) => p,
            Err(e) => return answer(worker, &Err(e)),
        };
        if !matches!(call, SupervisorCall::Trace { .. }) {
            return answer(
                worker,
                &supervisor_call::carry_out(&permit, call, &self.bounds),
            );
        }
        let (call, bounds, finishing) = (call.clone(), self.bounds.clone(), self.finishing.clone());
        let spawned = std::thread::Builder::new()
            .name("trace".to_owned())
            .spawn(move || {
                let _ = finishing.send(supervisor_call::carry_out(&permit, &call, &bounds));
            });
        if let Err(e) = spawned {
            let failed = CallError {
                kind: CallErrorKind::Failed,
                message: format!("the supervisor could not start the trace: {e}"),
            };
            answer(worker, &Err(failed));
        }
    }

    /// Sends the worker the answers of traces that have finished.
    fn answer_finished(&self, worker: &Worker) {
        while let Ok(done) = self.finished.try_recv() {
            answer(worker, &done);
        }
    }
}

/// Sends the worker the answer to its call.
fn answer(worker: &Worker, result: &Result<SupervisorAnswer, CallError>) {
    let mut reply = vec![ANSWER];
    if serde_json::to_writer(&mut reply, result).is_ok() {
        reply.push(b'\n');
        let _ = worker.send(&reply);
    }
}

/// Ends a run whose start is recorded but whose worker never got to the script.
fn abandon(
    setup: &mut Setup,
    worker: &Worker,
    recorder: Option<GateRecorder>,
    format: Format,
    e: RunError,
) -> Finished {
    worker.kill();
    worker.reap();
    end(
        setup,
        recorder,
        format,
        Finished::failed(e),
        0,
        0,
        Ending::Crashed,
    )
}

/// The error for a worker that did not return a result.
fn ending_of(
    stop: Stop,
    status: std::process::ExitStatus,
    limits: &tollgate_script::Limits,
) -> (Ending, RunError) {
    use std::os::unix::process::ExitStatusExt;
    let limit = |msg: String| RunError::new(ErrorType::ResourceLimit, msg);
    match stop {
        Stop::Timeout => (
            Ending::Timeout,
            limit(format!(
                "the script ran past --timeout ({}) and its worker was killed; do less per run or raise the limit",
                humantime::format_duration(limits.timeout)
            )),
        ),
        Stop::Output => (
            Ending::Output,
            limit(format!(
                "the script's result is larger than --max-output ({} bytes) allows; return less or raise the limit",
                limits.max_output
            )),
        ),
        Stop::Killed => (
            Ending::Killed,
            RunError::new(ErrorType::AccessDenied, "the host owner stopped this run (tollgate kill)".to_owned()),
        ),
        Stop::Cancelled => (
            Ending::Cancelled,
            RunError::new(ErrorType::Internal, "the run was cancelled: tollgate was asked to stop (a signal), and the script's worker was killed".to_owned()),
        ),
        Stop::Closed => match (status.code(), status.signal()) {
            (Some(EXHAUSTED_EXIT), _) => (
                Ending::Memory,
                limit(format!(
                    "the script needed more memory than --max-memory ({} bytes) allows; use less or raise the limit",
                    limits.max_memory
                )),
            ),
            (_, Some(libc::SIGKILL)) => (
                Ending::Memory,
                limit("the script's worker was killed by the kernel (out of memory); use less memory or raise --max-memory".to_owned()),
            ),
            (Some(code), _) => (
                Ending::Crashed,
                RunError::new(ErrorType::Internal, format!("the script's worker exited with status {code} without a result")),
            ),
            (None, Some(sig)) => (
                Ending::Crashed,
                RunError::new(ErrorType::Internal, format!("the script's worker was ended by signal {sig} without a result")),
            ),
            (None, None) => (
                Ending::Crashed,
                RunError::new(ErrorType::Internal, "the script's worker ended without a result".to_owned()),
            ),
        },
    }
}

/// Redacts the output if the host config says so, bounds what will be printed, and records
/// the run's end.
fn end(
    setup: &mut Setup,
    recorder: Option<GateRecorder>,
    format: Format,
    finished: Finished,
    permits: u64,
    denies: u64,
    mut ending: Ending,
) -> Finished {
    let Finished {
        mut output,
        mut error,
        mut logs,
        mut redactions,
        mut reports,
        run: _,
    } = finished;
    if setup.redact_output {
        // Everything the run prints, so that a script cannot build a secret (or read it
        // through a permitted raw read) and hand it out in its value, a log line or an
        // error.
        let mut counts = Counts::new();
        let texts = output
            .iter_mut()
            .chain(logs.iter_mut().map(|l| &mut l.message))
            .chain(error.iter_mut().map(|e| &mut e.message))
            .chain(
                reports
                    .alarms
                    .iter_mut()
                    .filter_map(|a| a.alarm_details.as_mut()),
            )
            .chain(
                reports
                    .metrics
                    .iter_mut()
                    .flat_map(|m| m.metric_dimension.values_mut()),
            );
        for text in texts {
            let (redacted, found) = setup.redactor.redact_text(text);
            *text = redacted;
            for (name, n) in found {
                *counts.entry(name).or_default() += n;
            }
        }
        redactions.insert(OUTPUT_KEY.to_owned(), counts);
    }
    if error.is_some() {
        output = None;
    }
    // What is printed, in the format asked for, error messages included.
    let (out, err) = output::printed(
        format,
        output.as_deref(),
        error.as_ref(),
        &logs,
        &redactions,
        &reports,
    );
    let printed = out.len() + err.len();
    if printed > setup.limits.max_output {
        ending = Ending::Output;
        output = None;
        logs.clear();
        reports = Reports::default();
        error = Some(RunError::new(
            ErrorType::ResourceLimit,
            format!(
                "the result, logs, metrics and alarms would print as {printed} bytes, more than --max-output ({} bytes); return less or raise the limit",
                setup.limits.max_output
            ),
        ));
    }
    let run = recorder.as_ref().map(|r| r.run().to_owned());
    if let Some(audit) = recorder {
        let end = Event::RunEnd {
            status: if error.is_some() { "ERROR" } else { "SUCCESS" }.to_owned(),
            error_type: error.as_ref().map(|e| e.error_type.to_string()),
            duration_ms: setup.begun.elapsed().as_millis() as u64,
            permits,
            denies,
            redactions: (!redactions.is_empty())
                .then(|| serde_json::to_value(&redactions).ok())
                .flatten(),
            ended_by: Some(ending.as_str().to_owned()),
        };
        let recorded = audit
            .log()
            .append(audit.run(), end)
            .and_then(|_| audit.log().checkpoint());
        if let Err(e) = recorded {
            let msg = format!("the run's end could not be written to the audit log: {e}");
            error.get_or_insert(RunError::new(ErrorType::Internal, msg));
            output = None;
        }
    }
    Finished {
        output,
        error,
        logs,
        redactions,
        reports,
        run,
    }
}

/// The key of the run's own output in the `redactions` maps; file keys are absolute paths, so
/// it cannot be taken by a file.
const OUTPUT_KEY: &str = "output";

enum Readable {
    Result,
    Signal,
    Nothing,
}

fn wait_readable(
    worker: &Worker,
    signals: &SignalFd,
    timeout: Duration,
) -> std::io::Result<Readable> {
    let mut fds = [
        PollFd::new(&worker.result, PollFlags::IN),
        PollFd::new(signals, PollFlags::IN),
    ];
    let t = Timespec::try_from(timeout).map_err(std::io::Error::other)?;
    match poll(&mut fds, Some(&t)) {
        Ok(_) => {}
        Err(rustix::io::Errno::INTR) => return Ok(Readable::Nothing),
        Err(e) => return Err(e.into()),
    }
    if !fds[1].revents().is_empty() {
        // Taken, so that it is not delivered (and kills this process before it has
        // printed) once the signals are unblocked.
        let _ = signals.read_signal();
        return Ok(Readable::Signal);
    }
    if !fds[0].revents().is_empty() {
        return Ok(Readable::Result);
    }
    Ok(Readable::Nothing)
}

/// Reads what is there; `Ok(false)` at the end of the stream.
fn read_some(worker: &mut Worker, cap: usize) -> Result<bool, Stop> {
    let mut buf = [0u8; 64 << 10];
    match rustix::io::read(&worker.result, &mut buf) {
        Ok(0) => Ok(false),
        Ok(n) => {
            if worker.received.len() + n > cap {
                return Err(Stop::Output);
            }
            worker.received.extend_from_slice(&buf[..n]);
            Ok(true)
        }
        Err(rustix::io::Errno::INTR) | Err(rustix::io::Errno::AGAIN) => Ok(true),
        Err(_) => Ok(false),
    }
}

/// Waits for the worker's next complete message, within the deadline.
fn next_message(
    worker: &mut Worker,
    signals: &SignalFd,
    deadline: Instant,
    cap: usize,
) -> Result<Option<WorkerMessage>, Stop> {
    loop {
        if let Some(end) = worker.received.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = worker.received.drain(..=end).collect();
            return Ok(serde_json::from_slice(&line[..end]).ok());
        }
        if Instant::now() >= deadline + GRACE {
            return Err(Stop::Timeout);
        }
        match wait_readable(worker, signals, TICK) {
            Ok(Readable::Result) => {
                if !read_some(worker, cap)? {
                    return Ok(None);
                }
            }
            Ok(Readable::Signal) => return Err(Stop::Cancelled),
            Ok(Readable::Nothing) => {}
            Err(_) => return Ok(None),
        }
    }
}

/// Takes the complete lines out of what the worker sent, as messages; a malformed line is
/// dropped (a worker that sends no well-formed result ends without one).
fn complete_messages(received: &mut Vec<u8>) -> Vec<WorkerMessage> {
    let Some(last) = received.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    let lines: Vec<u8> = received.drain(..=last).collect();
    lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// Writes one message to the supervisor: one line of JSON.
pub(crate) fn send(to: &OwnedFd, message: &WorkerMessage) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::File::from(to.try_clone()?);
    f.write_all(&line)
}

/// Reads the supervisor's go line, byte by byte (it is short, and what follows it is the
/// control stream).
pub(crate) fn receive_go(from: &OwnedFd) -> std::io::Result<Go> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    let mut f = std::fs::File::from(from.try_clone()?);
    loop {
        match f.read(&mut byte)? {
            0 => return Err(std::io::Error::other("the supervisor went away")),
            _ if byte[0] == b'\n' => break,
            _ if line.len() > 4096 => return Err(std::io::Error::other("the go line is too long")),
            _ => line.push(byte[0]),
        }
    }
    serde_json::from_slice(&line).map_err(std::io::Error::other)
}
