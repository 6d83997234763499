//! What the kernel reports about itself: its message buffer (`dmesg`), its counters
//! (`/proc/stat`) and its slab caches (`/proc/slabinfo`). As in Rex: the messages need
//! `read` on `/dev/kmsg`, the counters `read` on `/proc/stat`, and the slab caches are a file
//! read (`open` on `/proc`, `open` + `read` on `/proc/slabinfo`).

use std::io::Read;

use tollgate_policy::sdk_actions::KERNEL_TABLE;
use tollgate_policy::{AbsPath, Resource};

use crate::error::{HostError, HostResult};
use crate::system::malformed;
use crate::Host;

/// One kernel message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelMessage {
    /// Microseconds since boot.
    pub micros: u64,
    pub message: String,
}

impl KernelMessage {
    /// Seconds since boot as `dmesg` prints them: right-aligned, six decimals.
    pub fn since_boot(&self) -> String {
        format!("{:>12.6}", self.micros as f64 / 1e6)
    }

    /// The wall-clock time of the message in local time, `Fri Dec 04 01:16:47 2026`; `None`
    /// when the clocks cannot be read.
    pub fn wall_clock(&self) -> Option<String> {
        let boot = boot_time_micros()?;
        let secs = (boot + self.micros as i64) / 1_000_000;
        local_time(secs)
    }
}

/// CPU time of one processor or of all, in clock ticks and in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuTime {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

/// The counters of `/proc/stat`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    pub total: CpuTime,
    pub per_cpu: Vec<CpuTime>,
    pub procs_running: u64,
    pub procs_blocked: u64,
    pub context_switches: u64,
    /// Seconds since the epoch.
    pub boot_time: u64,
    pub forks: u64,
}

/// One cache of `/proc/slabinfo` (version 2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlabCache {
    pub name: String,
    pub active_objs: u64,
    pub num_objs: u64,
    pub obj_size: u64,
    pub obj_per_slab: u64,
    pub pages_per_slab: u64,
    pub active_slabs: u64,
    pub num_slabs: u64,
}

/// Clock ticks per second (`USER_HZ`), for turning ticks into milliseconds.
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 {
        hz as u64
    } else {
        100
    }
}

fn clock_micros(clock: libc::clockid_t) -> Option<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec the call writes into.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000)
}

/// When the system booted, in microseconds since the epoch: the wall clock less the time
/// since boot (no file is read for it).
fn boot_time_micros() -> Option<i64> {
    Some(clock_micros(libc::CLOCK_REALTIME)? - clock_micros(libc::CLOCK_BOOTTIME)?)
}

/// Seconds since boot, from the kernel's clock.
pub fn seconds_since_boot() -> f64 {
    clock_micros(libc::CLOCK_BOOTTIME).map_or(0.0, |m| m as f64 / 1e6)
}

/// `secs` (since the epoch) in local time as `%a %b %d %H:%M:%S %Y`.
fn local_time(secs: i64) -> Option<String> {
    // SAFETY: tm is a plain struct localtime_r fills; the format is a NUL-terminated literal
    // and strftime writes at most buf.len() bytes.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t: libc::time_t = secs;
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        let mut buf = [0u8; 64];
        let n = libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%a %b %d %H:%M:%S %Y".as_ptr(),
            &tm,
        );
        (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

impl Host {
    /// `dmesg()`: the kernel's message buffer, after `read` on `/dev/kmsg`; at most
    /// `max_items` of the newest messages. Records without text are left out (as Rex).
    pub fn dmesg(&self) -> HostResult<Vec<KernelMessage>> {
        const KMSG: &str = "/dev/kmsg";
        self.interrupt.check()?;
        let kmsg = Resource::File(AbsPath::parse(KMSG)?);
        let permit = self.gate.authorize(KERNEL_TABLE, &kmsg)?;
        let mut file = crate::effect::open_kernel(&permit, &kmsg)
            .map_err(|e| HostError::io("open", KMSG, e))?;
        let mut out = std::collections::VecDeque::new();
        // Each read returns one record: "priority,sequence,microseconds,flags;message", then
        // continuation lines (" KEY=value") that are not part of the text.
        let mut buf = vec![0u8; 8192];
        loop {
            self.interrupt.check()?;
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let Some((head, text)) = record.split_once(';') else {
                        continue;
                    };
                    let micros = head.split(',').nth(2).and_then(|v| v.parse().ok());
                    let message = text.lines().next().unwrap_or("");
                    let (Some(micros), false) = (micros, message.is_empty()) else {
                        continue;
                    };
                    out.push_back(KernelMessage {
                        micros,
                        message: message.to_owned(),
                    });
                    if out.len() > self.limits.max_items {
                        out.pop_front();
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // A record overwritten while we read it: skip to the next.
                Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PIPE.raw_os_error()) => {}
                Err(e) => return Err(HostError::io("read", KMSG, e)),
            }
        }
        Ok(out.into())
    }

    /// `SystemInfo().kernel_stats()`: after `read` on `/proc/stat`.
    pub fn kernel_stats(&self) -> HostResult<KernelStats> {
        let text = self.read_table("/proc/stat")?;
        parse_stat(&text).ok_or_else(|| malformed("/proc/stat"))
    }

    /// `SystemInfo().slab_info()`: the caches of `/proc/slabinfo`, read as a file (`open` on
    /// `/proc`, `open` + `read` on the file; the kernel lets only root read it).
    pub fn slab_info(&self) -> HostResult<Vec<SlabCache>> {
        const SLABINFO: &str = "/proc/slabinfo";
        let mut file = self.open_read(SLABINFO)?;
        let text = crate::fs::text::cat(&mut file, false, &self.text_ctx())?;
        parse_slabinfo(&text).map_err(|why| HostError::Io {
            op: "parse",
            path: SLABINFO.to_owned(),
            source: std::io::Error::other(why),
        })
    }
}

