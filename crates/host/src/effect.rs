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

/// Sends `signal` to the process `pidfd` pins, under a permit for `kill` or `interrupt` on
/// `process::Process::"<pid>"`.
pub(crate) fn signal(
    permit: &Permit,
    process: &Resource,
    pidfd: &OwnedFd,
    signal: rustix::process::Signal,
) -> io::Result<()> {
    check_any(permit, &[Action::ProcKill, Action::ProcInterrupt], process)?;
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

/// The addresses of `name`, under a permit for `resolve_hostname` on it.
pub(crate) fn lookup(permit: &Permit, name: &str) -> io::Result<Vec<SocketAddr>> {
    check(
        permit,
        &[Action::SysinfoResolveHostname],
        &Resource::Hostname(name.to_owned()),
    )?;
    Ok((name, 0).to_socket_addrs()?.collect())
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
