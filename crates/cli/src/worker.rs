//! The worker: the forked process that runs one script. It opens the audit log as an
//! appender that never reads the signing key, builds the run's gate with it (and with the
//! freeze flag its supervisor drives), confines itself (see [`crate::sandbox`]) before it
//! starts a thread or reads a byte of the script's doing, waits for its supervisor to record
//! the run's start, runs the script, sends the result and exits. It never prints:
//! what reaches the caller is what the supervisor prints.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_audit::{AuditLog, CheckpointRequest, GateRecorder};
use tollgate_host::supervisor_call::{CallError, CallErrorKind, SupervisorAnswer};
use tollgate_host::{Host, Interrupt};
use tollgate_policy::{AbsPath, Recorder};
use tollgate_script::{ErrorType, RunError};

use crate::output::{self, Format};
use crate::run::{audit_unavailable, Setup};
use crate::supervisor::{receive_go, send, WorkerMessage, WorkerResult, ANSWER, FREEZE, THAW};

/// How long past the run's time a call to the supervisor waits for its answer: the
/// supervisor bounds its work by the run's time, and kills the worker soon after it.
const ANSWER_GRACE: Duration = Duration::from_secs(1);

/// What the worker starts with: everything was parsed by the supervisor before the fork.
pub struct Start<'a> {
    pub supervisor_pid: u32,
    pub result: OwnedFd,
    pub control: OwnedFd,
    /// The run's id, under which the supervisor records its start and end.
    pub run_id: String,
    pub script: String,
    pub scope: rhai::Scope<'static>,
    pub setup: &'a mut Setup,
    pub format: Format,
}

/// Runs the script and exits; never returns.
pub fn main(start: Start<'_>) -> ! {
    let result = start.result.try_clone();
    let code = match run(start) {
        Ok(()) => 0,
        Err(e) => {
            if let Ok(fd) = &result {
                let _ = send(fd, &WorkerMessage::Failed(e));
            }
            1
        }
    };
    // SAFETY: _exit ends the process without running the supervisor's exit handlers or
    // flushing buffers copied from it at the fork.
    unsafe { libc::_exit(code) }
}

