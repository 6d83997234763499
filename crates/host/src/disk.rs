//! Disks: `df` and `Filesystems` (file system usage per mount), `lsblk` (block devices),
//! `iostat` (CPU and per-device I/O rates since boot).
//!
//! As in Rex: the mount table needs `read` on `/proc/mounts` and each file system listed
//! needs `stat` on its mount point; `iostat` needs `read` on `/proc/stat` and
//! `/proc/diskstats`. `lsblk` reads `/proc/partitions`, `/proc/mounts` and `/proc/swaps`
//! (`read` on each) and the devices' attributes under `/sys/dev/block` (`read` on that
//! directory).

use tollgate_policy::sdk_actions::KERNEL_TABLE;
use tollgate_policy::{AbsPath, Action, Resource};

use crate::error::{HostError, HostResult};
use crate::fs::OpenMode;
use crate::kernel::{seconds_since_boot, CpuTime};
use crate::supervisor_call::SupervisorCall;
use crate::Host;

/// Which mounts `Filesystems(...).filesystems()` lists (Rex's `FilesystemOptions`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesystemFilter {
    /// Mount points at or below any of these; all when empty.
    pub targets: Vec<String>,
    /// Only file systems on local storage (no network file systems).
    pub local: bool,
}

/// One mounted file system, sizes in bytes (Rex's `Filesystem`).
#[derive(Clone, Debug, PartialEq)]
pub struct Filesystem {
    pub device: String,
    pub kind: String,
    pub mounted_on: String,
    pub options: Vec<String>,
    pub size: u64,
    /// Size less what is available to an unprivileged user (Rex's `block_used`).
    pub used: u64,
    pub available: u64,
    pub inodes: u64,
    pub inodes_free: u64,
}

impl Filesystem {
    pub fn use_percent(&self) -> f64 {
        percent(self.used, self.size)
    }

    pub fn inodes_used(&self) -> u64 {
        self.inodes.saturating_sub(self.inodes_free)
    }

    pub fn inode_use_percent(&self) -> f64 {
        percent(self.inodes_used(), self.inodes)
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// One block device of `lsblk`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDevice {
    /// The kernel's name, or the device-mapper name of a logical volume.
    pub name: String,
    /// `disk`, `partition`, `lvm`, ... (the kernel's DEVTYPE).
    pub kind: String,
    pub major: String,
    pub minor: String,
    pub size_kib: u64,
    pub removable: bool,
    pub read_only: bool,
    /// Where it is mounted, `[SWAP]` for swap, empty if nowhere.
    pub mount_point: String,
    /// The devices on it: partitions of a disk, volumes on a partition.
    pub children: Vec<String>,
}

/// CPU time shares since boot, in percent (Rex's `CpuStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuShares {
    pub user: f64,
    pub nice: f64,
    /// System, interrupt and soft-interrupt time.
    pub system: f64,
    pub iowait: f64,
    pub steal: f64,
    pub idle: f64,
}

/// One device's I/O rates, averaged since boot (Rex's `DeviceStats`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceRates {
    pub device: String,
    pub rrqm_per_sec: f64,
    pub wrqm_per_sec: f64,
    pub reads_per_sec: f64,
    pub writes_per_sec: f64,
    pub rkb_per_sec: f64,
    pub wkb_per_sec: f64,
    /// Sectors per request.
    pub avg_request_size: f64,
    pub avg_queue_size: f64,
    /// Milliseconds per request.
    pub avg_wait: f64,
    pub avg_read_wait: f64,
    pub avg_write_wait: f64,
    pub svctm: f64,
    pub util_percent: f64,
}

/// `iostat()`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IoStat {
    pub cpu: CpuShares,
    pub devices: Vec<DeviceRates>,
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

/// One line of `/proc/mounts`.
struct MountLine {
    device: String,
    mount_point: String,
    kind: String,
    options: Vec<String>,
}

fn mount_lines(table: &str) -> Vec<MountLine> {
    table
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(' ').collect();
            let [device, mount_point, kind, options, ..] = f[..] else {
                return None;
            };
            Some(MountLine {
                device: unescape(device),
                mount_point: unescape(mount_point),
                kind: kind.to_owned(),
                options: options.split(',').map(str::to_owned).collect(),
            })
        })
        .collect()
}

