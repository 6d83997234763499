//! Running a binary: `execute(path, options)` and `file.execute(options)`.
//!
//! The binary is authorized with `file_system::Action::"execute"` and the full context
//! (arguments, environment, user, group; every value of a repeated key), opened beneath `/`
//! like any file, and run from that descriptor with `execveat`, so the file that runs is the
//! file that was checked. There is no shell: the argument list is passed as it is.
//!
//! What the child gets:
//! - an environment holding only the variables the script passed (and the policy permitted);
//! - the user and group asked for (switching user as root also drops supplementary groups);
//! - its own process group, killed as a whole when the time limit passes or the child exits;
//! - `no_new_privs`, so setuid binaries and file capabilities grant nothing;
//! - where the kernel has Landlock, a ruleset that lets it write, create, delete and rename
//!   only beneath the paths some permit policy names for those actions, Tollgate's own
//!   files excepted (see [`crate::confine`]), inside the worker's own ruleset.
//! - stdin from /dev/null; stdout and stderr captured up to a size limit each, read while
//!   the child runs so a full pipe never stalls it.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use landlock::RulesetCreated;
use nix::unistd::{Gid, Group, Uid, User};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use tollgate_policy::execute::{ExecuteContext, Identity};
use tollgate_policy::{AbsPath, Action, Context, Permit, Request};

use crate::confine::child_ruleset;
use crate::error::{HostError, HostResult};
use crate::fs::{parse_path, FileHandle, Kind, OpenMode};
use crate::{Host, Interrupt};

/// How a script asks to run a binary.
#[derive(Clone, Debug, Default)]
pub struct ExecuteOptions {
    /// `(key, Some(value))` passes `key value`; `(word, None)` passes `word`.
    pub arguments: Vec<(String, Option<String>)>,
    pub environment: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Wall-clock limit; the whole process group is killed when it passes.
    pub timeout: Duration,
    /// Most bytes kept of stdout and of stderr each; the rest is read and dropped.
    pub max_output_bytes: usize,
}

/// What a finished binary left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteResult {
    /// The exit status, or 128 + the signal that ended it.
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Whether stdout or stderr was longer than the limit and cut.
    pub truncated: bool,
}

/// After the child exits, how long its output is still read from what it left running
/// (killed with it, unless it left the process group).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(1);

/// How often a running child's wait looks at the run's stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);

impl Host {
    /// Authorizes and runs the binary at `raw_path`.
    pub fn execute(&self, raw_path: &str, options: &ExecuteOptions) -> HostResult<ExecuteResult> {
        let path = parse_path(raw_path)?;
        let prepared = Prepared::new(&path, options)?;
        let opened = self.open_checked_in(
            &path,
            Kind::File,
            &[Action::FsExecute],
            &prepared.contexts,
            OpenMode::Exec,
        )?;
        self.run_binary(
            opened.fd.as_fd(),
            &opened.path,
            &opened.permit,
            prepared,
            options,
        )
    }

    /// Authorizes and runs the binary an open handle refers to.
    pub fn execute_handle(
        &self,
        file: &FileHandle,
        options: &ExecuteOptions,
    ) -> HostResult<ExecuteResult> {
        let prepared = Prepared::new(file.path(), options)?;
        let resource = Kind::File.resource(file.path().clone());
        let requests: Vec<Request> = prepared
            .contexts
            .iter()
            .map(|context| Request {
                actions: &[Action::FsExecute],
                resource: &resource,
                context,
            })
            .collect();
        self.interrupt.check()?;
        let permit = self.gate.authorize_all(&requests)?;
        self.run_binary(file.fd(), file.path(), &permit, prepared, options)
    }

