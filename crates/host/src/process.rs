//! Processes: `ps` lists only the processes the policy lets the principal see, and `kill`
//! signals one through a pidfd, so a pid that was recycled after the check is never hit.
//!
//! Reading `/proc` to learn a process's name, owner and command is how the request is built
//! (the attributes a policy decides on); the signal, the only effect on the host, is sent
//! after the decision.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, Signal};
use tollgate_policy::{Action, ProcessInfo, Resource};

use crate::error::{HostError, HostResult};
use crate::Host;

/// One process, as `ps()` returns it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessEntry {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub user: String,
    pub name: String,
    pub command: String,
    /// One letter, as in `ps` (R running, S sleeping, Z zombie, ...).
    pub state: String,
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Seconds since the epoch.
    pub start_time: u64,
}

/// The signals `kill` can send, by the names of the `kill::` flag module.
pub const SIGNALS: &[(&str, Signal)] = &[
    ("TERM", Signal::TERM),
    ("KILL", Signal::KILL),
    ("HUP", Signal::HUP),
    ("INT", Signal::INT),
    ("QUIT", Signal::QUIT),
    ("USR1", Signal::USR1),
    ("USR2", Signal::USR2),
    ("STOP", Signal::STOP),
    ("CONT", Signal::CONT),
];

/// Reads processes from /proc through one descriptor per process directory and one reused
/// buffer. `ps` reads three files of every process; opening each by its full path, with a
/// `statx` and a fresh allocation per file, was most of its cost.
struct ProcReader {
    proc: OwnedFd,
    buf: Vec<u8>,
    users: HashMap<u32, String>,
    /// Seconds since the epoch at boot (0 when only start ticks are compared).
    boot: u64,
    ticks: u64,
    page_size: u64,
}

// The kernel's view of processes is read before any decision: a decision on a process names
// it by what is read here (name, user, command). It only reads, and what it reads of a
// process reaches a script only once the gate permits `list` on that process.
#[allow(clippy::disallowed_methods)]
impl ProcReader {
    fn new(boot: u64) -> HostResult<ProcReader> {
        let proc = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| HostError::io("open", "/proc", e.into()))?;
        Ok(ProcReader {
            proc,
            buf: Vec::with_capacity(4096),
            users: HashMap::new(),
            boot,
            ticks: rustix::param::clock_ticks_per_second().max(1),
            page_size: rustix::param::page_size() as u64,
        })
    }

    /// Reads `name` in the process directory `dir` into the buffer.
    fn read(&mut self, dir: BorrowedFd<'_>, name: &str) -> Option<()> {
        let fd =
            rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        self.buf.clear();
        loop {
            self.buf.reserve(4096);
            // Appends what was read to the buffer's length.
            let read = rustix::io::read(&fd, rustix::buffer::spare_capacity(&mut self.buf)).ok()?;
            if read == 0 {
                return Some(());
            }
        }
    }

    /// One process; `None` if it is gone. Also returns its start time in clock ticks, which
    /// tells it apart from a later process given the same pid.
    fn process(&mut self, pid: u32) -> Option<(ProcessEntry, u64)> {
        let dir = rustix::fs::openat(
            &self.proc,
            pid.to_string(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        self.read(dir.as_fd(), "stat")?;
        let stat = String::from_utf8_lossy(&self.buf);
        // The name is in parentheses and may itself contain spaces or parentheses.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        // Field numbers from proc(5), minus the two before the fields slice (pid and comm).
        let state = fields.first()?.to_string();
        let ppid = field(1)? as u32;
        let cpu_seconds = (field(11)? + field(12)?) as f64 / self.ticks as f64;
        let start_ticks = field(19)?;
        let rss_pages = field(21)?;
        drop(fields);
        drop(stat);
        self.read(dir.as_fd(), "status")?;
        // The real uid: the first number of the `Uid:` line.
        let uid: u32 = self
            .buf
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"Uid:"))
            .and_then(|l| std::str::from_utf8(l).ok())
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse().ok())?;
        let command = match self.read(dir.as_fd(), "cmdline") {
            Some(()) => self
                .buf
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(" "),
            None => String::new(),
        };
        let user = self
            .users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(uid.into())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| uid.to_string())
            })
            .clone();
        Some((
            ProcessEntry {
                pid,
                ppid,
                uid,
                user,
                name,
                command,
                state,
                cpu_seconds,
                rss_bytes: rss_pages * self.page_size,
                start_time: self.boot + start_ticks / self.ticks,
            },
            start_ticks,
        ))
    }
}

