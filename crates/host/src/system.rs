//! System information. As in Rex: uname, host name and processor count need
//! `sysinfo::Action::"list"` on `sysinfo::Sysinfo`; what is read from a kernel file (memory,
//! uptime, load, kernel statistics) needs `read` on that file; `resolve` needs
//! `resolve_hostname` on the name. Kernel messages, slab caches and sysctl keys are in
//! [`crate::kernel`] and [`crate::sysctl`].

use tollgate_policy::sdk_actions::{KERNEL_TABLE, SYSINFO};
use tollgate_policy::{AbsPath, Action, Resource};

use crate::error::{HostError, HostResult};
use crate::Host;

/// `uname()`, with Rex's eight fields: the kernel gives five, and on Linux the processor and
/// hardware platform are the machine, the operating system `GNU/Linux`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uname {
    pub kernel_name: String,
    pub nodename: String,
    pub kernel_release: String,
    pub kernel_version: String,
    pub machine: String,
    pub processor: String,
    pub hardware_platform: String,
    pub operating_system: String,
}

/// Memory and swap from `/proc/meminfo`, in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub total: u64,
    pub free: u64,
    /// `MemAvailable`, 0 on a kernel that does not report it (as Rex).
    pub available: u64,
    pub buffers: u64,
    pub cached: u64,
    /// `Shmem`.
    pub shared: u64,
    pub swap_total: u64,
    pub swap_free: u64,
}

impl Memory {
    /// What is in use: all but what is available (Rex's `used`).
    pub fn used(&self) -> u64 {
        self.total.saturating_sub(self.available)
    }

    pub fn swap_used(&self) -> u64 {
        self.swap_total.saturating_sub(self.swap_free)
    }
}

/// `loadavg()`.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadAverage {
    pub one: f64,
    pub five: f64,
    pub fifteen: f64,
}

/// How a name is resolved (Rex's `ResolveOptions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolveRequest {
    pub hostname: String,
    /// A resolver's address instead of the system's; refused (see [`Host::resolve_with`]).
    pub resolver: Option<String>,
    /// Seconds the lookup may take (Rex's default is 5), within what is left of the run's
    /// time; past it the call fails with `TimedOut`.
    pub timeout_secs: u64,
}

pub(crate) fn malformed(path: &str) -> HostError {
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
        let machine = text(u.machine());
        Ok(Uname {
            kernel_name: text(u.sysname()),
            nodename: text(u.nodename()),
            kernel_release: text(u.release()),
            kernel_version: text(u.version()),
            processor: machine.clone(),
            hardware_platform: machine.clone(),
            machine,
            operating_system: "GNU/Linux".to_owned(),
        })
    }

    pub fn hostname(&self) -> HostResult<String> {
        self.uname().map(|u| u.nodename)
    }

    pub fn nproc(&self) -> HostResult<u64> {
        self.sysinfo(|| std::thread::available_parallelism().map(|n| n.get() as u64))
    }

    /// `free()`, `memory_info()`, `swap_info()`: after `read` on `/proc/meminfo`.
    pub fn free(&self) -> HostResult<Memory> {
        let text = self.read_table("/proc/meminfo")?;
        parse_meminfo(&text).ok_or_else(|| malformed("/proc/meminfo"))
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
        self.resolve_with(&ResolveRequest {
            hostname: host.to_owned(),
            resolver: None,
            timeout_secs: 5,
        })
    }

    /// `SystemInfo().resolve_hostname(options)`. Only the system's resolver is used: a
    /// resolver the script names would be a connection to an address no policy was asked
    /// about (Rex sends it the query after checking only the name), so it is refused.
    pub fn resolve_with(&self, request: &ResolveRequest) -> HostResult<Vec<String>> {
        let host = request.hostname.as_str();
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
        if let Some(resolver) = &request.resolver {
            return Err(HostError::InvalidInput(format!(
                "resolver {resolver:?}: Tollgate resolves names only through the system's resolver (a query to another server is a connection no policy is asked about); leave resolver out"
            )));
        }
        if request.timeout_secs == 0 {
            return Err(HostError::InvalidInput(
                "the resolve timeout must be at least one second".into(),
            ));
        }
        self.interrupt.check()?;
        let name = host.to_ascii_lowercase();
        let permit = self.gate.authorize(
            &[Action::SysinfoResolveHostname],
            &Resource::Hostname(name.clone()),
        )?;
        let wait = self
            .interrupt
            .bound(std::time::Duration::from_secs(request.timeout_secs));
        let addrs = match crate::effect::lookup(&permit, &name, wait) {
            Ok(addrs) => addrs,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                // The run's time, not the call's own timeout, may be what ran out.
                self.interrupt.check_deadline()?;
                return Err(HostError::TimedOut(format!(
                    "resolving {name}: the system's resolver gave no answer within {} s (ResolveOptions().timeout)",
                    request.timeout_secs
                )));
            }
            Err(e) => return Err(HostError::io("resolve", &name, e)),
        };
        let mut out: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
        out.sort();
        out.dedup();
        Ok(out)
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

/// `/proc/meminfo` in bytes (the kernel gives kB); `None` without `MemTotal`.
fn parse_meminfo(text: &str) -> Option<Memory> {
    let kib = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|v| v * 1024)
    };
    Some(Memory {
        total: kib("MemTotal")?,
        free: kib("MemFree").unwrap_or(0),
        available: kib("MemAvailable").unwrap_or(0),
        buffers: kib("Buffers").unwrap_or(0),
        cached: kib("Cached").unwrap_or(0),
        shared: kib("Shmem").unwrap_or(0),
        swap_total: kib("SwapTotal").unwrap_or(0),
        swap_free: kib("SwapFree").unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_is_read_in_bytes_by_exact_key() {
        let text = "MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\nBuffers:          10 kB\nCached:           20 kB\nSwapCached:        7 kB\nShmem:             3 kB\nSwapTotal:       100 kB\nSwapFree:         40 kB\n";
        let m = parse_meminfo(text).unwrap();
        assert_eq!(m.total, 1000 * 1024);
        assert_eq!(m.cached, 20 * 1024, "SwapCached is not Cached");
        assert_eq!(m.shared, 3 * 1024);
        assert_eq!(m.used(), 400 * 1024);
        assert_eq!(m.swap_used(), 60 * 1024);
        assert!(parse_meminfo("MemFree: 1 kB\n").is_none());
    }
}
