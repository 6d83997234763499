//! Processes: `ps` lists only the processes the policy lets the principal see, and `kill`
//! signals one through a pidfd, so a pid that was recycled after the check is never hit.
//!
//! Reading `/proc` to learn a process's name, owner and command is how the request is built
//! (the attributes a policy decides on); the signal, the only effect on the host, is sent
//! after the decision.

use std::collections::HashMap;
use std::fs;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags, Signal};
use tollgate_policy::{Action, Permit, ProcessInfo, Resource};

use crate::error::{HostError, HostResult};
use crate::fs::formats::TracedProcess;
use crate::supervisor_call::{SupervisorAnswer, SupervisorCall};
use crate::Host;

/// One process (or, when threads are asked for, one thread), as `ps()` and Rex's
/// `ProcessManager().processes()` return it.
#[derive(Clone, Debug, PartialEq)]
pub struct ProcessEntry {
    /// The process id; for a thread, its thread id.
    pub pid: u32,
    /// The parent's pid (0 for none); for a thread, the pid of the process it belongs to.
    pub ppid: u32,
    pub uid: u32,
    pub user: String,
    pub name: String,
    /// The command line, its words joined by spaces, the program's directory left out
    /// (`sleep 300`, not `/usr/bin/sleep 300`): what Rex shows and its policies match.
    pub command: String,
    /// The state by sysinfo's names, as Rex reports it: `Run`, `Sleep`, `Idle`, `Zombie`,
    /// `Stop`, `Tracing`, `Dead`, `UninterruptibleDiskSleep`, ...
    pub state: String,
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Resident memory as a share of the machine's, in percent with two decimals.
    pub memory_percent: f64,
    /// CPU time over time alive since the process started, in percent (over 100 for a
    /// process busy on several processors), as `ps` shows it.
    pub historical_cpu_usage: f64,
    /// CPU use over the last interval, in percent: only `monitor_processes_cpu` measures it.
    pub recent_cpu_usage: Option<f64>,
    /// Seconds since the epoch.
    pub start_time: u64,
    /// The process's pid namespace, when it was asked for and could be read.
    pub pid_namespace: Option<PidNamespace>,
}

/// A process's pid namespace: its inode number, and the process's pid inside it (its pid
/// when it is in the initial namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidNamespace {
    pub namespace_id: u64,
    pub child_ns_pid: u32,
}

/// What a listing includes beyond processes' own lines (Rex's `ProcessOptions`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Read each process's pid namespace (`pid_namespace`).
    pub namespaces: bool,
    /// One entry per thread as well, besides the process's own.
    pub threads: bool,
}

/// Which processes a pattern `kill` signals (Rex's `KillOptions` without a pid). A field
/// left `None` matches every process; all given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessMatch {
    /// The name, whole when `exact`, else a part of it.
    pub name: Option<String>,
    /// The owner's user name, always whole.
    pub user: Option<String>,
    /// The command line, whole when `exact`, else a part of it.
    pub command: Option<String>,
    pub exact: bool,
}

impl ProcessMatch {
    fn matches(&self, p: &ProcessEntry) -> bool {
        let text = |want: &Option<String>, have: &str| match want {
            None => true,
            Some(w) if self.exact => have == w,
            Some(w) => have.contains(w.as_str()),
        };
        text(&self.name, &p.name)
            && self.user.as_ref().is_none_or(|u| *u == p.user)
            && text(&self.command, &p.command)
    }
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
    /// Seconds since the epoch now, for how long a process has run.
    now: u64,
    ticks: u64,
    page_size: u64,
    /// The machine's memory in bytes (0 if unknown), for `memory_percent`.
    total_memory: u64,
}

/// The kernel's one-letter state as sysinfo names it, which is what Rex reports.
fn state_name(letter: &str) -> String {
    let name = match letter {
        "R" => "Run",
        "S" => "Sleep",
        "I" => "Idle",
        "D" => "UninterruptibleDiskSleep",
        "Z" => "Zombie",
        "T" => "Stop",
        "t" => "Tracing",
        "X" | "x" => "Dead",
        "K" => "Wakekill",
        "W" => "Waking",
        "P" => "Parked",
        other => {
            let code = other.chars().next().map_or(0, u32::from);
            return format!("Unknown({code})");
        }
    };
    name.to_owned()
}