fn run(start: Start<'_>) -> Result<(), RunError> {
    let Start {
        supervisor_pid,
        result,
        control,
        run_id,
        script,
        scope,
        setup,
        format,
    } = start;
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        RunError::new(
            ErrorType::Internal,
            format!("the script's worker could not {what}: {e}, so nothing ran"),
        )
    };
    // The worker dies with its supervisor, and has a process group the supervisor kills whole.
    // SAFETY: prctl, setpgid and getppid take and return integers.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::setpgid(0, 0);
        if libc::getppid() as u32 != supervisor_pid {
            libc::_exit(1);
        }
    }
    // The script's standard streams are nobody's: output goes back through the result pipe.
    let null = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| internal("open /dev/null", &e))?;
    for target in [0, 1] {
        // SAFETY: dup2 takes two descriptors; `null` is open.
        unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), target) };
    }
    tollgate_script::exit_when_exhausted();
    forget_environment();
    // The log as an appender, before confinement closes the way to its files. A checkpoint
    // that falls due is taken and published by the supervisor, told through the result pipe;
    // the append does not wait for it (the supervisor freezes the run if publishing fails).
    let recorder = match &setup.audit_dir {
        Some(dir) => {
            let to_supervisor = result
                .try_clone()
                .map_err(|e| internal("open its log", &e))?;
            let request: CheckpointRequest = Box::new(move || {
                send(&to_supervisor, &WorkerMessage::Due).map_err(|e| e.to_string())
            });
            let log = AuditLog::open_appender(dir, setup.audit_sync, request)
                .map_err(|e| audit_unavailable(e.to_string()))?;
            Recorder::Log(Box::new(GateRecorder::new(log, run_id, &setup.caller)))
        }
        None => Recorder::Unaudited,
    };
    // The run's one gate. It is frozen until the supervisor's go says otherwise: nothing is
    // decided before the run's start is recorded.
    let frozen = Arc::new(AtomicBool::new(true));
    let gate = setup.gate(recorder, Arc::clone(&frozen))?;
    let segments = match &setup.audit_dir {
        Some(dir) => {
            let segments = std::path::absolute(dir.join("segments"))
                .map_err(|e| internal("find the audit log", &e))?;
            vec![AbsPath::parse(&segments.to_string_lossy())
                .map_err(|e| internal("name the audit log's segments", &e))?]
        }
        None => Vec::new(),
    };
    let confinement = crate::sandbox::confine(&gate, &segments, setup.limits.max_memory)
        .map_err(|e| internal("confine itself", &e))?;
    // Confined now, so threads may start: the policy and the labels file (checked before, if
    // the supervisor did not parse them) are parsed while the script starts, ready for the
    // first decision.
    gate.policies().compile_in_background();
    if let Some(candidate) = gate.shadow_policies() {
        candidate.compile_in_background();
    }
    setup.data.labels.parse_in_background();
    send(&result, &WorkerMessage::Ready(confinement)).map_err(|e| internal("report", &e))?;
    let go = receive_go(&control).map_err(|e| internal("start", &e))?;
    let (answers, answered) = std::sync::mpsc::channel::<Vec<u8>>();
    frozen.store(go.frozen, Ordering::Relaxed);
    // The supervisor's freeze and thaw, for the rest of the run.
    let thread_frozen = Arc::clone(&frozen);
    std::thread::Builder::new()
        .name("control".to_owned())
        .spawn(move || {
            // Buffered: an answer (a trace) can be long. This thread is the stream's only
            // reader from here on (the go line was read before it started).
            let mut control = std::io::BufReader::new(std::fs::File::from(control));
            let mut byte = [0u8; 1];
            while let Ok(1) = control.read(&mut byte) {
                match byte[0] {
                    FREEZE => thread_frozen.store(true, Ordering::Relaxed),
                    THAW => thread_frozen.store(false, Ordering::Relaxed),
                    ANSWER => {
                        let mut line = Vec::new();
                        if std::io::BufRead::read_until(&mut control, b'\n', &mut line).is_err() {
                            break;
                        }
                        if line.last() == Some(&b'\n') {
                            line.pop();
                        }
                        let _ = answers.send(line);
                    }
                    _ => {}
                }
            }
        })
        .map_err(|e| internal("start its control thread", &e))?;
    let mut limits = setup.limits;
    limits.timeout = Duration::from_millis(go.timeout_ms);
    // The run's time counts from the supervisor's start: what the go message says is left.
    let interrupt = Interrupt::until(Instant::now() + limits.timeout);
    // What the worker may not do itself (descriptors of other processes, trace, unmount),
    // asked of the supervisor once this worker's gate has permitted it. The permit stays
    // here: the supervisor decides again for itself.
    let to_supervisor = result.try_clone().map_err(|e| internal("start", &e))?;
    let answered = std::sync::Mutex::new(answered);
    let call_interrupt = interrupt.clone();
    let supervisor: Box<tollgate_host::SupervisorHook> =
        Box::new(move |_permit, call, sdk_call| {
            let fail = |m: &str| CallError {
                kind: CallErrorKind::Failed,
                message: m.to_owned(),
            };
            // One call at a time: the answers come back in order on one channel.
            let answered = answered
                .lock()
                .map_err(|_| fail("the control thread panicked"))?;
            let message = WorkerMessage::Call {
                call: call.clone(),
                sdk_call: sdk_call.map(str::to_owned),
            };
            send(&to_supervisor, &message)
                .map_err(|e| fail(&format!("the supervisor could not be asked: {e}")))?;
            let wait = call_interrupt
                .bound(Duration::MAX)
                .saturating_add(ANSWER_GRACE);
            let line = answered
                .recv_timeout(wait)
                .map_err(|_| fail("the supervisor did not answer"))?;
            serde_json::from_slice::<Result<SupervisorAnswer, CallError>>(&line)
                .map_err(|e| fail(&format!("the supervisor's answer is malformed: {e}")))?
        });
    let host = Host::new(gate, limits.host(), interrupt.clone())
        .map_err(|e| RunError::new(ErrorType::Internal, e.to_string()))?
        .with_redactor(setup.redactor.clone())
        .with_output_redacted(setup.redact_output)
        .with_supervisor(supervisor);
    let outcome = tollgate_script::run(host, &script, scope, limits);
    let output = match (&outcome.error, &outcome.value) {
        (None, Some(v)) => output::render(format, v),
        _ => None,
    };
    let mut error = outcome.error;
    let denied = error.as_mut().and_then(|e| e.denied.take()).map(|d| *d);
    let done = WorkerResult {
        output,
        error,
        denied,
        logs: outcome.logs,
        redactions: outcome.redactions,
        reports: outcome.reports,
        permits: outcome.decisions.permits,
        denies: outcome.decisions.denies,
        timed_out: interrupt.is_raised(),
    };
    send(&result, &WorkerMessage::Done(done)).map_err(|e| internal("send its result", &e))
}

/// The variables the worker itself still reads after it has forgotten the rest: where the
/// system bus is, for the service calls.
const KEPT_VARIABLES: [&str; 1] = ["DBUS_SYSTEM_BUS_ADDRESS"];

/// Forgets the environment the worker was forked with: it is its caller's (an MCP host's,
/// an operator's shell: keys and tokens among them), nothing in the worker needs it but
/// [`KEPT_VARIABLES`], and a script with `read` on `/proc` could otherwise read it back from
/// `/proc/self/environ`, which shows the process's first environment block. That block's
/// bytes are overwritten in place; the kept variables are set again elsewhere. Called while
/// the worker has one thread. Binaries a script runs get only the variables it passes.
fn forget_environment() {
    let kept: Vec<(&str, std::ffi::OsString)> = KEPT_VARIABLES
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (*k, v)))
        .collect();
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    // SAFETY: one thread, so nothing reads or changes the environment meanwhile; `environ`
    // is a null-terminated array of C strings, each overwritten within its own length.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = *entry;
            std::ptr::write_bytes(text, 0, libc::strlen(text));
            entry = entry.add(1);
        }
    }
    for (key, value) in kept {
        std::env::set_var(key, value);
    }
}