    fn run_binary(
        &self,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
        permit: &Permit,
        prepared: Prepared,
        options: &ExecuteOptions,
    ) -> HostResult<ExecuteResult> {
        crate::effect::check(
            permit,
            &[Action::FsExecute],
            &Kind::File.resource(path.clone()),
        )
        .map_err(|e| HostError::io("run", path, e))?;
        let st = rustix::fs::fstat(fd).map_err(|e| HostError::io("stat", path, e.into()))?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(HostError::InvalidInput(format!(
                "{path} is not a regular file and cannot be executed"
            )));
        }
        let ruleset = child_ruleset(&self.root, &self.gate)
            .map_err(|e| HostError::io("prepare the sandbox for", path, e))?;
        // The child is started, and waited for, by a thread that first takes no_new_privs
        // and the Landlock ruleset upon itself: the child inherits both, and the runner's
        // other threads stay unrestricted. The same thread waits because the child's
        // parent-death signal follows the thread that forked it.
        let interrupt = &self.interrupt;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    restrict_this_thread(ruleset).map_err(|e| spawn_error(path, e))?;
                    let child = spawn(fd, &prepared).map_err(|e| spawn_error(path, e))?;
                    wait_for(interrupt, child, path, options)
                })
                .join()
                .unwrap_or_else(|_| {
                    Err(HostError::io(
                        "execute",
                        path,
                        io::Error::other("the thread running the child panicked"),
                    ))
                })
        })
    }
}

/// Reads the child's output and waits for it, within the time limit and the run's. Whatever
/// ends the wait early (the limit, the run's stop, an error) kills the child's group and
/// reaps it first, so nothing it started is left running.
pub(crate) fn wait_for(
    interrupt: &Interrupt,
    mut child: Child,
    path: &AbsPath,
    options: &ExecuteOptions,
) -> HostResult<ExecuteResult> {
    let pid = rustix::process::Pid::from_raw(child.id() as i32)
        .ok_or_else(|| HostError::io("run", path, io::Error::other("the child has no pid")))?;
    // The child leads its own group; killing the group reaches what it started. The child
    // is not reaped before this is sent, so its pid (the group id) cannot have been reused.
    let kill_group = || {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    };
    let mut streams = [
        Stream::new(child.stdout.take().map(OwnedFd::from)),
        Stream::new(child.stderr.take().map(OwnedFd::from)),
    ];
    let outcome = watch(interrupt, pid, path, &mut streams, options, &kill_group);
    if outcome.is_err() {
        kill_group();
    }
    let status = child.wait();
    match outcome? {
        Watched::Exited => {}
        Watched::TimedOut => {
            // The wait was bounded by what was left of the run's time: that is the limit hit.
            interrupt.check_deadline()?;
            return Err(HostError::TimedOut(format!(
                "{path} ran longer than its time limit of {} and was killed",
                humanize(options.timeout)
            )));
        }
    }
    let status = status.map_err(|e| HostError::io("run", path, e))?;
    let exit_code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1);
    let [out, err] = streams;
    Ok(ExecuteResult {
        exit_code,
        truncated: out.truncated || err.truncated,
        stdout: String::from_utf8_lossy(&out.kept).into_owned(),
        stderr: String::from_utf8_lossy(&err.kept).into_owned(),
    })
}

enum Watched {
    Exited,
    TimedOut,
}

/// Polls the output pipes and the child's pidfd until the child has exited and its output
/// is read (or DRAIN_AFTER_EXIT has passed), or the time limit passes.
fn watch(
    interrupt: &Interrupt,
    pid: rustix::process::Pid,
    path: &AbsPath,
    streams: &mut [Stream; 2],
    options: &ExecuteOptions,
    kill_group: &dyn Fn(),
) -> HostResult<Watched> {
    let io_err = |e: io::Error| HostError::io("run", path, e);
    let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())
        .map_err(|e| io_err(e.into()))?;
    let mut deadline = Instant::now() + interrupt.bound(options.timeout);
    let mut exited = false;
    loop {
        if exited && streams.iter().all(|s| s.pipe.is_none()) {
            return Ok(Watched::Exited);
        }
        let now = Instant::now();
        if now >= deadline {
            if exited {
                return Ok(Watched::Exited);
            }
            kill_group();
            return Ok(Watched::TimedOut);
        }
        interrupt.check()?;
        let wait = (deadline - now).min(STOP_CHECK);
        let mut fds: Vec<PollFd> = streams
            .iter()
            .filter_map(|s| s.pipe.as_ref())
            .map(|p| PollFd::new(p, PollFlags::IN))
            .collect();
        if !exited {
            fds.push(PollFd::new(&pidfd, PollFlags::IN));
        }
        let timeout = Timespec::try_from(wait).unwrap_or_else(|_| unreachable!());
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(io_err(e.into())),
        }
        let child_done = !exited && fds.last().is_some_and(|f| !f.revents().is_empty());
        drop(fds);
        for s in streams.iter_mut() {
            s.read_available(options.max_output_bytes).map_err(io_err)?;
        }
        if child_done {
            exited = true;
            kill_group();
            deadline = deadline.min(Instant::now() + DRAIN_AFTER_EXIT);
        }
    }
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// One of the child's output pipes, read without blocking.
struct Stream {
    pipe: Option<File>,
    kept: Vec<u8>,
    truncated: bool,
}