/// The command line as Rex shows it: the arguments joined by spaces, the first word without
/// its directory.
fn command_line(args: &[u8]) -> String {
    let joined = args
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(String::from_utf8_lossy)
        .collect::<Vec<_>>()
        .join(" ");
    match joined.split_once(' ') {
        Some((first, rest)) => format!("{} {rest}", program(first)),
        None => program(&joined).to_owned(),
    }
}

fn program(word: &str) -> &str {
    word.rfind('/').map_or(word, |i| &word[i + 1..])
}

/// Memory as a share of the machine's, truncated to two decimals as Rex computes it.
fn percent_of(part: u64, total: u64) -> f64 {
    if total == 0 {
        return 0.0;
    }
    ((u128::from(part) * 10_000 / u128::from(total)) as f64) / 100.0
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
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // sysinfo(2) for the machine's memory: a count the kernel keeps, not a file a
        // policy names, and it only scales what the listing already shows.
        let info = rustix::system::sysinfo();
        let total_memory = u64::from(info.mem_unit.max(1)) * info.totalram as u64;
        Ok(ProcReader {
            proc,
            buf: Vec::with_capacity(4096),
            users: HashMap::new(),
            boot,
            now,
            ticks: rustix::param::clock_ticks_per_second().max(1),
            page_size: rustix::param::page_size() as u64,
            total_memory,
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

    fn open_dir(&self, path: &str) -> Option<OwnedFd> {
        rustix::fs::openat(
            &self.proc,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
    }

    /// One process; `None` if it is gone. Also returns its start time in clock ticks, which
    /// tells it apart from a later process given the same pid.
    fn process(&mut self, pid: u32) -> Option<(ProcessEntry, u64)> {
        let dir = self.open_dir(&pid.to_string())?;
        self.entry(dir.as_fd(), pid, None)
    }

    /// The threads of process `owner` (all but its main thread), each as an entry whose
    /// `ppid` is `owner` and whose command and user are the process's.
    fn threads(&mut self, owner: &ProcessEntry) -> Vec<ProcessEntry> {
        let Some(tasks) = self.open_dir(&format!("{}/task", owner.pid)) else {
            return Vec::new();
        };
        let Ok(dir) = rustix::fs::Dir::read_from(&tasks) else {
            return Vec::new();
        };
        let tids: Vec<u32> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str().ok().and_then(|n| n.parse().ok()))
            .filter(|tid| *tid != owner.pid)
            .collect();
        let mut out = Vec::new();
        for tid in tids {
            let Some(task) = self.open_dir(&format!("{}/task/{tid}", owner.pid)) else {
                continue;
            };
            if let Some((entry, _)) = self.entry(task.as_fd(), tid, Some(owner)) {
                out.push(entry);
            }
        }
        out
    }

    /// Reads the entry in `dir` (a process's or a thread's directory). A thread takes its
    /// owner's command and user, and the owner's pid as its `ppid`.
    fn entry(
        &mut self,
        dir: BorrowedFd<'_>,
        pid: u32,
        owner: Option<&ProcessEntry>,
    ) -> Option<(ProcessEntry, u64)> {
        self.read(dir, "stat")?;
        let stat = String::from_utf8_lossy(&self.buf);
        // The name is in parentheses and may itself contain spaces or parentheses.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        // Field numbers from proc(5), minus the two before the fields slice (pid and comm).
        let state = state_name(fields.first()?);
        let ppid = field(1)? as u32;
        let cpu_ticks = field(11)? + field(12)?;
        let start_ticks = field(19)?;
        let rss_pages = field(21)?;
        drop(fields);
        drop(stat);
        self.read(dir, "status")?;
        let status_line = |key: &[u8]| -> Option<String> {
            self.buf
                .split(|&b| b == b'\n')
                .find_map(|l| l.strip_prefix(key))
                .and_then(|l| std::str::from_utf8(l).ok())
                .map(str::to_owned)
        };
        // The real uid: the first number of the `Uid:` line.
        let uid: u32 = status_line(b"Uid:")
            .and_then(|l| l.split_whitespace().next().and_then(|u| u.parse().ok()))?;
        // The pid in the innermost namespace: the last number of `NSpid:`.
        let ns_pid: Option<u32> = status_line(b"NSpid:")
            .and_then(|l| l.split_whitespace().last().and_then(|p| p.parse().ok()));
        let (command, user, ppid) = match owner {
            Some(o) => (o.command.clone(), o.user.clone(), o.pid),
            None => {
                let command = match self.read(dir, "cmdline") {
                    Some(()) => command_line(&self.buf),
                    None => String::new(),
                };
                (command, self.user_name(uid), ppid)
            }
        };
        let start = self.boot + start_ticks / self.ticks;
        let cpu_ms = cpu_ticks * 1000 / self.ticks;
        let alive_secs = self.now.saturating_sub(start);
        // In f32, as sysinfo (and so Rex) computes it.
        let historical = if alive_secs == 0 {
            0.0
        } else {
            f64::from(cpu_ms as f32 / (alive_secs * 1000) as f32 * 100.0)
        };
        let rss_bytes = rss_pages * self.page_size;
        let pid_namespace = ns_pid.and_then(|child_ns_pid| {
            namespace_id(dir).map(|namespace_id| PidNamespace {
                namespace_id,
                child_ns_pid,
            })
        });
        Some((
            ProcessEntry {
                pid,
                ppid,
                uid,
                user,
                name,
                command,
                state,
                cpu_seconds: cpu_ticks as f64 / self.ticks as f64,
                rss_bytes,
                memory_percent: percent_of(rss_bytes, self.total_memory),
                historical_cpu_usage: historical,
                recent_cpu_usage: None,
                start_time: start,
                pid_namespace,
            },
            start_ticks,
        ))
    }

    fn user_name(&mut self, uid: u32) -> String {
        self.users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(uid.into())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| uid.to_string())
            })
            .clone()
    }

    /// The CPU ticks (user plus system) of `pid`, or of thread `tid` of it.
    fn cpu_ticks(&mut self, pid: u32, tid: Option<u32>) -> Option<u64> {
        let path = match tid {
            Some(t) => format!("{pid}/task/{t}"),
            None => pid.to_string(),
        };
        let dir = self.open_dir(&path)?;
        self.read(dir.as_fd(), "stat")?;
        let stat = String::from_utf8_lossy(&self.buf);
        let close = stat.rfind(')')?;
        let fields: Vec<&str> = stat.get(close + 2..)?.split(' ').collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        Some(field(11)? + field(12)?)
    }
}