fn parse_cpu(fields: &[&str]) -> CpuTime {
    let n = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    CpuTime {
        user: n(0),
        nice: n(1),
        system: n(2),
        idle: n(3),
        iowait: n(4),
        irq: n(5),
        softirq: n(6),
        steal: n(7),
        guest: n(8),
        guest_nice: n(9),
    }
}

fn parse_stat(text: &str) -> Option<KernelStats> {
    let mut stats = KernelStats::default();
    let mut saw_total = false;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(key) = words.next() else { continue };
        let rest: Vec<&str> = words.collect();
        let first = || {
            rest.first()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        match key {
            "cpu" => {
                stats.total = parse_cpu(&rest);
                saw_total = true;
            }
            k if k.starts_with("cpu") => stats.per_cpu.push(parse_cpu(&rest)),
            "ctxt" => stats.context_switches = first(),
            "btime" => stats.boot_time = first(),
            "processes" => stats.forks = first(),
            "procs_running" => stats.procs_running = first(),
            "procs_blocked" => stats.procs_blocked = first(),
            _ => {}
        }
    }
    saw_total.then_some(stats)
}

/// The caches of a version 2.1 `/proc/slabinfo`, the most objects first.
fn parse_slabinfo(text: &str) -> Result<Vec<SlabCache>, String> {
    let mut lines = text.lines();
    let version = lines
        .next()
        .and_then(|l| l.rsplit(|c: char| c == ':' || c.is_whitespace()).next())
        .ok_or("no version line")?;
    if version.trim() != "2.1" {
        return Err(format!(
            "slabinfo version {version} is not supported (only 2.1)"
        ));
    }
    let header = lines.next().ok_or("no header line")?;
    let columns: Vec<&str> = header
        .split_whitespace()
        .filter_map(|w| w.strip_prefix('<')?.strip_suffix('>'))
        .collect();
    let col = |name: &str| {
        columns
            .iter()
            .position(|c| *c == name)
            .ok_or(format!("no {name} column"))
    };
    let at = [
        col("active_objs")?,
        col("num_objs")?,
        col("objsize")?,
        col("objperslab")?,
        col("pagesperslab")?,
        col("active_slabs")?,
        col("num_slabs")?,
    ];
    let mut out = Vec::new();
    for line in lines {
        let mut words = line.split_whitespace();
        let Some(name) = words.next() else { continue };
        let numbers: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
        let v = |i: usize| {
            numbers
                .get(at[i])
                .copied()
                .ok_or(format!("cache {name} lacks a field"))
        };
        out.push(SlabCache {
            name: name.to_owned(),
            active_objs: v(0)?,
            num_objs: v(1)?,
            obj_size: v(2)?,
            obj_per_slab: v(3)?,
            pages_per_slab: v(4)?,
            active_slabs: v(5)?,
            num_slabs: v(6)?,
        });
    }
    if out.is_empty() {
        return Err("no caches".into());
    }
    out.sort_by_key(|c| std::cmp::Reverse(c.num_objs));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_counters_are_read_by_name() {
        let text = "cpu  10 2 3 40 5 6 7 8 9 1\ncpu0 5 1 1 20 2 3 3 4 4 0\ncpu1 5 1 2 20 3 3 4 4 5 1\nintr 1 2\nctxt 99\nbtime 1700000000\nprocesses 12\nprocs_running 2\nprocs_blocked 1\n";
        let s = parse_stat(text).unwrap();
        assert_eq!(s.total.user, 10);
        assert_eq!(s.total.guest_nice, 1);
        assert_eq!(s.per_cpu.len(), 2);
        assert_eq!(s.per_cpu[1].system, 2);
        assert_eq!(
            (s.context_switches, s.boot_time, s.forks),
            (99, 1_700_000_000, 12)
        );
        assert_eq!((s.procs_running, s.procs_blocked), (2, 1));
        assert!(parse_stat("ctxt 1\n").is_none());
    }

    #[test]
    fn slabinfo_caches_come_most_objects_first() {
        let text = "slabinfo - version: 2.1\n# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\nsmall   10  20  64  64  1 : tunables 0 0 0 : slabdata 1 1 0\nbig    100 200 128  32  1 : tunables 0 0 0 : slabdata 7 7 0\n";
        let caches = parse_slabinfo(text).unwrap();
        assert_eq!(caches[0].name, "big");
        assert_eq!(caches[0].active_slabs, 7);
        assert_eq!(caches[1].obj_size, 64);
        assert!(parse_slabinfo("slabinfo - version: 1.1\n").is_err());
    }

    #[test]
    fn message_times_print_as_dmesg_does() {
        let m = KernelMessage {
            micros: 1_500_000,
            message: "x".into(),
        };
        assert_eq!(m.since_boot(), "    1.500000");
        assert!(m.wall_clock().is_some_and(|t| t.len() >= 24));
    }
}
