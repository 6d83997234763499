//! Disks and file systems, as Rex's `rust_safe_disk_info`: `df`, `iostat`, `lsblk`,
//! `Filesystems(FilesystemOptions)` with `filesystems()` and `iostat()`, `format_bytes` with
//! `Unit`, and `unmount` with `UnmountOptions` (asked, then carried out by the supervisor: see
//! the host's `unmount`).

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};
use tollgate_host::disk::{
    BlockDevice, DeviceRates, Filesystem as HostFilesystem, FilesystemFilter, IoStat,
};
use tollgate_host::Host;

use super::objects::{enumeration, object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    Filesystem::KIND,
    CpuStats::KIND,
    DeviceStats::KIND,
    IoStatSnapshot::KIND,
    Unit::KIND,
];

/// A count as a script integer; counts past i64 (none a kernel reports) saturate.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

object! {
    /// One mounted file system (`df()`, `Filesystems(...).filesystems()`), sizes in bytes.
    pub(crate) struct Filesystem as "rust_safe_disk_info::df::common::Filesystem" {
        /// What is mounted (`/dev/vda1`, `tmpfs`).
        fs_device: String,
        /// The file system type (`ext4`).
        fs_kind: String,
        inodes: i64,
        iused: i64,
        ifree: i64,
        iuse_percent: f64,
        /// Size less what is available to an unprivileged user.
        block_used: i64,
        block_available: i64,
        block_use_percent: f64,
        mounted_on: String,
        kb_blocks: i64,
        mb_blocks: i64,
        size: i64,
        mount_options: Array,
    }
}

impl From<HostFilesystem> for Filesystem {
    fn from(f: HostFilesystem) -> Self {
        Filesystem {
            iuse_percent: f.inode_use_percent(),
            block_use_percent: f.use_percent(),
            iused: int(f.inodes_used()),
            fs_device: f.device,
            fs_kind: f.kind,
            inodes: int(f.inodes),
            ifree: int(f.inodes_free),
            block_used: int(f.used),
            block_available: int(f.available),
            mounted_on: f.mounted_on,
            kb_blocks: int(f.size / 1024),
            mb_blocks: int(f.size / (1024 * 1024)),
            size: int(f.size),
            mount_options: f.options.into_iter().map(Dynamic::from).collect(),
        }
    }
}

object! {
    /// CPU time shares since boot, in percent (`iostat().cpu_stats`).
    pub(crate) struct CpuStats as "rust_safe_disk_info::iostat::common::CpuStats" {
        user_percent: f64,
        nice_percent: f64,
        system_percent: f64,
        iowait_percent: f64,
        steal_percent: f64,
        idle_percent: f64,
    }
}

object! {
    /// One device's I/O rates averaged since boot (`iostat().device_stats`).
    pub(crate) struct DeviceStats as "rust_safe_disk_info::iostat::common::DeviceStats" {
        device_name: String,
        rrqm_per_sec: f64,
        wrqm_per_sec: f64,
        read_requests_per_sec: f64,
        write_requests_per_sec: f64,
        rkb_per_sec: f64,
        wkb_per_sec: f64,
        avg_request_size: f64,
        avg_queue_size: f64,
        avg_wait: f64,
        avg_read_wait: f64,
        avg_write_wait: f64,
        svctm: f64,
        util_percent: f64,
    }
}

impl From<DeviceRates> for DeviceStats {
    fn from(d: DeviceRates) -> Self {
        DeviceStats {
            device_name: d.device,
            rrqm_per_sec: d.rrqm_per_sec,
            wrqm_per_sec: d.wrqm_per_sec,
            read_requests_per_sec: d.reads_per_sec,
            write_requests_per_sec: d.writes_per_sec,
            rkb_per_sec: d.rkb_per_sec,
            wkb_per_sec: d.wkb_per_sec,
            avg_request_size: d.avg_request_size,
            avg_queue_size: d.avg_queue_size,
            avg_wait: d.avg_wait,
            avg_read_wait: d.avg_read_wait,
            avg_write_wait: d.avg_write_wait,
            svctm: d.svctm,
            util_percent: d.util_percent,
        }
    }
}

object! {
    /// `iostat()`: CPU shares and device rates; `to_string()` prints them as `iostat -x`.
    pub(crate) struct IoStatSnapshot as "rust_safe_disk_info::iostat::common::IoStatSnapshot" {
        /// A `CpuStats`.
        cpu_stats: Dynamic,
        /// `DeviceStats` values.
        device_stats: Array,
    }
}