/// The inode number of the pid namespace of the process whose directory is `dir`
/// (`ns/pid` reads `pid:[4026531836]`). The kernel lets only a process allowed to trace the
/// other read it, so for other users' processes, or from a confined worker, it is `None`.
fn namespace_id(dir: BorrowedFd<'_>) -> Option<u64> {
    let target = rustix::fs::readlinkat(dir, "ns/pid", Vec::new()).ok()?;
    target
        .to_str()
        .ok()?
        .strip_prefix("pid:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Seconds since the epoch at boot; read once per listing (/proc/stat is costly to build).
#[allow(clippy::disallowed_methods)] // the kernel's clock, not a resource a policy names
fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

pub(crate) fn resource(p: &ProcessEntry) -> Resource {
    Resource::Process(ProcessInfo::new(
        p.pid,
        p.name.clone(),
        p.user.clone(),
        p.command.clone(),
    ))
}

/// The pids in /proc, in order.
// Lists the pids: see ProcReader for why the kernel's process table is read unasked.
#[allow(clippy::disallowed_methods)]
pub(crate) fn all_pids() -> HostResult<Vec<u32>> {
    let dir = fs::read_dir("/proc").map_err(|e| HostError::io("list", "/proc", e))?;
    let mut pids: Vec<u32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The signal named `signal` (a `kill::` flag's name).
fn signal_named(signal: &str) -> HostResult<Signal> {
    SIGNALS
        .iter()
        .find(|(name, _)| *name == signal)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            let names: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
            HostError::InvalidInput(format!(
                "unknown signal {signal:?}; use one of kill::{}",
                names.join(", kill::")
            ))
        })
}

/// HUP and INT ask a process to reload or stop: `interrupt`. Every other signal: `kill`.
fn signal_action(signal: &str) -> Action {
    if matches!(signal, "HUP" | "INT") {
        Action::ProcInterrupt
    } else {
        Action::ProcKill
    }
}

/// How long `monitor_processes_cpu` waits before its first measure, and between batches
/// when no delay is given: sysinfo's shortest interval, which Rex uses.
const CPU_INTERVAL: Duration = Duration::from_millis(200);

impl Host {
    /// `ps()`: every process the policy permits `process_system::Action::"list"` on.
    /// Processes it does not are left out (their denials are still recorded).
    pub fn ps(&self) -> HostResult<Vec<ProcessEntry>> {
        self.processes(ListOptions::default())
    }

    /// `ProcessManager().processes(options)`: as [`Host::ps`], with each listed process's
    /// threads after it and its pid namespace when `options` ask for them. A thread is
    /// listed when its process is: the decision is on the process.
    pub fn processes(&self, options: ListOptions) -> HostResult<Vec<ProcessEntry>> {
        let mut reader = ProcReader::new(boot_time().unwrap_or(0))?;
        let mut out = Vec::new();
        for pid in all_pids()? {
            self.interrupt.check()?;
            let Some((mut entry, _)) = reader.process(pid) else {
                continue;
            };
            if !self.may_list(&entry)? {
                continue;
            }
            if !options.namespaces {
                entry.pid_namespace = None;
            }
            let threads = if options.threads {
                reader.threads(&entry)
            } else {
                Vec::new()
            };
            out.push(entry);
            for mut t in threads {
                if !options.namespaces {
                    t.pid_namespace = None;
                }
                out.push(t);
            }
            self.bound_items(out.len(), "the process list")?;
        }
        Ok(out)
    }

    /// Whether the policy permits listing `entry`. A denial leaves it out; a decision that
    /// could not be recorded stops the caller: fail closed.
    pub(crate) fn may_list(&self, entry: &ProcessEntry) -> HostResult<bool> {
        match self.gate.authorize(&[Action::ProcList], &resource(entry)) {
            Ok(_) => Ok(true),
            Err(d) if d.unrecorded.is_some() => Err(d.into()),
            Err(_) => Ok(false),
        }
    }

    pub(crate) fn bound_items(&self, count: usize, what: &str) -> HostResult<()> {
        if count > self.limits.max_items {
            return Err(HostError::TooLarge {
                what: what.to_owned(),
                limit: format!("{} entries", self.limits.max_items),
            });
        }
        Ok(())
    }

    /// `kill(pid)`: sends `signal` (by its `kill::` name) to `pid`, and returns the name
    /// and pid of the process signalled. Needs `process_system::Action::"kill"`, or
    /// `"interrupt"` for HUP and INT, on the process.
    pub fn kill(&self, pid: i64, signal: &str) -> HostResult<(String, u32)> {
        let sig = signal_named(signal)?;
        let pid = u32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| HostError::InvalidInput(format!("{pid} is not a process id")))?;
        let mut reader = ProcReader::new(0)?;
        let (entry, started) = reader.process(pid).ok_or_else(|| HostError::NotFound {
            path: format!("process {pid}"),
        })?;
        let permit = self
            .gate
            .authorize(&[signal_action(signal)], &resource(&entry))?;
        signal_one(&mut reader, &permit, &entry, started, sig)?;
        Ok((entry.name, pid))
    }

    /// Rex's `ProcessManager().kill(KillOptions)` without a pid: sends `signal` to every
    /// process `which` matches, and returns the name (the command line when matching by
    /// command) and pid of each. Only processes the policy lets the script list are matched
    /// (`list` on each, as `ps()` asks); every match is asked about before any is signalled,
    /// and one denial stops the call with nothing signalled. No match is an error.
    pub fn kill_matching(
        &self,
        which: &ProcessMatch,
        signal: &str,
    ) -> HostResult<Vec<(String, u32)>> {
        let sig = signal_named(signal)?;
        let mut reader = ProcReader::new(0)?;
        let mut matched = Vec::new();
        for pid in all_pids()? {
            self.interrupt.check()?;
            // Never the run's own processes: a pattern would otherwise match the run itself.
            if crate::effect::is_own_process(pid) {
                continue;
            }
            if let Some((entry, started)) = reader.process(pid) {
                // Only a process the script may list is matched: a pattern must not tell
                // (in a denial, or in what it killed) what `ps()` would have hidden.
                if which.matches(&entry) && self.may_list(&entry)? {
                    matched.push((entry, started));
                    self.bound_items(matched.len(), "the processes matched")?;
                }
            }
        }
        if matched.is_empty() {
            return Err(HostError::NotFound {
                path: "a process matching the kill options".to_owned(),
            });
        }
        let action = signal_action(signal);
        let mut permits = Vec::with_capacity(matched.len());
        for (entry, _) in &matched {
            permits.push(self.gate.authorize(&[action], &resource(entry))?);
        }
        let mut killed = Vec::new();
        for ((entry, started), permit) in matched.iter().zip(&permits) {
            match signal_one(&mut reader, permit, entry, *started, sig) {
                Ok(()) => {
                    let label = if which.command.is_some() {
                        entry.command.clone()
                    } else {
                        entry.name.clone()
                    };
                    killed.push((label, entry.pid));
                }
                // Gone since it was read: there is nothing left to signal.
                Err(HostError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if killed.is_empty() {
            return Err(HostError::NotFound {
                path: "a process matching the kill options (those found have exited)".to_owned(),
            });
        }
        Ok(killed)
    }

    /// Rex's `monitor_processes_cpu`: `batches` measures of the CPU use of `pids` (and of
    /// their threads with `threads`), `delay` apart, the first after a short interval. Each
    /// batch holds the processes the policy permits `list` on that are still running.
    pub fn monitor_cpu(
        &self,
        pids: &[u32],
        batches: u32,
        delay: Duration,
        threads: bool,
    ) -> HostResult<Vec<Vec<ProcessEntry>>> {
        let mut reader = ProcReader::new(boot_time().unwrap_or(0))?;
        // (pid, thread id) of everything measured; a process's own row is (pid, None).
        let mut targets: Vec<(u32, Option<u32>)> = Vec::new();
        for &pid in pids {
            targets.push((pid, None));
            if threads {
                if let Some((entry, _)) = reader.process(pid) {
                    targets.extend(reader.threads(&entry).iter().map(|t| (pid, Some(t.pid))));
                }
            }
        }
        self.bound_items(targets.len() * batches as usize, "the measures")?;
        // A process measured with its threads counts its main thread only, as Rex does.
        let own = |t: &(u32, Option<u32>)| match t {
            (pid, None) if threads => (*pid, Some(*pid)),
            other => *other,
        };
        let mut last: Vec<Option<u64>> = targets
            .iter()
            .map(|t| {
                let (p, tid) = own(t);
                reader.cpu_ticks(p, tid)
            })
            .collect();
        let mut since = std::time::Instant::now();
        self.pause(CPU_INTERVAL)?;
        let mut out = Vec::new();
        for batch in 0..batches {
            let elapsed = since.elapsed().as_secs_f64();
            since = std::time::Instant::now();
            let mut rows = Vec::new();
            for (i, target) in targets.iter().enumerate() {
                self.interrupt.check()?;
                let (pid, tid) = *target;
                let (p, t) = own(target);
                let now = reader.cpu_ticks(p, t);
                let before = std::mem::replace(&mut last[i], now);
                let Some((mut entry, _)) = reader.process(pid) else {
                    continue;
                };
                if !self.may_list(&entry)? {
                    continue;
                }
                if let Some(tid) = tid {
                    let Some(thread) = reader.threads(&entry).into_iter().find(|e| e.pid == tid)
                    else {
                        continue;
                    };
                    entry = thread;
                }
                entry.pid_namespace = None;
                let used = match (before, now) {
                    (Some(b), Some(n)) if elapsed > 0.0 => {
                        n.saturating_sub(b) as f64 / reader.ticks as f64 / elapsed * 100.0
                    }
                    _ => 0.0,
                };
                // In f32, as sysinfo reports it.
                entry.recent_cpu_usage = Some(f64::from(used as f32));
                rows.push(entry);
            }
            out.push(rows);
            if batch + 1 < batches {
                self.pause(if delay.is_zero() { CPU_INTERVAL } else { delay })?;
            }
        }
        Ok(out)
    }

    /// Rex's `ipcs_info()`: the kernel's System V IPC tables (`/proc/sysvipc/shm`, `sem`,
    /// `msg`) as text, each under `read` on its file as every kernel table is read.
    pub fn ipcs(&self) -> HostResult<Ipcs> {
        Ok(Ipcs {
            shared_memory: self.read_table("/proc/sysvipc/shm")?,
            semaphores: self.read_table("/proc/sysvipc/sem")?,
            queues: self.read_table("/proc/sysvipc/msg")?,
        })
    }

    /// Rex's `trace(pid)`: every thread's stack of process `pid`. Asks `trace` on the
    /// process, as Rex does; the debugger (gdb, attached with ptrace(2), which the worker's
    /// seccomp filter refuses it) is then run by the host's supervisor, which decides the
    /// request again against the run's policy before it attaches (see
    /// [`crate::supervisor_call`]). Rex's `TraceOptions().ns_pid(n)` (a pid as another pid
    /// namespace numbers it) is `ns_pid`: refused, as the worker cannot read other processes'
    /// namespaces to map it.
    /// `open` on `/usr/bin` and `open` + `read` on the debugger the supervisor runs.
    fn tracer_permits(&self) -> HostResult<()> {
        let gdb = crate::fs::parse_path(crate::fs::formats::GDB)?;
        let dir = crate::fs::parse_path("/usr/bin")?;
        drop(
            self.gate
                .authorize(&[Action::FsOpen], &Resource::Dir(dir))?,
        );
        drop(
            self.gate
                .authorize(&[Action::FsOpen, Action::FsRead], &Resource::File(gdb))?,
        );
        Ok(())
    }

    pub fn trace(&self, pid: i64, ns_pid: Option<u32>) -> HostResult<TracedProcess> {
        let pid = u32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| HostError::InvalidInput(format!("{pid} is not a process id")))?;
        if let Some(ns) = ns_pid {
            return Err(refused(
                "trace",
                &format!("process {pid} in the pid namespace of process {ns}"),
                "a pid inside another pid namespace cannot be mapped by a confined worker; \
                 trace it by the pid the host gives it (ps() lists it), without TraceOptions",
            ));
        }
        let target = format!("process {pid}");
        let entry = Recheck::new()?
            .entry(pid)
            .ok_or_else(|| HostError::NotFound {
                path: target.clone(),
            })?;
        let permit = self
            .gate
            .authorize(&[Action::ProcTrace], &resource(&entry))?;
        // The tracer is a binary the policy decides on too, as Rex opens its `gstack` for
        // reading: a policy that keeps scripts from the debugger keeps them from tracing.
        self.tracer_permits()?;
        let call = SupervisorCall::Trace {
            pid,
            start_time: entry.start_time,
        };
        let SupervisorAnswer::Trace(out) =
            self.supervisor_call(&permit, &call, "trace", &target)?
        else {
            return Err(HostError::io(
                "trace",
                &target,
                std::io::Error::other("the supervisor answered another question"),
            ));
        };
        let mut traced = crate::fs::formats::parse_backtrace(&out).ok_or_else(|| {
            HostError::io(
                "trace",
                &target,
                std::io::Error::other(format!(
                    "gdb found no stack: {}",
                    out.lines().last().unwrap_or("no output")
                )),
            )
        })?;
        traced.pid.get_or_insert(pid);
        Ok(traced)
    }

    /// Rex's `nsenter(options, callback)`: refused. It runs the script's callback inside
    /// another process's namespaces, entered with setns(2): the worker's seccomp filter
    /// refuses that (and it would move the whole run, gate and log included), and the
    /// supervisor cannot do it for the worker as it does `trace` and `unmount`, because the
    /// callback is script code that runs in the worker's engine. Nothing is asked of the gate
    /// and no namespace is entered.
    pub fn nsenter(&self, target: &str) -> HostResult<()> {
        Err(refused(
            "nsenter",
            target,
            "entering a namespace needs setns(2), which a confined worker may not call, and the \
             callback is script code that only the worker runs, so the supervisor cannot enter \
             the namespace for it",
        ))
    }

    /// Waits `length`, or until the run is stopped or its time is up.
    fn pause(&self, length: Duration) -> HostResult<()> {
        let end = std::time::Instant::now() + self.interrupt.bound(length);
        loop {
            self.interrupt.check()?;
            let left = end.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return self.interrupt.check_deadline();
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

/// The System V IPC tables, as the kernel prints them (Rex's `IpcsInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ipcs {
    pub shared_memory: String,
    pub semaphores: String,
    pub queues: String,
}

/// An operation Tollgate does not carry out in a confined worker, and why.
fn refused(op: &'static str, target: &str, why: &str) -> HostError {
    HostError::io(
        op,
        target,
        std::io::Error::new(std::io::ErrorKind::Unsupported, format!("refused: {why}")),
    )
}

/// Signals the process `entry` (read with start time `started`) through a pidfd, under
/// `permit`. A process gone, or whose pid now names another, is `NotFound`.
fn signal_one(
    reader: &mut ProcReader,
    permit: &Permit,
    entry: &ProcessEntry,
    started: u64,
    sig: Signal,
) -> HostResult<()> {
    let pid = entry.pid;
    let not_found = || HostError::NotFound {
        path: format!("process {pid}"),
    };
    let raw = Pid::from_raw(pid as i32).ok_or_else(not_found)?;
    let pidfd = rustix::process::pidfd_open(raw, PidfdFlags::empty()).map_err(|_| not_found())?;
    // The pidfd pins one process. If the pid now names another one (the first exited and
    // the number was reused), its start time differs: refuse.
    match reader.process(pid) {
        Some((_, now)) if now == started => {}
        _ => {
            return Err(HostError::InvalidInput(format!(
                "process {pid} exited after it was checked; nothing was signalled"
            )))
        }
    }
    crate::effect::signal(permit, &resource(entry), &pidfd, sig)
        .map_err(|e| HostError::io("signal", format!("process {pid}"), e))
}

/// Tells whether the processes a listing found are still the ones with their pids: a pid is
/// reused once its process is gone, and what was decided on one must not be read of another.
/// One reader (and one look at the boot time) for a whole listing.
pub(crate) struct Recheck(ProcReader);

impl Recheck {
    pub(crate) fn new() -> HostResult<Recheck> {
        Ok(Recheck(ProcReader::new(boot_time().unwrap_or(0))?))
    }

    /// The process `pid` as it is now, `None` if there is none.
    pub(crate) fn entry(&mut self, pid: u32) -> Option<ProcessEntry> {
        self.0.process(pid).map(|(e, _)| e)
    }

    pub(crate) fn still_running(&mut self, entry: &ProcessEntry) -> bool {
        self.0
            .process(entry.pid)
            .is_some_and(|(now, _)| now.start_time == entry.start_time && now.name == entry.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_lose_the_program_directory_only() {
        assert_eq!(command_line(b"/usr/bin/sleep\x00300\x00"), "sleep 300");
        assert_eq!(command_line(b"sh\0-c\0/bin/true x\0"), "sh -c /bin/true x");
        assert_eq!(command_line(b""), "");
    }

    #[test]
    fn states_have_sysinfo_names() {
        assert_eq!(state_name("R"), "Run");
        assert_eq!(state_name("S"), "Sleep");
        assert_eq!(state_name("D"), "UninterruptibleDiskSleep");
        assert_eq!(state_name("?"), "Unknown(63)");
    }

    #[test]
    fn memory_share_is_truncated_to_two_decimals() {
        assert_eq!(percent_of(1, 3), 33.33);
        assert_eq!(percent_of(5, 0), 0.0);
    }
}