/// Seconds since the epoch at boot; read once per listing (/proc/stat is costly to build).
#[allow(clippy::disallowed_methods)] // the kernel's clock, not a resource a policy names
fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn resource(p: &ProcessEntry) -> Resource {
    Resource::Process(ProcessInfo::new(
        p.pid,
        p.name.clone(),
        p.user.clone(),
        p.command.clone(),
    ))
}

impl Host {
    /// `ps()`: every process the policy permits `process_system::Action::"list"` on.
    /// Processes it does not are left out (their denials are still recorded).
    // Lists the pids: see ProcReader for why the kernel's process table is read unasked.
    #[allow(clippy::disallowed_methods)]
    pub fn ps(&self) -> HostResult<Vec<ProcessEntry>> {
        let mut reader = ProcReader::new(boot_time().unwrap_or(0))?;
        let mut out = Vec::new();
        let dir = fs::read_dir("/proc").map_err(|e| HostError::io("list", "/proc", e))?;
        let mut pids: Vec<u32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
            .collect();
        pids.sort_unstable();
        for pid in pids {
            self.interrupt.check()?;
            let Some((entry, _)) = reader.process(pid) else {
                continue;
            };
            match self.gate.authorize(&[Action::ProcList], &resource(&entry)) {
                Ok(_) => out.push(entry),
                // A decision that could not be recorded stops the listing: fail closed.
                Err(d) if d.unrecorded.is_some() => return Err(d.into()),
                Err(_) => {}
            }
            if out.len() > self.limits.max_items {
                return Err(HostError::TooLarge {
                    what: "the process list".to_owned(),
                    limit: format!("{} entries", self.limits.max_items),
                });
            }
        }
        Ok(out)
    }

    /// `kill(pid)`: sends `signal` (by its `kill::` name) to `pid`. Needs
    /// `process_system::Action::"kill"`, or `"interrupt"` for HUP and INT, on the process.
    pub fn kill(&self, pid: i64, signal: &str) -> HostResult<()> {
        let sig = SIGNALS
            .iter()
            .find(|(name, _)| *name == signal)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let names: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
                HostError::InvalidInput(format!(
                    "unknown signal {signal:?}; use one of kill::{}",
                    names.join(", kill::")
                ))
            })?;
        let pid = u32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| HostError::InvalidInput(format!("{pid} is not a process id")))?;
        let not_found = || HostError::NotFound {
            path: format!("process {pid}"),
        };
        let mut reader = ProcReader::new(0)?;
        let (entry, started) = reader.process(pid).ok_or_else(not_found)?;
        let action = if matches!(signal, "HUP" | "INT") {
            Action::ProcInterrupt
        } else {
            Action::ProcKill
        };
        let process = resource(&entry);
        let permit = self.gate.authorize(&[action], &process)?;
        let raw = Pid::from_raw(pid as i32).ok_or_else(not_found)?;
        let pidfd =
            rustix::process::pidfd_open(raw, PidfdFlags::empty()).map_err(|_| not_found())?;
        // The pidfd pins one process. If the pid now names another one (the first exited
        // and the number was reused), its start time differs: refuse.
        match reader.process(pid) {
            Some((_, now)) if now == started => {}
            _ => {
                return Err(HostError::InvalidInput(format!(
                    "process {pid} exited after it was checked; nothing was signalled"
                )))
            }
        }
        crate::effect::signal(&permit, &process, &pidfd, sig)
            .map_err(|e| HostError::io("signal", format!("process {pid}"), e))
    }
}

/// Tells whether the processes a listing found are still the ones with their pids: a pid is
/// reused once its process is gone, and what was decided on one must not be read of another.
/// One reader (and one look at the boot time) for a whole listing.
pub(crate) struct Recheck(ProcReader);

impl Recheck {
    pub(crate) fn new() -> HostResult<Recheck> {
        Ok(Recheck(ProcReader::new(boot_time().unwrap_or(0))?))
    }

    pub(crate) fn still_running(&mut self, entry: &ProcessEntry) -> bool {
        self.0
            .process(entry.pid)
            .is_some_and(|(now, _)| now.start_time == entry.start_time && now.name == entry.name)
    }
}
