//! The host's effects other than files (those are `fs::root`'s): each takes the [`Permit`]
//! the gate gave for exactly what it touches and refuses one that does not cover it. Code
//! that acts without asking does not build (a dropped `Permit` is a warning, an error in CI,
//! and the calls below are the host crate's only way to them: see `clippy.toml`), and code
//! that asked about one thing cannot act on another.

// This module is where these effects are made: each call below is behind a Permit check.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::time::Duration;

use tollgate_policy::{Action, Permit, Resource};

/// `Err` unless `permit` is for `resource` and allows every one of `actions`: a mismatch is
/// a bug in the host, and it fails closed.
pub(crate) fn check(permit: &Permit, actions: &[Action], resource: &Resource) -> io::Result<()> {
    let missing = actions.iter().find(|a| !permit.allows(**a));
    if permit.resource() != resource || missing.is_some() {
        return Err(not_covered(permit, &resource.to_string()));
    }
    Ok(())
}

/// A permit used for what it does not cover: a bug in the host, and nothing is done. The one
/// error of both effect modules (this one and `fs::root`).
pub(crate) fn not_covered(permit: &Permit, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "internal error: the permit for {} does not cover {what}; nothing was done",
            permit.resource()
        ),
    )
}

/// Like [`check`], for a permit that needs any one of `actions` (e.g. a kernel table read
/// under `read`, or a walk's `read`).
pub(crate) fn check_any(
    permit: &Permit,
    actions: &[Action],
    resource: &Resource,
) -> io::Result<()> {
    if permit.resource() == resource && actions.iter().any(|a| permit.allows(*a)) {
        return Ok(());
    }
    check(permit, actions, resource)
}

/// Whether `pid` is one of the run's own processes: the worker (this process) or the
/// supervisor that started it (its parent, which the worker checks at start). Like
/// Tollgate's own files, they are out of every script's reach whatever the policy says: a
/// signalled supervisor would print no result and write no end record.
pub(crate) fn is_own_process(pid: u32) -> bool {
    pid == std::process::id() || pid == std::os::unix::process::parent_id()
}

/// Sends `signal` to the process `pidfd` pins, under a permit for `kill` or `interrupt` on
/// `process::Process::"<pid>"`; never to one of the run's own processes.
pub(crate) fn signal(
    permit: &Permit,
    process: &Resource,
    pidfd: &OwnedFd,
    signal: rustix::process::Signal,
) -> io::Result<()> {
    check_any(permit, &[Action::ProcKill, Action::ProcInterrupt], process)?;
    if let Resource::Process(p) = process {
        if is_own_process(p.pid) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "process {} is Tollgate's own (the run's worker or supervisor); \
                     no policy lets a script signal it",
                    p.pid
                ),
            ));
        }
    }
    rustix::process::pidfd_send_signal(pidfd, signal)?;
    Ok(())
}

/// A TCP connection to `addr`, an address of the canonical host of `url`, under a permit
/// for `connect` on that URL; closed at once.
pub(crate) fn connect(
    permit: &Permit,
    url: &str,
    addr: &SocketAddr,
    timeout: Duration,
) -> io::Result<()> {
    check(
        permit,
        &[Action::NetConnect],
        &Resource::Url(url.to_owned()),
    )?;
    TcpStream::connect_timeout(addr, timeout).map(drop)
}

/// The addresses of `name`, under a permit for `resolve_hostname` on it, or `TimedOut` when
/// the system's resolver has not answered within `timeout`.
pub(crate) fn lookup(
    permit: &Permit,
    name: &str,
    timeout: Duration,
) -> io::Result<Vec<SocketAddr>> {
    check(
        permit,
        &[Action::SysinfoResolveHostname],
        &Resource::Hostname(name.to_owned()),
    )?;
    let name = name.to_owned();
    within(timeout, move || {
        Ok((name.as_str(), 0).to_socket_addrs()?.collect())
    })
}

/// Most lookups left running after their caller stopped waiting: each holds a thread (and
/// its stack) until the system's resolver gives up, so a script looping on a name that never
/// answers gets an error instead of piling them up.
const MAX_PENDING_LOOKUPS: usize = 4;

/// The stack of a lookup's thread: `getaddrinfo` keeps its buffers on the heap, and the
/// worker's memory bound leaves room for only a few small stacks.
const LOOKUP_STACK: usize = 512 << 10;