/// Whether `df` lists a mount: storage, not the kernel's own views (proc, sysfs, cgroups,
/// device nodes, pseudo-terminals) nor what lives under /proc, /sys and /run. The same mounts
/// as Rex lists.
fn is_storage(m: &MountLine) -> bool {
    const PSEUDO: &[&str] = &[
        "rootfs",
        "sysfs",
        "proc",
        "devtmpfs",
        "cgroup",
        "cgroup2",
        "pstore",
        "squashfs",
        "rpc_pipefs",
        "iso9660",
        "devpts",
        "hugetlbfs",
        "mqueue",
    ];
    let p = m.mount_point.as_str();
    !PSEUDO.contains(&m.kind.as_str())
        && !p.starts_with("/sys")
        && !p.starts_with("/proc")
        && (!p.starts_with("/run") || p.starts_with("/run/media"))
        && !m.device.starts_with("sunrpc")
}

/// Whether a mount is on local storage rather than a network file system.
fn is_local(m: &MountLine) -> bool {
    const NETWORK: &[&str] = &[
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "autofs",
        "efs",
        "fuse.sshfs",
    ];
    let device = m.device.to_lowercase();
    !NETWORK.contains(&m.kind.as_str())
        && !["nfs", "smb", "cifs", "efs", "autofs"]
            .iter()
            .any(|n| device.contains(n))
        && !device.starts_with("//")
        && !device.contains(':')
}

fn in_targets(mount_point: &str, targets: &[String]) -> bool {
    targets.is_empty() || targets.iter().any(|t| mount_point.starts_with(t.as_str()))
}

impl Host {
    /// `df()` and `Filesystems(options).filesystems()`: usage of each storage mount (see
    /// [`is_storage`]), after `read` on `/proc/mounts` and `stat` on each mount point listed.
    /// A mount point the policy does not let the principal stat fails the call, as in Rex; a
    /// narrower `targets` lists fewer. One the kernel refuses to describe is left out.
    pub fn filesystems(&self, filter: &FilesystemFilter) -> HostResult<Vec<Filesystem>> {
        let table = self.read_table("/proc/mounts")?;
        let mut lines: Vec<MountLine> = mount_lines(&table)
            .into_iter()
            .filter(|m| is_storage(m) && in_targets(&m.mount_point, &filter.targets))
            .filter(|m| !filter.local || is_local(m))
            .collect();
        // A mount point mounted over is listed once, as what is on top (the later line).
        let mut seen = std::collections::BTreeSet::new();
        lines.reverse();
        lines.retain(|m| seen.insert(m.mount_point.clone()));
        lines.reverse();
        let mut out = Vec::new();
        for m in lines {
            self.interrupt.check()?;
            let Ok(path) = AbsPath::parse(&m.mount_point) else {
                continue;
            };
            let permit = self
                .gate
                .authorize(&[Action::FsStat], &Resource::Dir(path))?;
            // A mount point that cannot be opened without crossing a link, or that the
            // kernel will not describe, is skipped as `df` skips it.
            let Ok(fd) = self.root.open(&permit, OpenMode::Stat) else {
                continue;
            };
            let Ok(st) = rustix::fs::fstatvfs(&fd) else {
                continue;
            };
            let unit = st.f_frsize.max(1);
            let size = st.f_blocks * unit;
            let available = st.f_bavail * unit;
            out.push(Filesystem {
                device: m.device,
                kind: m.kind,
                mounted_on: m.mount_point,
                options: m.options,
                size,
                used: size.saturating_sub(available),
                available,
                inodes: st.f_files,
                inodes_free: st.f_ffree,
            });
        }
        Ok(out)
    }

    /// `df()`: every storage mount.
    pub fn df(&self) -> HostResult<Vec<Filesystem>> {
        self.filesystems(&FilesystemFilter::default())
    }

    /// `unmount(UnmountOptions().path(p).build())`: asks `unmount` on `file_system::Dir`
    /// for the mount point, as Rex does, then has the host's supervisor unmount it (the
    /// worker's seccomp filter refuses it umount2(2)). The supervisor decides the request
    /// again against the run's policy and Tollgate's own files (a directory that holds them
    /// is never unmounted), and unmounts only the mount point itself, reached without a
    /// symlink (see [`crate::effect`]'s `unmount`); a path that is not a mount point is an
    /// error and nothing is unmounted.
    pub fn unmount(&self, raw_path: &str) -> HostResult<()> {
        let path = crate::fs::parse_path(raw_path)?;
        self.interrupt.check()?;
        let permit = self
            .gate
            .authorize(&[Action::FsUnmount], &Resource::Dir(path.clone()))?;
        let call = SupervisorCall::Unmount(path.to_string());
        self.supervisor_call(&permit, &call, "unmount", path.as_str())
            .map(drop)
    }

