//! What a confined worker cannot do itself and has its supervisor do: read another
//! process's descriptor links (Landlock keeps other processes' `/proc` from the worker),
//! trace a process (ptrace(2) is refused by the worker's seccomp filter) and unmount a file
//! system (umount2(2), likewise).
//!
//! One mechanism for all three. The host operation asks its gate first, as for any other
//! effect, and hands its permit and a [`SupervisorCall`] to the host's [`SupervisorHook`].
//! Run without a supervisor (a library user, the script crate's tests) the hook is
//! [`carry_out`] itself, under that permit. In a worker, the hook sends the call to the
//! supervisor, which does not take the worker's word for it: it decides the call again
//! against the run's own policy with [`decide_and_carry_out`] (Tollgate's own files and
//! processes included), and only then acts under its own permit.

use std::io;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tollgate_policy::{AbsPath, Action, Gate, Permit, Resource};

use crate::error::{HostError, HostResult};
use crate::process::{resource, Recheck};
use crate::{Host, Interrupt};

/// One request for what the worker may not do itself, once its gate has permitted it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisorCall {
    /// The link targets of process `pid`'s descriptors, under `list_fds` on it (`lsof`,
    /// `fuser`) or, for `netstat`'s socket owners, `list`.
    Descriptors { pid: u32, under: DescriptorsUnder },
    /// Every thread's stack of process `pid` (`trace` on it); `start_time` (seconds since
    /// the epoch) tells it from a later process given the same pid.
    Trace { pid: u32, start_time: u64 },
    /// Unmounts the file system mounted at `path` (`unmount` on the Dir).
    Unmount(String),
}

/// The action a process's descriptors are read under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DescriptorsUnder {
    ListFds,
    List,
}

impl DescriptorsUnder {
    pub fn action(self) -> Action {
        match self {
            DescriptorsUnder::ListFds => Action::ProcListFds,
            DescriptorsUnder::List => Action::ProcList,
        }
    }
}

/// What a call gives back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SupervisorAnswer {
    Descriptors(Vec<String>),
    /// What gdb printed (bounded): the worker parses it into a `TracedProcess`.
    Trace(String),
    Unmounted,
}

/// Why a call was not carried out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallError {
    pub kind: CallErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CallErrorKind {
    /// The policy (or Tollgate's own-files and own-processes rules) refuses it.
    Denied,
    NotFound,
    /// Not something this call can do (a path that is not a mount point).
    Invalid,
    /// It was allowed and tried, and failed.
    Failed,
    /// The run's time ran out.
    TimedOut,
}

impl CallError {
    fn new(kind: CallErrorKind, message: impl Into<String>) -> CallError {
        CallError {
            kind,
            message: message.into(),
        }
    }

    fn io(e: io::Error) -> CallError {
        let kind = match e.kind() {
            io::ErrorKind::PermissionDenied => CallErrorKind::Denied,
            io::ErrorKind::NotFound => CallErrorKind::NotFound,
            io::ErrorKind::InvalidInput => CallErrorKind::Invalid,
            io::ErrorKind::TimedOut => CallErrorKind::TimedOut,
            _ => CallErrorKind::Failed,
        };
        CallError::new(kind, e.to_string())
    }

    fn host(e: HostError) -> CallError {
        let kind = match &e {
            HostError::Denied(_) => CallErrorKind::Denied,
            HostError::Io { source, .. } if source.kind() == io::ErrorKind::PermissionDenied => {
                CallErrorKind::Denied
            }
            HostError::NotFound { .. } => CallErrorKind::NotFound,
            HostError::InvalidInput(_) | HostError::Path(_) => CallErrorKind::Invalid,
            HostError::TimedOut(_) | HostError::Interrupted => CallErrorKind::TimedOut,
            _ => CallErrorKind::Failed,
        };
        CallError::new(kind, e.to_string())
    }
}