static PENDING_LOOKUPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` (a blocking call that cannot be interrupted, as `getaddrinfo`) on a thread of its
/// own and waits at most `timeout` for it: `TimedOut` then, and the thread ends by itself
/// when `f` returns.
fn within<T: Send + 'static>(
    timeout: Duration,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc;
    if PENDING_LOOKUPS.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_LOOKUPS {
        PENDING_LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(io::Error::other(format!(
            "{MAX_PENDING_LOOKUPS} earlier lookups are still waiting for the system's resolver; try again later"
        )));
    }
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("tollgate-lookup".to_owned())
        .stack_size(LOOKUP_STACK)
        .spawn(move || {
            // The caller may have stopped waiting: an answer nobody takes is dropped.
            let _ = tx.send(f());
            PENDING_LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        });
    if let Err(e) = spawned {
        PENDING_LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    match rx.recv_timeout(timeout) {
        Ok(answer) => answer,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no answer within {} ms", timeout.as_millis()),
        )),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            Err(io::Error::other("the lookup ended without an answer"))
        }
    }
}

/// One of the kernel's tables or views (`/proc/meminfo`, `/sys/block/sda/size`), read whole,
/// under a permit for `read` on `resource`, which is `path` or a directory holding it.
pub(crate) fn read_kernel(permit: &Permit, resource: &Resource, path: &str) -> io::Result<String> {
    check_any(permit, &[Action::FsRead], resource)?;
    let inside = resource.path().is_some_and(|p| {
        tollgate_policy::AbsPath::parse(path).is_ok_and(|path| path.starts_with(p))
    });
    if !inside {
        return Err(not_covered(permit, path));
    }
    std::fs::read_to_string(path)
}

/// One of the kernel's streams (`/dev/kmsg`) opened for reading without blocking, under a
/// permit for `read` on it.
pub(crate) fn open_kernel(permit: &Permit, resource: &Resource) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    check_any(permit, &[Action::FsRead], resource)?;
    let path = resource
        .path()
        .ok_or_else(|| io::Error::other("internal error: not a file"))?;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path.as_str())
}

/// The names in one of the kernel's directories (`/sys/block`), under a permit for `read`
/// on it.
pub(crate) fn list_kernel(permit: &Permit, resource: &Resource) -> io::Result<Vec<String>> {
    check_any(permit, &[Action::FsRead], resource)?;
    let path = resource
        .path()
        .ok_or_else(|| io::Error::other("internal error: not a directory"))?;
    let mut names = Vec::new();
    for entry in std::fs::read_dir(path.as_str())? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// What the system says about itself (kernel, host name, processors, interfaces), under a
/// permit for `sysinfo::Action::"list"`: the caller reads it with `read`.
pub(crate) fn sysinfo<T>(permit: &Permit, read: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    check(permit, &[Action::SysinfoList], &Resource::Sysinfo)?;
    read()
}

/// The link targets of process `pid`'s descriptors (`/proc/PID/fd/*`), under a permit for
/// `action` (`list_fds`, or `list` for socket owners) on that process.
pub(crate) fn read_descriptors(
    permit: &Permit,
    action: Action,
    pid: u32,
) -> io::Result<Vec<String>> {
    check_process(permit, action, pid)?;
    let mut targets = Vec::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))?.flatten() {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            targets.push(target.to_string_lossy().into_owned());
        }
    }
    Ok(targets)
}

/// `Err` unless `permit` is for `action` on the process `pid`.
fn check_process(permit: &Permit, action: Action, pid: u32) -> io::Result<()> {
    match permit.resource() {
        Resource::Process(p) if p.pid == pid && permit.allows(action) => Ok(()),
        _ => Err(not_covered(permit, &format!("process {pid}"))),
    }
}

/// Every thread's stack of process `pid`, as gdb prints it (at most `max_output_bytes`),
/// under a permit for `trace` on that process; never one of the run's own processes. gdb
/// attaches with ptrace(2), prints `thread apply all bt` and detaches. Its arguments are
/// fixed (no shell, no script's words), its init files, auto-loaded scripts and
/// debuginfod (which would reach the network) off, and its time bounded by `interrupt`.
pub(crate) fn trace(
    permit: &Permit,
    pid: u32,
    interrupt: &crate::Interrupt,
    timeout: Duration,
    max_output_bytes: usize,
) -> crate::HostResult<String> {
    use std::os::unix::process::CommandExt;
    // The same gdb that core dumps are read with.
    use crate::fs::formats::GDB;
    let target = format!("process {pid}");
    check_process(permit, Action::ProcTrace, pid)
        .map_err(|e| crate::HostError::io("trace", &target, e))?;
    if is_own_process(pid) {
        return Err(crate::HostError::io(
            "trace",
            &target,
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "it is Tollgate's own (the run's worker or supervisor); no policy lets a script trace it",
            ),
        ));
    }
    let mut command = std::process::Command::new(GDB);
    command
        .args(["-nx", "-batch"])
        .args(["-iex", "set debuginfod enabled off"])
        .args(["-iex", "set auto-load off"])
        .args(["-ex", "thread apply all bt"])
        .args(["-p", &pid.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env_clear()
        .process_group(0);
    // SAFETY: prctl is async-signal-safe and takes integers; the debugger dies with the
    // thread that started it rather than leave a process stopped under it.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let child = command.spawn().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => crate::HostError::NotFound {
            path: format!("{GDB} (gdb is needed to trace a process; install it)"),
        },
        _ => crate::HostError::io("trace", &target, e),
    })?;
    let options = crate::exec::ExecuteOptions {
        timeout,
        max_output_bytes,
        ..Default::default()
    };
    let gdb = tollgate_policy::AbsPath::parse(GDB)?;
    let result = crate::exec::wait_for(interrupt, child, &gdb, &options)?;
    if result.truncated {
        return Err(crate::HostError::TooLarge {
            what: "gdb's trace".to_owned(),
            limit: format!("{max_output_bytes} bytes (max_string_bytes)"),
        });
    }
    if result.stderr.contains("ptrace: Operation not permitted") {
        return Err(crate::HostError::io(
            "trace",
            &target,
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                "the kernel refused to let the debugger attach (ptrace: operation not permitted)",
            ),
        ));
    }
    Ok(result.stdout + &result.stderr)
}

/// Unmounts the file system mounted at `path`, under a permit for `unmount` on that Dir.
/// `path` must name the mount point itself, reached without a symlink anywhere on the way:
/// it is checked beneath `/` without following symlinks, and umount2(2) is told not to
/// follow one at the last step (`UMOUNT_NOFOLLOW`), so a link cannot turn the unmount to
/// another mount.
pub(crate) fn unmount(permit: &Permit, path: &tollgate_policy::AbsPath) -> io::Result<()> {
    check(permit, &[Action::FsUnmount], &Resource::Dir(path.clone()))?;
    {
        // Opened only to look at, and closed before the unmount: an open descriptor would
        // keep the mount busy.
        let fd = rustix::fs::openat2(
            rustix::fs::CWD,
            path.as_str(),
            rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
            rustix::fs::ResolveFlags::NO_SYMLINKS | rustix::fs::ResolveFlags::NO_MAGICLINKS,
        )
        .map_err(|e| {
            if e == rustix::io::Errno::LOOP {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{path} is reached through a symlink; give the mount point's own path"),
                )
            } else {
                e.into()
            }
        })?;
        let st = rustix::fs::statx(
            &fd,
            "",
            rustix::fs::AtFlags::EMPTY_PATH,
            rustix::fs::StatxFlags::BASIC_STATS,
        )?;
        let mount_root = rustix::fs::StatxAttributes::MOUNT_ROOT;
        if !st.stx_attributes_mask.contains(mount_root) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the kernel cannot tell whether a directory is a mount point (statx)",
            ));
        }
        if !st.stx_attributes.contains(mount_root) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{path} is not a mount point; nothing was unmounted"),
            ));
        }
    }
    let c_path = std::ffi::CString::new(path.as_str())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    // SAFETY: umount2 takes a NUL-terminated path, which `c_path` is, and integer flags.
    if unsafe { libc::umount2(c_path.as_ptr(), libc::UMOUNT_NOFOLLOW) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_outlasts_its_timeout_is_timed_out_and_a_quick_one_answers() {
        let slow = within(Duration::from_millis(20), || {
            std::thread::sleep(Duration::from_millis(300));
            Ok(1)
        });
        assert_eq!(slow.unwrap_err().kind(), io::ErrorKind::TimedOut);
        let quick = within(Duration::from_secs(5), || Ok(2));
        assert_eq!(quick.unwrap(), 2);
        let failed = within(Duration::from_secs(5), || -> io::Result<()> {
            Err(io::Error::other("no such host"))
        });
        assert_eq!(failed.unwrap_err().to_string(), "no such host");
    }
}
