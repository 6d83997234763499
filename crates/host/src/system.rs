//! System information. As in Rex: uname, host name and processor count need
//! `sysinfo::Action::"list"` on `sysinfo::Sysinfo`; what is read from a kernel file (memory,
//! uptime, load, kernel messages, sysctl keys) needs `read` on that file; `resolve` needs
//! `resolve_hostname` on the name; writing a sysctl key needs `open` + `write` on its file.

use std::io::Read;

use tollgate_policy::sdk_actions::{KERNEL_TABLE, SYSINFO};
use tollgate_policy::{AbsPath, Action, Resource};

use crate::error::{HostError, HostResult};
use crate::Host;

/// `uname()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uname {
    pub sysname: String,
    pub nodename: String,
    pub release: String,
    pub version: String,
    pub machine: String,
}

/// `free()`, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    pub free: u64,
    pub available: u64,
    pub used: u64,
    pub buffers: u64,
    pub cached: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

/// `loadavg()`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

/// The /proc/sys file of a sysctl key such as `net.ipv4.ip_forward`.
fn sysctl_path(key: &str) -> HostResult<String> {
    let valid = !key.is_empty()
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !valid {
        return Err(HostError::InvalidInput(format!(
            "{key:?} is not a sysctl key (dot-separated names, e.g. vm.swappiness)"
        )));
    }
    Ok(format!("/proc/sys/{}", key.replace('.', "/")))
}

fn malformed(path: &str) -> HostError {
    HostError::Io {
        op: "parse",
        path: path.to_owned(),
        source: std::io::Error::other("unexpected format"),
    }
}

impl Host {
    /// Reads what the system says about itself with `read`, after `sysinfo::Action::"list"`.
    pub(crate) fn sysinfo<T>(&self, read: impl FnOnce() -> std::io::Result<T>) -> HostResult<T> {
        self.interrupt.check()?;
        let permit = self.gate.authorize(SYSINFO, &Resource::Sysinfo)?;
        crate::effect::sysinfo(&permit, read).map_err(|e| HostError::io("read", "sysinfo", e))
    }

    /// Reads a kernel table after `read` on it. These are fixed paths the kernel provides
    /// (`/proc/mounts` is itself a link into `/proc/self`), so they are read directly.
    pub(crate) fn read_table(&self, path: &str) -> HostResult<String> {
        self.interrupt.check()?;
        let file = Resource::File(AbsPath::parse(path)?);
        let permit = self.gate.authorize(KERNEL_TABLE, &file)?;
        crate::effect::read_kernel(&permit, &file, path).map_err(|e| HostError::io("read", path, e))
    }

    pub fn uname(&self) -> HostResult<Uname> {
        let u = self.sysinfo(|| Ok(rustix::system::uname()))?;
        let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
        Ok(Uname {
            sysname: text(u.sysname()),
            nodename: text(u.nodename()),
            release: text(u.release()),
            version: text(u.version()),
            machine: text(u.machine()),
        })
    }

    pub fn hostname(&self) -> HostResult<String> {
        self.uname().map(|u| u.nodename)
    }

    pub fn nproc(&self) -> HostResult<u64> {
        self.sysinfo(|| std::thread::available_parallelism().map(|n| n.get() as u64))
    }

    pub fn free(&self) -> HostResult<Memory> {
        let text = self.read_table("/proc/meminfo")?;
        let kib = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|v| v * 1024)
        };
        let total = kib("MemTotal:").ok_or_else(|| malformed("/proc/meminfo"))?;
        let free = kib("MemFree:").unwrap_or(0);
        let available = kib("MemAvailable:").unwrap_or(free);
        Ok(Memory {
            total,
            free,
            available,
            used: total.saturating_sub(available),
            buffers: kib("Buffers:").unwrap_or(0),
            cached: kib("Cached:").unwrap_or(0),
            swap_total: kib("SwapTotal:").unwrap_or(0),
            swap_free: kib("SwapFree:").unwrap_or(0),
        })
    }

    /// Seconds since boot.
    pub fn uptime(&self) -> HostResult<f64> {
        self.read_table("/proc/uptime")?
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| malformed("/proc/uptime"))
    }

    /// `resolve(host)`: the addresses of a host name, after
    /// `sysinfo::Action::"resolve_hostname"` on `sysinfo::Hostname::"<host>"`.
    pub fn resolve(&self, host: &str) -> HostResult<Vec<String>> {
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !valid {
            return Err(HostError::InvalidInput(format!(
                "{host:?} is not a host name (letters, digits, '-' and '.', at most 253 characters)"
            )));
        }
        self.interrupt.check()?;
        let name = host.to_ascii_lowercase();
        let permit = self.gate.authorize(
            &[Action::SysinfoResolveHostname],
            &Resource::Hostname(name.clone()),
        )?;
        let addrs = crate::effect::lookup(&permit, &name)
            .map_err(|e| HostError::io("resolve", &name, e))?;
        let mut out: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// `sysctl_read(key)`: a file read of its /proc/sys file (`open` on the directory,
    /// `open` + `read` on the file).
    pub fn sysctl_read(&self, key: &str) -> HostResult<String> {
        let mut file = self.open_read(&sysctl_path(key)?)?;
        let text = crate::fs::text::cat(&mut file, false, &self.text_ctx())?;
        Ok(text.trim_end_matches('\n').to_owned())
    }

    /// `sysctl_write(key, value)`: replaces the value (`open` + `write` on its file).
    pub fn sysctl_write(&self, key: &str, value: &str) -> HostResult<()> {
        self.overwrite(&sysctl_path(key)?, value)
    }

    /// `dmesg()`: the kernel's message buffer, after `read` on `/dev/kmsg`; at most
    /// `max_items` of the newest messages.
    pub fn dmesg(&self) -> HostResult<Vec<String>> {
        const KMSG: &str = "/dev/kmsg";
        self.interrupt.check()?;
        let kmsg = Resource::File(AbsPath::parse(KMSG)?);
        let permit = self.gate.authorize(KERNEL_TABLE, &kmsg)?;
        let mut file = crate::effect::open_kernel(&permit, &kmsg)
            .map_err(|e| HostError::io("open", KMSG, e))?;
        let mut out = std::collections::VecDeque::new();
        // Each read returns one record: "priority,sequence,microseconds,flags;message".
        let mut buf = vec![0u8; 8192];
        loop {
            self.interrupt.check()?;
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let record = String::from_utf8_lossy(&buf[..n]);
                    let message = record.split_once(';').map_or(&*record, |(_, m)| m);
                    let first_line = message.lines().next().unwrap_or("").to_owned();
                    out.push_back(first_line);
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

    pub fn loadavg(&self) -> HostResult<LoadAverage> {
        let text = self.read_table("/proc/loadavg")?;
        let v: Vec<f64> = text
            .split_whitespace()
            .take(3)
            .filter_map(|x| x.parse().ok())
            .collect();
        match v[..] {
            [one, five, fifteen] => Ok(LoadAverage { one, five, fifteen }),
            _ => Err(malformed("/proc/loadavg")),
        }
    }
}
