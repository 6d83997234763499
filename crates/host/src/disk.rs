//! Disks: `df` (file system usage per mount), `lsblk` (block devices), `iostat` (I/O counters).
//!
//! As in Rex, reading the kernel's tables needs `read` on them (`/proc/mounts`,
//! `/proc/diskstats`, the `/sys/block` directory), and `df` needs `stat` on each mount point;
//! mounts the policy does not let the principal stat are left out.

use tollgate_policy::sdk_actions::KERNEL_TABLE;
use tollgate_policy::{AbsPath, Action, Resource};

use crate::error::{HostError, HostResult};
use crate::fs::OpenMode;
use crate::Host;

/// One mounted file system, sizes in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub filesystem: String,
    pub mount_point: String,
    pub fs_type: String,
    pub size_bytes: u64,
    pub used_bytes: u64,
    pub available_bytes: u64,
    pub inodes: u64,
    pub inodes_free: u64,
}

/// One block device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDevice {
    pub name: String,
    pub size_bytes: u64,
    pub removable: bool,
    pub read_only: bool,
}

/// I/O counters of one block device since boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskStats {
    pub device: String,
    pub reads_completed: u64,
    pub sectors_read: u64,
    pub read_ms: u64,
    pub writes_completed: u64,
    pub sectors_written: u64,
    pub write_ms: u64,
    pub io_in_progress: u64,
    pub io_ms: u64,
}

/// `/proc/mounts` escapes space, tab, newline and backslash as octal.
fn unescape(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if let Ok(byte) = u8::from_str_radix(&digits, 8) {
                out.push(byte as char);
                chars.nth(2);
                continue;
            }
        }
        out.push(c);
    }
    out
}

impl Host {
    /// `df()`: usage of every mounted file system whose mount point the policy lets the
    /// principal `stat`.
    pub fn df(&self) -> HostResult<Vec<Mount>> {
        let table = self.read_table("/proc/mounts")?;
        let mut out = Vec::new();
        for line in table.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            let [device, mount_point, fs_type, ..] = f[..] else {
                continue;
            };
            let Ok(path) = AbsPath::parse(&unescape(mount_point)) else {
                continue;
            };
            let permit = match self.gate.authorize(&[Action::FsStat], &Resource::Dir(path)) {
                Ok(p) => p,
                Err(d) if d.unrecorded.is_some() => return Err(d.into()),
                Err(_) => continue,
            };
            // A mount point that cannot be opened without crossing a link is skipped.
            let Ok(fd) = self.root.open(&permit, OpenMode::Stat) else {
                continue;
            };
            let Ok(st) = rustix::fs::fstatvfs(&fd) else {
                continue;
            };
            let unit = st.f_frsize.max(1);
            let size = st.f_blocks * unit;
            let free = st.f_bfree * unit;
            out.push(Mount {
                filesystem: unescape(device),
                mount_point: unescape(mount_point),
                fs_type: fs_type.to_owned(),
                size_bytes: size,
                used_bytes: size.saturating_sub(free),
                available_bytes: st.f_bavail * unit,
                inodes: st.f_files,
                inodes_free: st.f_ffree,
            });
        }
        Ok(out)
    }

    /// `lsblk()`: block devices, after `read` on the `/sys/block` directory.
    pub fn lsblk(&self) -> HostResult<Vec<BlockDevice>> {
        let block = Resource::Dir(AbsPath::parse("/sys/block")?);
        let permit = self.gate.authorize(KERNEL_TABLE, &block)?;
        let names = crate::effect::list_kernel(&permit, &block)
            .map_err(|e| HostError::io("list", "/sys/block", e))?;
        let mut out = Vec::new();
        for name in names {
            let attr = |a: &str| {
                crate::effect::read_kernel(&permit, &block, &format!("/sys/block/{name}/{a}"))
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            out.push(BlockDevice {
                size_bytes: attr("size") * 512,
                removable: attr("removable") == 1,
                read_only: attr("ro") == 1,
                name,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `iostat()`: per-device I/O counters from `/proc/diskstats`.
    pub fn iostat(&self) -> HostResult<Vec<DiskStats>> {
        let table = self.read_table("/proc/diskstats")?;
        Ok(table
            .lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split_whitespace().collect();
                let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
                Some(DiskStats {
                    device: (*f.get(2)?).to_owned(),
                    reads_completed: n(3)?,
                    sectors_read: n(5)?,
                    read_ms: n(6)?,
                    writes_completed: n(7)?,
                    sectors_written: n(9)?,
                    write_ms: n(10)?,
                    io_in_progress: n(11)?,
                    io_ms: n(12)?,
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_fields_are_unescaped() {
        assert_eq!(unescape(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape(r"a\134b"), r"a\b");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