super::objects::display_as_type_name!(Filesystem, CpuStats, DeviceStats);

impl fmt::Display for IoStatSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "avg-cpu:  %user   %nice %system %iowait  %steal   %idle")?;
        if let Some(c) = self.cpu_stats.read_lock::<CpuStats>() {
            writeln!(
                f,
                "          {:6.2}  {:6.2}  {:6.2}  {:6.2}  {:6.2}  {:6.2}",
                c.user_percent,
                c.nice_percent,
                c.system_percent,
                c.iowait_percent,
                c.steal_percent,
                c.idle_percent
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Device:         rrqm/s   wrqm/s     r/s     w/s    rkB/s    wkB/s avgrq-sz avgqu-sz   await r_await w_await  svctm  %util"
        )?;
        for d in self.device_stats.iter() {
            let Some(d) = d.read_lock::<DeviceStats>() else {
                continue;
            };
            writeln!(
                f,
                "{:<15} {:8.2} {:8.2} {:7.2} {:7.2} {:8.2} {:8.2} {:8.2} {:8.2} {:7.2} {:7.2} {:7.2} {:6.2} {:6.2}",
                d.device_name,
                d.rrqm_per_sec,
                d.wrqm_per_sec,
                d.read_requests_per_sec,
                d.write_requests_per_sec,
                d.rkb_per_sec,
                d.wkb_per_sec,
                d.avg_request_size,
                d.avg_queue_size,
                d.avg_wait,
                d.avg_read_wait,
                d.avg_write_wait,
                d.svctm,
                d.util_percent
            )?;
        }
        Ok(())
    }
}

fn snapshot(s: IoStat) -> IoStatSnapshot {
    IoStatSnapshot {
        cpu_stats: Dynamic::from(CpuStats {
            user_percent: s.cpu.user,
            nice_percent: s.cpu.nice,
            system_percent: s.cpu.system,
            iowait_percent: s.cpu.iowait,
            steal_percent: s.cpu.steal,
            idle_percent: s.cpu.idle,
        }),
        device_stats: s
            .devices
            .into_iter()
            .map(|d| Dynamic::from(DeviceStats::from(d)))
            .collect(),
    }
}

enumeration! {
    /// The unit of `format_bytes(size, Unit::MEGABYTES)`.
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum Unit as "rust_safe_disk_info::constants::Unit" in "Unit" { BYTES, KILOBYTES, MEGABYTES }
}

/// `FilesystemOptions()`, before and after `build()`.
#[derive(Clone, Debug, Default)]
pub(crate) struct FilesystemOptionsBuilder(FilesystemFilter);

#[derive(Clone, Debug)]
pub(crate) struct FilesystemOptions(FilesystemFilter);

/// `Filesystems(options)`: the mounts the options select.
#[derive(Clone, Debug)]
pub(crate) struct Filesystems(FilesystemFilter);

