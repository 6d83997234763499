//! System information: uname, host name, processor count, memory, uptime, load. Each reads
//! after `sysinfo::Action::"list"` is permitted on `sysinfo::Uname` (kernel and host name)
//! or `sysinfo::Sysinfo` (everything else).

use std::fs;

use tollgate_policy::{Action, Resource};

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

fn read(path: &str) -> HostResult<String> {
    fs::read_to_string(path).map_err(|e| HostError::io("read", path, e))
}

fn malformed(path: &str) -> HostError {
    HostError::Io {
        op: "parse",
        path: path.to_owned(),
        source: std::io::Error::other("unexpected format"),
    }
}

impl Host {
    fn allow_list(&self, resource: Resource) -> HostResult<()> {
        self.interrupt.check()?;
        self.gate.authorize(&[Action::SysinfoList], &resource)?;
        Ok(())
    }

    pub fn uname(&self) -> HostResult<Uname> {
        self.allow_list(Resource::Uname)?;
        let u = rustix::system::uname();
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
        self.allow_list(Resource::Sysinfo)?;
        std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .map_err(|e| HostError::io("count processors", "/sys", e))
    }

    pub fn free(&self) -> HostResult<Memory> {
        self.allow_list(Resource::Sysinfo)?;
        let text = read("/proc/meminfo")?;
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
        self.allow_list(Resource::Sysinfo)?;
        read("/proc/uptime")?
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
        self.gate.authorize(
            &[Action::SysinfoResolveHostname],
            &Resource::Hostname(name.clone()),
        )?;
        let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 0))
            .map_err(|e| HostError::io("resolve", &name, e))?;
        let mut out: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn loadavg(&self) -> HostResult<LoadAverage> {
        self.allow_list(Resource::Sysinfo)?;
        let text = read("/proc/loadavg")?;
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