    /// `lsblk()`: the block devices of `/proc/partitions`, with their type, flags, mount
    /// point and children.
    pub fn lsblk(&self) -> HostResult<Vec<BlockDevice>> {
        let partitions = self.read_table("/proc/partitions")?;
        let mounts = self.read_table("/proc/mounts")?;
        let swaps = self.read_table("/proc/swaps")?;
        let sys = Resource::Dir(AbsPath::parse("/sys/dev/block")?);
        self.interrupt.check()?;
        let permit = self.gate.authorize(KERNEL_TABLE, &sys)?;
        let attr = |major: &str, minor: &str, name: &str| {
            crate::effect::read_kernel(
                &permit,
                &sys,
                &format!("/sys/dev/block/{major}:{minor}/{name}"),
            )
            .ok()
            .map(|v| v.trim().to_owned())
        };
        // A device removed since /proc/partitions was read has no entry here: left out.
        let present = crate::effect::list_kernel(&permit, &sys)
            .map_err(|e| HostError::io("list", "/sys/dev/block", e))?;
        let mut devices = Vec::new();
        for line in partitions.lines().skip(2) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [major, minor, blocks, kernel_name, ..] = f[..] else {
                continue;
            };
            if !present.iter().any(|p| *p == format!("{major}:{minor}")) {
                continue;
            }
            let uevent = attr(major, minor, "uevent").unwrap_or_default();
            let devtype = uevent
                .lines()
                .find_map(|l| l.strip_prefix("DEVTYPE="))
                .unwrap_or("unknown")
                .to_owned();
            let dm_name = attr(major, minor, "dm/name").filter(|n| !n.is_empty());
            let (name, kind) = match dm_name {
                Some(dm) => (dm, "lvm".to_owned()),
                None => (kernel_name.to_owned(), devtype),
            };
            let flag = |a: &str| attr(major, minor, a).is_some_and(|v| v == "1");
            devices.push((
                kernel_name.to_owned(),
                BlockDevice {
                    removable: kind != "partition" && flag("removable"),
                    read_only: flag("ro"),
                    name,
                    kind,
                    major: major.to_owned(),
                    minor: minor.to_owned(),
                    size_kib: blocks.parse().unwrap_or(0),
                    mount_point: String::new(),
                    children: Vec::new(),
                },
            ));
        }
        // Mount points by device name (`/dev/sda1`, `/dev/mapper/vg-root`), then swap.
        for m in mount_lines(&mounts) {
            let Some(dev) = m
                .device
                .strip_prefix("/dev/mapper/")
                .or_else(|| m.device.strip_prefix("/dev/"))
            else {
                continue;
            };
            for (kernel, d) in devices.iter_mut() {
                if d.name == dev || kernel == dev {
                    d.mount_point = m.mount_point.clone();
                }
            }
        }
        for line in swaps.lines().skip(1) {
            let Some(dev) = line.split_whitespace().next() else {
                continue;
            };
            let dev = dev.strip_prefix("/dev/").unwrap_or(dev);
            for (kernel, d) in devices.iter_mut() {
                if d.name == dev || kernel == dev {
                    d.mount_point = "[SWAP]".to_owned();
                }
            }
        }
        // A partition is a directory of its disk's sysfs directory; a volume lists what it
        // is built on under `slaves`. Both are read as files under /sys/dev/block.
        let mut links = Vec::new();
        for (parent_kernel, parent) in &devices {
            for (child_kernel, child) in &devices {
                let is_partition = child.kind == "partition"
                    && attr(
                        &parent.major,
                        &parent.minor,
                        &format!("{child_kernel}/partition"),
                    )
                    .is_some();
                let is_volume = child.kind == "lvm"
                    && attr(
                        &child.major,
                        &child.minor,
                        &format!("slaves/{parent_kernel}/dev"),
                    )
                    .is_some();
                if parent_kernel != child_kernel && (is_partition || is_volume) {
                    links.push((parent.name.clone(), child.name.clone()));
                }
            }
        }
        let mut out: Vec<BlockDevice> = devices.into_iter().map(|(_, d)| d).collect();
        for (parent, child) in links {
            if let Some(p) = out.iter_mut().find(|d| d.name == parent) {
                p.children.push(child);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `iostat()`: CPU shares and per-device rates since boot, after `read` on `/proc/stat`
    /// and `/proc/diskstats`. The time since boot comes from the kernel's clock.
    pub fn iostat(&self) -> HostResult<IoStat> {
        let stats = self.kernel_stats()?;
        let table = self.read_table("/proc/diskstats")?;
        let uptime = seconds_since_boot();
        Ok(IoStat {
            cpu: cpu_shares(&stats.total),
            devices: table
                .lines()
                .filter_map(|line| device_rates(line, uptime))
                .collect(),
        })
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        0.0
    } else {
        a / b
    }
}

fn cpu_shares(t: &CpuTime) -> CpuShares {
    let total =
        (t.user + t.nice + t.system + t.idle + t.iowait + t.irq + t.softirq + t.steal) as f64;
    let share = |v: u64| ratio(v as f64, total) * 100.0;
    CpuShares {
        user: share(t.user),
        nice: share(t.nice),
        system: share(t.system + t.irq + t.softirq),
        iowait: share(t.iowait),
        steal: share(t.steal),
        idle: share(t.idle),
    }
}

/// One line of `/proc/diskstats` as rates over `uptime` seconds.
fn device_rates(line: &str, uptime: f64) -> Option<DeviceRates> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    let (reads, reads_merged, sectors_read, ms_reading) = (n(3)?, n(4)?, n(5)?, n(6)?);
    let (writes, writes_merged, sectors_written, ms_writing) = (n(7)?, n(8)?, n(9)?, n(10)?);
    let (ms_doing_io, weighted_ms) = (n(12)?, n(13)?);
    let per_sec = |v: u64| ratio(v as f64, uptime);
    let ios = (reads + writes) as f64;
    Some(DeviceRates {
        device: (*f.get(2)?).to_owned(),
        rrqm_per_sec: per_sec(reads_merged),
        wrqm_per_sec: per_sec(writes_merged),
        reads_per_sec: per_sec(reads),
        writes_per_sec: per_sec(writes),
        rkb_per_sec: ratio(sectors_read as f64 * 512.0 / 1024.0, uptime),
        wkb_per_sec: ratio(sectors_written as f64 * 512.0 / 1024.0, uptime),
        avg_request_size: ratio((sectors_read + sectors_written) as f64, ios),
        avg_queue_size: ratio(weighted_ms as f64, uptime * 1000.0),
        avg_wait: ratio((ms_reading + ms_writing) as f64, ios),
        avg_read_wait: ratio(ms_reading as f64, reads as f64),
        avg_write_wait: ratio(ms_writing as f64, writes as f64),
        svctm: ratio(ms_doing_io as f64, ios),
        // Parallel I/O can count more busy time than passed.
        util_percent: (ratio(ms_doing_io as f64, uptime * 1000.0) * 100.0).min(100.0),
    })
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

    #[test]
    fn df_lists_storage_not_the_kernels_views() {
        let table = "proc /proc proc rw 0 0\n/dev/vda / ext4 rw,relatime 0 0\ntmpfs /run tmpfs rw 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw 0 0\ntmpfs /dev/shm tmpfs rw 0 0\nserver:/export /mnt/nfs nfs4 rw 0 0\n";
        let lines = mount_lines(table);
        let listed: Vec<&str> = lines
            .iter()
            .filter(|m| is_storage(m))
            .map(|m| m.mount_point.as_str())
            .collect();
        assert_eq!(listed, ["/", "/dev/shm", "/mnt/nfs"]);
        let local: Vec<&str> = lines
            .iter()
            .filter(|m| is_storage(m) && is_local(m))
            .map(|m| m.mount_point.as_str())
            .collect();
        assert_eq!(local, ["/", "/dev/shm"]);
        assert_eq!(lines[1].options, ["rw", "relatime"]);
    }

    #[test]
    fn device_rates_average_over_the_time_since_boot() {
        // reads 100 (10 merged, 800 sectors, 50 ms), writes 50 (5 merged, 400 sectors,
        // 25 ms), 0 in flight, 60 ms busy, 90 ms weighted.
        let line = "   8       0 sda 100 10 800 50 50 5 400 25 0 60 90";
        let r = device_rates(line, 10.0).unwrap();
        assert_eq!(r.device, "sda");
        assert_eq!(r.reads_per_sec, 10.0);
        assert_eq!(r.rkb_per_sec, 40.0);
        assert_eq!(r.avg_request_size, 8.0);
        assert_eq!(r.avg_read_wait, 0.5);
        assert!((r.util_percent - 0.6).abs() < 1e-9);
        assert!(device_rates("8 0 sda 1 2", 1.0).is_none());
        let cpu = cpu_shares(&CpuTime {
            user: 50,
            idle: 50,
            ..CpuTime::default()
        });
        assert_eq!((cpu.user, cpu.idle, cpu.system), (50.0, 50.0, 0.0));
    }
}