impl Stream {
    fn new(pipe: Option<OwnedFd>) -> Stream {
        let pipe = pipe.map(File::from);
        if let Some(p) = &pipe {
            // Reading never blocks: poll says when there is data.
            let _ = rustix::io::ioctl_fionbio(p, true);
        }
        Stream {
            pipe,
            kept: Vec::new(),
            truncated: false,
        }
    }

    /// Reads what is there; past `limit`, reads and drops, so the child never stalls.
    fn read_available(&mut self, limit: usize) -> io::Result<()> {
        let Some(pipe) = &mut self.pipe else {
            return Ok(());
        };
        let mut buf = [0u8; 64 << 10];
        // A bounded number of reads per round, so that a child writing without pause cannot
        // keep the caller from its time checks.
        for _ in 0..16 {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.pipe = None;
                    return Ok(());
                }
                Ok(n) => {
                    let room = limit.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                    self.truncated |= n > room;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Everything the child needs, built before `fork`: after it, only async-signal-safe calls
/// may run, so no allocation.
struct Prepared {
    contexts: Vec<Context>,
    argv: Vec<CString>,
    envp: Vec<CString>,
    uid: Option<Uid>,
    gid: Option<Gid>,
}

fn c_string(what: &str, s: String) -> HostResult<CString> {
    CString::new(s).map_err(|_| HostError::InvalidInput(format!("{what} contains a NUL byte")))
}

impl Prepared {
    fn new(path: &AbsPath, options: &ExecuteOptions) -> HostResult<Prepared> {
        let mut argv = vec![c_string("the path", path.to_string())?];
        for (i, (key, value)) in options.arguments.iter().enumerate() {
            if key.is_empty() {
                return Err(HostError::InvalidInput(format!(
                    "argument {i} is empty; leave it out"
                )));
            }
            argv.push(c_string("an argument", key.clone())?);
            if let Some(value) = value {
                argv.push(c_string("an argument", value.clone())?);
            }
        }
        let mut envp = Vec::with_capacity(options.environment.len());
        for (name, value) in &options.environment {
            if name.is_empty() || name.contains('=') {
                return Err(HostError::InvalidInput(format!(
                    "environment variable name {name:?} is empty or contains '='"
                )));
            }
            envp.push(c_string(
                "an environment variable",
                format!("{name}={value}"),
            )?);
        }
        let (user, uid, default_gid) = match &options.user {
            Some(name) => {
                let u = User::from_name(name)
                    .map_err(|e| HostError::InvalidInput(format!("user {name}: {e}")))?
                    .ok_or_else(|| HostError::InvalidInput(format!("no such user: {name}")))?;
                (
                    Identity {
                        name: u.name,
                        id: u.uid.as_raw(),
                    },
                    Some(u.uid),
                    Some(u.gid),
                )
            }
            None => {
                let uid = Uid::effective();
                let name = User::from_uid(uid)
                    .ok()
                    .flatten()
                    .map_or_else(|| uid.to_string(), |u| u.name);
                (
                    Identity {
                        name,
                        id: uid.as_raw(),
                    },
                    None,
                    None,
                )
            }
        };
        let (group, gid) = match (&options.group, default_gid) {
            (Some(name), _) => {
                let g = Group::from_name(name)
                    .map_err(|e| HostError::InvalidInput(format!("group {name}: {e}")))?
                    .ok_or_else(|| HostError::InvalidInput(format!("no such group: {name}")))?;
                (group_identity(g.gid, Some(g.name)), Some(g.gid))
            }
            (None, Some(gid)) => (group_identity(gid, None), Some(gid)),
            (None, None) => (group_identity(Gid::effective(), None), None),
        };
        let context = ExecuteContext {
            arguments: options.arguments.clone(),
            environment: options.environment.clone(),
            user,
            group,
        };
        let contexts = context
            .views()
            .map_err(HostError::InvalidInput)?
            .into_iter()
            .map(|v| Context::Execute(Box::new(v)))
            .collect();
        Ok(Prepared {
            contexts,
            argv,
            envp,
            uid,
            gid,
        })
    }
}

fn group_identity(gid: Gid, name: Option<String>) -> Identity {
    let name = name.unwrap_or_else(|| {
        Group::from_gid(gid)
            .ok()
            .flatten()
            .map_or_else(|| gid.to_string(), |g| g.name)
    });
    Identity {
        name,
        id: gid.as_raw(),
    }
}

fn restrict_this_thread(ruleset: Option<RulesetCreated>) -> io::Result<()> {
    rustix::thread::set_no_new_privs(true)?;
    if let Some(ruleset) = ruleset {
        ruleset
            .restrict_self()
            .map_err(|e| io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// Forks and runs the binary from its descriptor, opened under its `execute` permit (which
/// `run_binary` checks before it gets here).
#[allow(clippy::disallowed_methods)]
fn spawn(fd: BorrowedFd<'_>, prepared: &Prepared) -> io::Result<Child> {
    let raw_fd = fd.as_raw_fd();
    let pointers = |strings: &[CString]| -> Vec<*const libc::c_char> {
        strings
            .iter()
            .map(|s| s.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect()
    };
    let (argv, envp) = (pointers(&prepared.argv), pointers(&prepared.envp));
    // Raw pointers are not Send; `argv`, `envp` and `prepared` outlive the spawn.
    let (argv_at, envp_at) = (argv.as_ptr() as usize, envp.as_ptr() as usize);
    let mut command = Command::new("/");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_clear()
        .process_group(0);
    if let Some(gid) = prepared.gid {
        command.gid(gid.as_raw());
    }
    if let Some(uid) = prepared.uid {
        // As root, std also drops the supplementary groups before setuid.
        command.uid(uid.as_raw());
    }
    // SAFETY: runs in the child between fork and exec; it calls only async-signal-safe
    // functions (prctl, execveat) on data built before the fork, and allocates nothing.
    unsafe {
        command.pre_exec(move || {
            // The child dies with the runner rather than outlive its limits.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::syscall(
                libc::SYS_execveat,
                raw_fd,
                c"".as_ptr(),
                argv_at as *const *const libc::c_char,
                envp_at as *const *const libc::c_char,
                libc::AT_EMPTY_PATH,
            );
            // Only reached when execveat failed.
            Err(io::Error::last_os_error())
        });
    }
    let child = command.spawn();
    drop((argv, envp));
    child
}

fn spawn_error(path: &AbsPath, e: io::Error) -> HostError {
    match e.raw_os_error() {
        Some(libc::ENOENT) => HostError::InvalidInput(format!(
            "{path} cannot be executed: it is a script for an interpreter, or its loader is \
             missing; execute the interpreter with the script as an argument"
        )),
        Some(libc::EACCES) => HostError::io(
            "execute",
            path,
            io::Error::other("permission denied by the file system (is it executable?)"),
        ),
        Some(libc::EPERM) => HostError::io(
            "execute",
            path,
            io::Error::other("the runner may not switch to that user or group"),
        ),
        _ => HostError::io("execute", path, e),
    }
}