/// Carries out a call under the permit the host's gate gave for it: [`carry_out`] when the
/// host runs unconfined, a message to the supervisor in a worker. Given too the SDK call it
/// serves ([`Gate::calling`]), which the supervisor's own decision records.
pub type SupervisorHook =
    dyn Fn(&Permit, &SupervisorCall, Option<&'static str>) -> Result<SupervisorAnswer, CallError>;

/// What bounds a call's work: the run's time and the size of what it may return.
#[derive(Clone, Debug)]
pub struct CallBounds {
    pub interrupt: Interrupt,
    pub max_output_bytes: usize,
    /// Processes that are Tollgate's own besides this one and its parent (a supervisor
    /// names its worker): never traced.
    pub own_processes: Vec<u32>,
}

/// How long gdb may take to trace a process (less if the run has less time left).
const TRACE_TIMEOUT: Duration = Duration::from_secs(60);

/// Carries out `call` under `permit`, which must be the gate's for exactly what it touches.
pub fn carry_out(
    permit: &Permit,
    call: &SupervisorCall,
    bounds: &CallBounds,
) -> Result<SupervisorAnswer, CallError> {
    match call {
        SupervisorCall::Descriptors { pid, under } => {
            crate::effect::read_descriptors(permit, under.action(), *pid)
                .map(SupervisorAnswer::Descriptors)
                .map_err(CallError::io)
        }
        SupervisorCall::Trace { pid, start_time } => {
            if bounds.own_processes.contains(pid) {
                return Err(own_process(*pid));
            }
            let out = crate::effect::trace(
                permit,
                *pid,
                &bounds.interrupt,
                TRACE_TIMEOUT,
                bounds.max_output_bytes,
            )
            .map_err(CallError::host)?;
            // Read by pid: if the process ended meanwhile and the pid now names another, what
            // was read is that one's, which nothing permitted.
            if !is_running(*pid, *start_time) {
                return Err(CallError::new(
                    CallErrorKind::NotFound,
                    format!("process {pid} exited while it was traced"),
                ));
            }
            Ok(SupervisorAnswer::Trace(out))
        }
        SupervisorCall::Unmount(path) => {
            let path = AbsPath::parse(path)
                .map_err(|e| CallError::new(CallErrorKind::Invalid, e.to_string()))?;
            crate::effect::unmount(permit, &path)
                .map(|()| SupervisorAnswer::Unmounted)
                .map_err(CallError::io)
        }
    }
}

/// What a supervisor does with its worker's call: decides it against `gate` (the run's
/// policy, Tollgate's own files) as if the script had asked it directly, and carries it out
/// only if that permits it. The worker's own decision counts for nothing here.
pub fn decide_and_carry_out(
    gate: &Gate,
    call: &SupervisorCall,
    bounds: &CallBounds,
) -> Result<SupervisorAnswer, CallError> {
    carry_out(&decide(gate, call, bounds)?, call, bounds)
}

/// The supervisor's own permit for `call`, decided against `gate` on the resource as it is
/// now (a process read afresh), or why there is none. Tollgate's own processes are refused
/// whatever the policy says, as its own files are by the gate.
pub fn decide(
    gate: &Gate,
    call: &SupervisorCall,
    bounds: &CallBounds,
) -> Result<Permit, CallError> {
    let (action, resource) = match call {
        SupervisorCall::Descriptors { pid, under } => (under.action(), process_now(*pid, None)?),
        SupervisorCall::Trace { pid, start_time } => {
            if bounds.own_processes.contains(pid) || crate::effect::is_own_process(*pid) {
                return Err(own_process(*pid));
            }
            (Action::ProcTrace, process_now(*pid, Some(*start_time))?)
        }
        SupervisorCall::Unmount(path) => {
            let path = AbsPath::parse(path)
                .map_err(|e| CallError::new(CallErrorKind::Invalid, e.to_string()))?;
            (Action::FsUnmount, Resource::Dir(path))
        }
    };
    gate.authorize(&[action], &resource).map_err(|d| {
        CallError::new(
            CallErrorKind::Denied,
            format!("the supervisor refused it: {}", HostError::from(d)),
        )
    })
}

/// The process `pid` as it is now, as a resource; with `started`, only if it is still the
/// process that started then.
fn process_now(pid: u32, started: Option<u64>) -> Result<Resource, CallError> {
    let gone = || CallError::new(CallErrorKind::NotFound, format!("process {pid} not found"));
    let mut recheck =
        Recheck::new().map_err(|e| CallError::new(CallErrorKind::Failed, e.to_string()))?;
    let entry = recheck.entry(pid).ok_or_else(gone)?;
    if started.is_some_and(|s| s != entry.start_time) {
        return Err(gone());
    }
    Ok(resource(&entry))
}

fn is_running(pid: u32, started: u64) -> bool {
    Recheck::new()
        .ok()
        .and_then(|mut r| r.entry(pid))
        .is_some_and(|e| e.start_time == started)
}

fn own_process(pid: u32) -> CallError {
    CallError::new(
        CallErrorKind::Denied,
        format!(
            "process {pid} is Tollgate's own (the run's worker or supervisor); \
             no policy lets a script trace it"
        ),
    )
}

impl Host {
    /// Has the host's [`SupervisorHook`] carry out `call` under `permit`; `op` and `target`
    /// name it in errors.
    pub(crate) fn supervisor_call(
        &self,
        permit: &Permit,
        call: &SupervisorCall,
        op: &'static str,
        target: &str,
    ) -> HostResult<SupervisorAnswer> {
        (self.supervisor)(permit, call, self.gate.current_call()).map_err(|e| match e.kind {
            CallErrorKind::NotFound => HostError::NotFound {
                path: target.to_owned(),
            },
            CallErrorKind::Invalid => HostError::InvalidInput(e.message),
            CallErrorKind::TimedOut => HostError::TimedOut(e.message),
            CallErrorKind::Denied => HostError::io(
                op,
                target,
                io::Error::new(io::ErrorKind::PermissionDenied, e.message),
            ),
            CallErrorKind::Failed => HostError::io(op, target, io::Error::other(e.message)),
        })
    }
}

#[cfg(test)]
// The tests start and look at real processes to have something to trace.
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::sync::Arc;

    use tollgate_policy::{OwnFiles, Policies, Recorder, Schema};

    use super::*;

    fn gate(policy: &str) -> Gate {
        let schema = Schema::tollgate().unwrap();
        let policies = Policies::parse("p.cedar", policy, &schema).unwrap();
        Gate::new(schema, policies, "t", Recorder::Unaudited, Arc::default())
    }

    fn bounds() -> CallBounds {
        CallBounds {
            interrupt: Interrupt::new(),
            max_output_bytes: 1 << 20,
            own_processes: Vec::new(),
        }
    }

    fn started(pid: u32) -> u64 {
        Recheck::new().unwrap().entry(pid).unwrap().start_time
    }

    #[test]
    fn a_forged_trace_of_a_process_the_policy_denies_is_refused_and_nothing_attaches() {
        let mut sleeper = std::process::Command::new("sleep")
            .arg("330")
            .spawn()
            .unwrap();
        let pid = sleeper.id();
        // What a worker could send whatever its own gate said: the supervisor's gate, on
        // the run's policy, decides it afresh.
        let call = SupervisorCall::Trace {
            pid,
            start_time: started(pid),
        };
        let only_others = gate(
            r#"permit(principal, action == process_system::Action::"trace", resource is process_system::Process) when { resource.name != "sleep" };"#,
        );
        let e = decide_and_carry_out(&only_others, &call, &bounds()).unwrap_err();
        assert_eq!(e.kind, CallErrorKind::Denied);
        assert!(
            e.message.contains("the supervisor refused it"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains(r#"process_system::Action::"trace""#),
            "{}",
            e.message
        );
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("TracerPid:\t0"), "{status}");
        // A start time that is not the process's: another process under a reused pid.
        let all = gate(r#"permit(principal, action, resource);"#);
        let reused = SupervisorCall::Trace {
            pid,
            start_time: started(pid) + 1,
        };
        let e = decide_and_carry_out(&all, &reused, &bounds()).unwrap_err();
        assert_eq!(e.kind, CallErrorKind::NotFound);
        let _ = sleeper.kill();
        let _ = sleeper.wait();
    }

    #[test]
    fn a_forged_unmount_of_a_directory_holding_tollgates_own_files_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir =
            AbsPath::parse(&tmp.path().canonicalize().unwrap().display().to_string()).unwrap();
        let mut own = OwnFiles::new();
        own.protect(dir.join("audit").unwrap(), "the audit log");
        let all = gate(r#"permit(principal, action, resource);"#).with_own_files(Arc::new(own));
        for path in [dir.to_string(), "/".to_owned()] {
            let e = decide_and_carry_out(&all, &SupervisorCall::Unmount(path.clone()), &bounds())
                .unwrap_err();
            assert_eq!(e.kind, CallErrorKind::Denied, "{path}: {}", e.message);
            assert!(e.message.contains("the audit log"), "{path}: {}", e.message);
        }
    }

    #[test]
    fn an_unmount_of_a_directory_that_is_not_a_mount_point_does_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().canonicalize().unwrap().display().to_string();
        let all = gate(r#"permit(principal, action, resource);"#);
        let e = decide_and_carry_out(&all, &SupervisorCall::Unmount(dir.clone()), &bounds())
            .unwrap_err();
        assert_eq!(e.kind, CallErrorKind::Invalid, "{}", e.message);
        assert!(e.message.contains("is not a mount point"), "{}", e.message);
        // Through a symlink: refused before anything is looked at beyond the link.
        std::os::unix::fs::symlink(&dir, tmp.path().join("link")).unwrap();
        let link = format!("{dir}/link");
        let e = decide_and_carry_out(&all, &SupervisorCall::Unmount(link), &bounds()).unwrap_err();
        assert_eq!(e.kind, CallErrorKind::Invalid, "{}", e.message);
        assert!(e.message.contains("symlink"), "{}", e.message);
    }

    #[test]
    fn calls_and_answers_cross_the_pipe_as_json() {
        for call in [
            SupervisorCall::Descriptors {
                pid: 7,
                under: DescriptorsUnder::List,
            },
            SupervisorCall::Trace {
                pid: 7,
                start_time: 9,
            },
            SupervisorCall::Unmount("/mnt/data".to_owned()),
        ] {
            let line = serde_json::to_string(&call).unwrap();
            assert_eq!(serde_json::from_str::<SupervisorCall>(&line).unwrap(), call);
        }
        let answer: Result<SupervisorAnswer, CallError> =
            Err(CallError::new(CallErrorKind::Denied, "no"));
        let line = serde_json::to_string(&answer).unwrap();
        assert_eq!(
            serde_json::from_str::<Result<SupervisorAnswer, CallError>>(&line).unwrap(),
            answer
        );
    }
}