/// `UnmountOptions()`, before and after `build()`.
#[derive(Clone, Debug, Default)]
pub(crate) struct UnmountOptionsBuilder {
    path: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct UnmountOptions {
    path: String,
}

fn filesystems(host: &Host, filter: &FilesystemFilter) -> Fallible<Array> {
    let list = host.filesystems(filter).map_err(host_error)?;
    Ok(list
        .into_iter()
        .map(|f| Dynamic::from(Filesystem::from(f)))
        .collect())
}

/// `lsblk()`'s map: device name -> its fields, with the flags as "0"/"1" as Rex gives them.
fn lsblk_map(devices: Vec<BlockDevice>) -> Map {
    let flag = |on: bool| Dynamic::from(if on { "1" } else { "0" }.to_owned());
    devices
        .into_iter()
        .map(|d| {
            let mut m = Map::new();
            m.insert("name".into(), Dynamic::from(d.name.clone()));
            m.insert("type".into(), Dynamic::from(d.kind));
            m.insert("maj".into(), Dynamic::from(d.major));
            m.insert("min".into(), Dynamic::from(d.minor));
            m.insert("size_kib".into(), Dynamic::from(int(d.size_kib)));
            m.insert("removable".into(), flag(d.removable));
            m.insert("read_only".into(), flag(d.read_only));
            m.insert("mount_point".into(), Dynamic::from(d.mount_point));
            let children: Array = d.children.into_iter().map(Dynamic::from).collect();
            m.insert("children".into(), Dynamic::from_array(children));
            (d.name.into(), Dynamic::from_map(m))
        })
        .collect()
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    let h = host.clone();
    engine.register_fn("df", move || {
        let h = h.call("df");
        filesystems(&h, &FilesystemFilter::default())
    });
    let h = host.clone();
    engine.register_fn("iostat", move || -> Fallible<Dynamic> {
        let h = h.call("iostat");
        let s = h.iostat().map_err(host_error)?;
        Ok(Dynamic::from(snapshot(s)))
    });
    let h = host.clone();
    engine.register_fn("lsblk", move || -> Fallible<Map> {
        let h = h.call("lsblk");
        h.lsblk().map(lsblk_map).map_err(host_error)
    });

    engine.register_type_with_name::<FilesystemOptionsBuilder>(
        "rust_safe_disk_info::options::FilesystemOptionsBuilder",
    );
    engine.register_type_with_name::<FilesystemOptions>(
        "rust_safe_disk_info::options::FilesystemOptions",
    );
    engine.register_type_with_name::<Filesystems>("rust_safe_disk_info::diskinfo::Filesystems");
    engine.register_fn("FilesystemOptions", FilesystemOptionsBuilder::default);
    engine.register_fn(
        "targets",
        |b: &mut FilesystemOptionsBuilder, targets: Array| -> Fallible<FilesystemOptionsBuilder> {
            let mut paths = Vec::new();
            for t in targets {
                let path = t.into_immutable_string().map_err(|ty| {
                    invalid(format!("targets are mount point paths (strings), not {ty}"))
                })?;
                paths.push(path.to_string());
            }
            b.0.targets = paths;
            Ok(b.clone())
        },
    );
    engine.register_fn("local", |b: &mut FilesystemOptionsBuilder, local: bool| {
        b.0.local = local;
        b.clone()
    });
    engine.register_fn("build", |b: &mut FilesystemOptionsBuilder| {
        FilesystemOptions(b.0.clone())
    });
    engine.register_fn("Filesystems", |o: FilesystemOptions| Filesystems(o.0));
    let h = host.clone();
    engine.register_fn("filesystems", move |f: &mut Filesystems| {
        let h = h.call("Filesystems.filesystems");
        filesystems(&h, &f.0)
    });
    // The options choose mounts, which `filesystems()` lists; `iostat()` reports every
    // block device whatever they say, as Rex's does (a device is not a mount point).
    let h = host.clone();
    engine.register_fn(
        "iostat",
        move |_: &mut Filesystems| -> Fallible<IoStatSnapshot> {
            let h = h.call("Filesystems.iostat");
            h.iostat().map(snapshot).map_err(host_error)
        },
    );
    engine.register_fn("format_bytes", |size: i64, unit: Unit| -> Fallible<i64> {
        if size < 0 {
            return Err(invalid(format!(
                "format_bytes: {size} is not a size in bytes"
            )));
        }
        Ok(match unit {
            Unit::BYTES => size,
            Unit::KILOBYTES => size / 1024,
            Unit::MEGABYTES => size / (1024 * 1024),
        })
    });

    engine.register_type_with_name::<UnmountOptionsBuilder>(
        "rust_safe_disk_info::options::UnmountOptionsBuilder",
    );
    engine
        .register_type_with_name::<UnmountOptions>("rust_safe_disk_info::options::UnmountOptions");
    engine.register_fn("UnmountOptions", UnmountOptionsBuilder::default);
    engine.register_fn("path", |b: &mut UnmountOptionsBuilder, path: &str| {
        b.path = Some(path.to_owned());
        b.clone()
    });
    engine.register_fn("build", |b: &mut UnmountOptionsBuilder| -> Fallible<UnmountOptions> {
        let path = b.path.clone().ok_or_else(|| {
            invalid("UnmountOptions: `path` must be set, e.g. UnmountOptions().path(\"/mnt/data\").build()")
        })?;
        Ok(UnmountOptions { path })
    });
    let h = host;
    engine.register_fn("unmount", move |o: UnmountOptions| -> Fallible<()> {
        let h = h.call("unmount");
        h.unmount(&o.path).map_err(host_error)
    });
}
