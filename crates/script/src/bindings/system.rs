//! System information, as Rex's `rust_safe_system_info`: `uname`, `hostname`, `nproc`,
//! `free`, `dmesg`, `resolve`, the `sysctl_*` commands, `SystemInfo()` and
//! `SysctlManager()` with their result types (`UnameInfo`, `Meminfo`, `Swapinfo`,
//! `DmesgEntry`, `RhaiKernelStats`, `RhaiCpuTime`, `SlabInfo`, `SlabEntry`, `SlabSummary`,
//! `SysctlEntry`) and options (`DmesgOptions`, `ResolveOptions`, `TransportProtocol`).
//! Tollgate's own `uptime` and `loadavg` stay.

use std::fmt;

use rhai::{Array, Dynamic, Engine, EvalAltResult};
use tollgate_host::kernel::{ticks_per_second, CpuTime, KernelMessage, KernelStats, SlabCache};
use tollgate_host::system::{Memory, ResolveRequest, Uname};
use tollgate_host::Host;

use super::objects::{enumeration, object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid, map};

type Fallible<T> = Result<T, Box<EvalAltResult>>;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    UnameInfo::KIND,
    Meminfo::KIND,
    Swapinfo::KIND,
    DmesgEntry::KIND,
    RhaiCpuTime::KIND,
    RhaiKernelStats::KIND,
    SlabEntry::KIND,
    SlabSummary::KIND,
    SlabInfo::KIND,
    SysctlEntry::KIND,
    TransportProtocol::KIND,
];

object! {
    /// `uname()`: the kernel, the host and the machine.
    pub(crate) struct UnameInfo as "rust_safe_system_info::uname::common::UnameInfo" {
        kernel_name: String,
        nodename: String,
        kernel_release: String,
        kernel_version: String,
        machine: String,
        processor: String,
        hardware_platform: String,
        operating_system: String,
    }
}

impl fmt::Display for UnameInfo {
    /// What `uname -a` prints: the eight fields, space-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields = [
            &self.kernel_name,
            &self.nodename,
            &self.kernel_release,
            &self.kernel_version,
            &self.machine,
            &self.processor,
            &self.hardware_platform,
            &self.operating_system,
        ];
        let joined: Vec<&str> = fields.iter().map(|s| s.as_str()).collect();
        f.write_str(&joined.join(" "))
    }
}

impl From<Uname> for UnameInfo {
    fn from(u: Uname) -> Self {
        UnameInfo {
            kernel_name: u.kernel_name,
            nodename: u.nodename,
            kernel_release: u.kernel_release,
            kernel_version: u.kernel_version,
            machine: u.machine,
            processor: u.processor,
            hardware_platform: u.hardware_platform,
            operating_system: u.operating_system,
        }
    }
}

object! {
    /// Memory, in bytes (`free().memory`, `SystemInfo().memory_info()`).
    pub(crate) struct Meminfo as "rust_safe_system_info::memory::common::Meminfo" {
        total: i64,
        free: i64,
        available: i64,
        used: i64,
        buffers: i64,
        cached: i64,
        shared_mem: i64,
    }
}

impl fmt::Display for Meminfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Memory Info:\n  Total: {} bytes\n  Free: {} bytes\n  Available: {} bytes\n  Used: {} bytes\n  Buffers: {} bytes\n  Cached: {} bytes\n  Shared: {} bytes",
            self.total, self.free, self.available, self.used, self.buffers, self.cached, self.shared_mem
        )
    }
}

object! {
    /// Swap, in bytes (`free().swap`, `SystemInfo().swap_info()`).
    pub(crate) struct Swapinfo as "rust_safe_system_info::memory::common::Swapinfo" {
        total: i64,
        free: i64,
        used: i64,
    }
}

impl fmt::Display for Swapinfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Swap Info:\n  Total: {} bytes\n  Free: {} bytes\n  Used: {} bytes",
            self.total, self.free, self.used
        )
    }
}

/// A byte count as a script integer; counts past i64 (none a kernel reports) saturate.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn meminfo(m: &Memory) -> Meminfo {
    Meminfo {
        total: int(m.total),
        free: int(m.free),
        available: int(m.available),
        used: int(m.used()),
        buffers: int(m.buffers),
        cached: int(m.cached),
        shared_mem: int(m.shared),
    }
}

fn swapinfo(m: &Memory) -> Swapinfo {
    Swapinfo {
        total: int(m.swap_total),
        free: int(m.swap_free),
        used: int(m.swap_used()),
    }
}

object! {
    /// One kernel message (`dmesg()`).
    pub(crate) struct DmesgEntry as "rust_safe_system_info::dmesg::common::DmesgEntry" {
        /// Seconds since boot (`     12.345678`), or with `human_readable_time` the local
        /// time (`Fri Dec 04 01:16:47 2026`).
        timestamp_from_system_start: String,
        message: String,
    }
}

impl fmt::Display for DmesgEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.timestamp_from_system_start, self.message)
    }
}

fn dmesg_entry(m: KernelMessage, human_readable_time: bool) -> DmesgEntry {
    let timestamp = if human_readable_time {
        m.wall_clock().unwrap_or_else(|| m.since_boot())
    } else {
        m.since_boot()
    };
    DmesgEntry {
        timestamp_from_system_start: timestamp,
        message: m.message,
    }
}

object! {
    /// CPU time of one processor, or of all, in clock ticks and in milliseconds.
    pub(crate) struct RhaiCpuTime as "rhai_safe_system_info::kernel_stats::RhaiCpuTime" {
        user_ticks: i64,
        nice_ticks: i64,
        system_ticks: i64,
        idle_ticks: i64,
        iowait_ticks: i64,
        irq_ticks: i64,
        softirq_ticks: i64,
        stolen_ticks: i64,
        guest_ticks: i64,
        guest_nice_ticks: i64,
        user_ms: i64,
        nice_ms: i64,
        system_ms: i64,
        idle_ms: i64,
        iowait_ms: i64,
        irq_ms: i64,
        softirq_ms: i64,
        stolen_ms: i64,
        guest_ms: i64,
        guest_nice_ms: i64,
    }
}

object! {
    /// The kernel's counters (`SystemInfo().kernel_stats()`, from `/proc/stat`).
    pub(crate) struct RhaiKernelStats as "rhai_safe_system_info::kernel_stats::RhaiKernelStats" {
        /// A `RhaiCpuTime`.
        total_cpu_time: Dynamic,
        /// One `RhaiCpuTime` per processor.
        cpu_time: Array,
        procs_running: i64,
        procs_blocked: i64,
        context_switches: i64,
        /// Seconds since the epoch.
        boot_time: i64,
        forks: i64,
    }
}

fn cpu_time(t: &CpuTime, hz: u64) -> RhaiCpuTime {
    let ms = |ticks: u64| int(ticks.saturating_mul(1000) / hz.max(1));
    RhaiCpuTime {
        user_ticks: int(t.user),
        nice_ticks: int(t.nice),
        system_ticks: int(t.system),
        idle_ticks: int(t.idle),
        iowait_ticks: int(t.iowait),
        irq_ticks: int(t.irq),
        softirq_ticks: int(t.softirq),
        stolen_ticks: int(t.steal),
        guest_ticks: int(t.guest),
        guest_nice_ticks: int(t.guest_nice),
        user_ms: ms(t.user),
        nice_ms: ms(t.nice),
        system_ms: ms(t.system),
        idle_ms: ms(t.idle),
        iowait_ms: ms(t.iowait),
        irq_ms: ms(t.irq),
        softirq_ms: ms(t.softirq),
        stolen_ms: ms(t.steal),
        guest_ms: ms(t.guest),
        guest_nice_ms: ms(t.guest_nice),
    }
}

fn kernel_stats(s: &KernelStats) -> RhaiKernelStats {
    let hz = ticks_per_second();
    RhaiKernelStats {
        total_cpu_time: Dynamic::from(cpu_time(&s.total, hz)),
        cpu_time: s
            .per_cpu
            .iter()
            .map(|c| Dynamic::from(cpu_time(c, hz)))
            .collect(),
        procs_running: int(s.procs_running),
        procs_blocked: int(s.procs_blocked),
        context_switches: int(s.context_switches),
        boot_time: int(s.boot_time),
        forks: int(s.forks),
    }
}

object! {
    /// One slab cache. Its map holds what `/proc/slabinfo` says; the getters `use_percent`,
    /// `obj_size_kb`, `cache_size_kb` and `active_size_kb` derive the rest (as in Rex).
    pub(crate) struct SlabEntry as "rust_safe_system_info::slab::common::SlabEntry" {
        name: String,
        objs: i64,
        active: i64,
        obj_size_bytes: i64,
        /// Active slabs.
        slabs: i64,
        obj_per_slab: i64,
        pages_per_slab: i64,
    }
}

impl SlabEntry {
    fn use_percent(&self) -> i64 {
        (self.active * 100).checked_div(self.objs).unwrap_or(0)
    }

    fn obj_size_kb(&self) -> f64 {
        self.obj_size_bytes as f64 / 1024.0
    }

    fn cache_size_kb(&self) -> i64 {
        let page_kb = int(page_size() / 1024);
        self.slabs * self.pages_per_slab * page_kb
    }

    fn active_size_kb(&self) -> f64 {
        if self.objs > 0 {
            self.cache_size_kb() as f64 * (self.active as f64 / self.objs as f64)
        } else {
            0.0
        }
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if size > 0 {
        size as u64
    } else {
        4096
    }
}

object! {
    /// Totals over all slab caches, as `slabtop` heads its screen.
    pub(crate) struct SlabSummary as "rust_safe_system_info::slab::common::SlabSummary" {
        active_objects: i64,
        total_objects: i64,
        objects_usage_percent: f64,
        active_slabs: i64,
        total_slabs: i64,
        slabs_usage_percent: f64,
        active_caches: i64,
        total_caches: i64,
        caches_usage_percent: f64,
        active_size_kb: f64,
        total_size_kb: f64,
        size_usage_percent: f64,
        min_obj_size_kb: f64,
        avg_obj_size_kb: f64,
        max_obj_size_kb: f64,
    }
}

impl fmt::Display for SlabSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Active / Total Objects (% used)    : {} / {} ({:.1}%)",
            self.active_objects, self.total_objects, self.objects_usage_percent
        )?;
        writeln!(
            f,
            "Active / Total Slabs (% used)      : {} / {} ({:.1}%)",
            self.active_slabs, self.total_slabs, self.slabs_usage_percent
        )?;
        writeln!(
            f,
            "Active / Total Caches (% used)     : {} / {} ({:.1}%)",
            self.active_caches, self.total_caches, self.caches_usage_percent
        )?;
        writeln!(
            f,
            "Active / Total Size (% used)       : {:.2}K / {:.0}K ({:.1}%)",
            self.active_size_kb, self.total_size_kb, self.size_usage_percent
        )?;
        write!(
            f,
            "Minimum / Average / Maximum Object : {:.2}K / {:.2}K / {:.2}K",
            self.min_obj_size_kb, self.avg_obj_size_kb, self.max_obj_size_kb
        )
    }
}

object! {
    /// `SystemInfo().slab_info()`: the caches, most objects first, and their totals.
    pub(crate) struct SlabInfo as "rust_safe_system_info::slab::common::SlabInfo" {
        /// `SlabEntry` values.
        slabs: Array,
        /// A `SlabSummary`.
        summary: Dynamic,
    }
}

fn percent(part: f64, whole: f64) -> f64 {
    if whole > 0.0 {
        part / whole * 100.0
    } else {
        0.0
    }
}

fn slab_info(caches: &[SlabCache]) -> SlabInfo {
    let sum = |f: fn(&SlabCache) -> u64| caches.iter().map(f).sum::<u64>();
    let (active_objects, total_objects) = (sum(|c| c.active_objs), sum(|c| c.num_objs));
    let (active_slabs, total_slabs) = (sum(|c| c.active_slabs), sum(|c| c.num_slabs));
    let active_caches = caches.iter().filter(|c| c.active_objs > 0).count() as u64;
    let total_caches = caches.len() as u64;
    let active_size_kb = sum(|c| c.active_objs * c.obj_size) as f64 / 1024.0;
    let total_size = sum(|c| c.num_objs * c.obj_size);
    let total_size_kb = total_size as f64 / 1024.0;
    let sizes = caches.iter().map(|c| c.obj_size);
    let summary = SlabSummary {
        active_objects: int(active_objects),
        total_objects: int(total_objects),
        objects_usage_percent: percent(active_objects as f64, total_objects as f64),
        active_slabs: int(active_slabs),
        total_slabs: int(total_slabs),
        slabs_usage_percent: percent(active_slabs as f64, total_slabs as f64),
        active_caches: int(active_caches),
        total_caches: int(total_caches),
        caches_usage_percent: percent(active_caches as f64, total_caches as f64),
        active_size_kb,
        total_size_kb,
        size_usage_percent: percent(active_size_kb, total_size_kb),
        min_obj_size_kb: sizes.clone().min().unwrap_or(0) as f64 / 1024.0,
        avg_obj_size_kb: if total_objects > 0 {
            total_size as f64 / total_objects as f64 / 1024.0
        } else {
            0.0
        },
        max_obj_size_kb: sizes.max().unwrap_or(0) as f64 / 1024.0,
    };
    SlabInfo {
        slabs: caches
            .iter()
            .map(|c| {
                Dynamic::from(SlabEntry {
                    name: c.name.clone(),
                    objs: int(c.num_objs),
                    active: int(c.active_objs),
                    obj_size_bytes: int(c.obj_size),
                    slabs: int(c.active_slabs),
                    obj_per_slab: int(c.obj_per_slab),
                    pages_per_slab: int(c.pages_per_slab),
                })
            })
            .collect(),
        summary: Dynamic::from(summary),
    }
}

object! {
    /// One kernel parameter (`SysctlManager().find(pattern)`).
    pub(crate) struct SysctlEntry as "rust_safe_system_info::sysctl::common::SysctlEntry" {
        key: String,
        value: String,
    }
}

super::objects::display_as_type_name!(
    RhaiCpuTime,
    RhaiKernelStats,
    SlabInfo,
    SlabEntry,
    SysctlEntry
);

enumeration! {
    /// How a name is resolved (`ResolveOptions().protocol(TransportProtocol::TCP)`). Names
    /// go to the system's resolver, which chooses its transport itself: only `AUTO` (the
    /// default) can be honoured, and `resolve_hostname` refuses the others.
    #[allow(clippy::upper_case_acronyms)]
    pub(crate) enum TransportProtocol as "TransportProtocol" in "TransportProtocol" { AUTO, UDP, TCP }
}

/// `SystemInfo()`: the methods of Rex's system information object.
#[derive(Clone, Debug)]
pub(crate) struct SystemInfo;

/// `SysctlManager()`: kernel parameters by key.
#[derive(Clone, Debug)]
pub(crate) struct SysctlManager;

/// `DmesgOptions()`, before and after `build()`.
#[derive(Clone, Debug, Default)]
pub(crate) struct DmesgOptionsBuilder {
    human_readable_time: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct DmesgOptions {
    human_readable_time: bool,
}

/// `ResolveOptions()`, before and after `build()`.
#[derive(Clone, Debug)]
pub(crate) struct ResolveConfigBuilder {
    hostname: Option<String>,
    protocol: TransportProtocol,
    resolver: Option<String>,
    timeout_secs: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct ResolveConfig {
    protocol: TransportProtocol,
    request: ResolveRequest,
}

impl ResolveConfig {
    /// The request the host can carry out as asked: a transport other than `AUTO` is refused
    /// (glibc's resolver takes no such choice per call: UDP, then TCP for a long answer).
    fn request(&self) -> Fallible<&ResolveRequest> {
        if self.protocol != TransportProtocol::AUTO {
            return Err(invalid(format!(
                "ResolveOptions().protocol(TransportProtocol::{:?}) is not supported: Tollgate resolves names through the system's resolver, which chooses UDP or TCP itself; leave protocol out (AUTO)",
                self.protocol
            )));
        }
        Ok(&self.request)
    }
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    register_getters(engine);
    register_commands(engine, &host);
    register_system_info(engine, &host);
    register_sysctl(engine, &host);
    register_options(engine);
    let h = host.clone();
    engine.register_fn("uptime", move || {
        let h = h.call("uptime");
        h.uptime().map_err(host_error)
    });
    let h = host;
    engine.register_fn("loadavg", move || {
        let h = h.call("loadavg");
        let l = h.loadavg().map_err(host_error)?;
        Ok::<_, Box<EvalAltResult>>(map([
            ("one", Dynamic::from(l.one)),
            ("five", Dynamic::from(l.five)),
            ("fifteen", Dynamic::from(l.fifteen)),
        ]))
    });
}

/// The getters Rex derives rather than stores.
fn register_getters(engine: &mut Engine) {
    engine.register_get("use_percent", |e: &mut SlabEntry| e.use_percent());
    engine.register_get("obj_size_kb", |e: &mut SlabEntry| e.obj_size_kb());
    engine.register_get("cache_size_kb", |e: &mut SlabEntry| e.cache_size_kb());
    engine.register_get("active_size_kb", |e: &mut SlabEntry| e.active_size_kb());
}

fn dmesg_entries(host: &Host, human_readable_time: bool) -> Fallible<Array> {
    let messages = host.dmesg().map_err(host_error)?;
    Ok(messages
        .into_iter()
        .map(|m| Dynamic::from(dmesg_entry(m, human_readable_time)))
        .collect())
}

fn addresses(list: Vec<String>) -> Array {
    list.into_iter().map(Dynamic::from).collect()
}

/// Rex's command forms.
fn register_commands(engine: &mut Engine, host: &Sdk) {
    let h = host.clone();
    engine.register_fn("uname", move || -> Fallible<Dynamic> {
        let h = h.call("uname");
        Ok(Dynamic::from(UnameInfo::from(
            h.uname().map_err(host_error)?,
        )))
    });
    let h = host.clone();
    engine.register_fn("hostname", move || {
        let h = h.call("hostname");
        h.hostname().map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("nproc", move || -> Fallible<i64> {
        let h = h.call("nproc");
        h.nproc().map(int).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("free", move || -> Fallible<rhai::Map> {
        let h = h.call("free");
        let m = h.free().map_err(host_error)?;
        let mut out = rhai::Map::new();
        out.insert("memory".into(), Dynamic::from(meminfo(&m)));
        out.insert("swap".into(), Dynamic::from(swapinfo(&m)));
        Ok(out)
    });
    let h = host.clone();
    engine.register_fn("dmesg", move || {
        let h = h.call("dmesg");
        dmesg_entries(&h, false)
    });
    let h = host.clone();
    engine.register_fn("resolve", move |name: &str| -> Fallible<Array> {
        let h = h.call("resolve");
        h.resolve(name).map(addresses).map_err(host_error)
    });
}

/// `SystemInfo()` and its methods.
fn register_system_info(engine: &mut Engine, host: &Sdk) {
    engine.register_type_with_name::<SystemInfo>("rust_safe_system_info::system::SystemInfo");
    engine.register_fn("SystemInfo", || SystemInfo);
    let h = host.clone();
    engine.register_fn(
        "uname_info",
        move |_: &mut SystemInfo| -> Fallible<UnameInfo> {
            let h = h.call("SystemInfo.uname_info");
            h.uname().map(UnameInfo::from).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn("hostname", move |_: &mut SystemInfo| {
        let h = h.call("SystemInfo.hostname");
        h.hostname().map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("cpu_count", move |_: &mut SystemInfo| -> Fallible<i64> {
        let h = h.call("SystemInfo.cpu_count");
        h.nproc().map(int).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn(
        "memory_info",
        move |_: &mut SystemInfo| -> Fallible<Meminfo> {
            let h = h.call("SystemInfo.memory_info");
            h.free().map(|m| meminfo(&m)).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "swap_info",
        move |_: &mut SystemInfo| -> Fallible<Swapinfo> {
            let h = h.call("SystemInfo.swap_info");
            h.free().map(|m| swapinfo(&m)).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn("dmesg_info", move |_: &mut SystemInfo, o: DmesgOptions| {
        let h = h.call("SystemInfo.dmesg_info");
        dmesg_entries(&h, o.human_readable_time)
    });
    let h = host.clone();
    engine.register_fn(
        "kernel_stats",
        move |_: &mut SystemInfo| -> Fallible<RhaiKernelStats> {
            let h = h.call("SystemInfo.kernel_stats");
            h.kernel_stats()
                .map(|s| kernel_stats(&s))
                .map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "slab_info",
        move |_: &mut SystemInfo| -> Fallible<SlabInfo> {
            let h = h.call("SystemInfo.slab_info");
            h.slab_info().map(|c| slab_info(&c)).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "resolve_hostname",
        move |_: &mut SystemInfo, c: ResolveConfig| -> Fallible<Array> {
            let h = h.call("SystemInfo.resolve_hostname");
            h.resolve_with(c.request()?)
                .map(addresses)
                .map_err(host_error)
        },
    );
}

/// `sysctl_read`, `sysctl_write`, `sysctl_find` and `SysctlManager()`.
fn register_sysctl(engine: &mut Engine, host: &Sdk) {
    let h = host.clone();
    engine.register_fn("sysctl_read", move |key: &str| {
        let h = h.call("sysctl_read");
        h.sysctl_read(key).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("sysctl_write", move |key: &str, value: &str| {
        let h = h.call("sysctl_write");
        h.sysctl_write(key, value).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn("sysctl_find", move |pattern: &str| -> Fallible<Array> {
        let h = h.call("sysctl_find");
        let found = h.sysctl_find(pattern).map_err(host_error)?;
        Ok(found
            .into_iter()
            .map(|(key, value)| map([("key", Dynamic::from(key)), ("value", Dynamic::from(value))]))
            .collect())
    });
    engine.register_type_with_name::<SysctlManager>("rust_safe_system_info::system::SysctlManager");
    engine.register_fn("SysctlManager", || SysctlManager);
    let h = host.clone();
    engine.register_fn("read", move |_: &mut SysctlManager, key: &str| {
        let h = h.call("SysctlManager.read");
        h.sysctl_read(key).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn(
        "write",
        move |_: &mut SysctlManager, key: &str, value: &str| {
            let h = h.call("SysctlManager.write");
            h.sysctl_write(key, value).map_err(host_error)
        },
    );
    let h = host.clone();
    engine.register_fn(
        "find",
        move |_: &mut SysctlManager, pattern: &str| -> Fallible<Array> {
            let h = h.call("SysctlManager.find");
            let found = h.sysctl_find(pattern).map_err(host_error)?;
            Ok(found
                .into_iter()
                .map(|(key, value)| Dynamic::from(SysctlEntry { key, value }))
                .collect())
        },
    );
    engine.register_fn("load_system", |_: &mut SysctlManager| -> Fallible<()> {
        Err(invalid(
            "SysctlManager().load_system() is not available in Tollgate: it runs `sysctl --system` as root, loading every file under /etc/sysctl.d at once; set each key with write(key, value), which the policy decides key by key",
        ))
    });
}

/// The option builders: `DmesgOptions()` and `ResolveOptions()`.
fn register_options(engine: &mut Engine) {
    engine.register_type_with_name::<DmesgOptionsBuilder>(
        "rust_safe_system_info::options::DmesgOptionsBuilder",
    );
    engine.register_type_with_name::<DmesgOptions>("rust_safe_system_info::options::DmesgOptions");
    engine.register_fn("DmesgOptions", DmesgOptionsBuilder::default);
    engine.register_fn(
        "human_readable_time",
        |b: &mut DmesgOptionsBuilder, on: bool| {
            b.human_readable_time = on;
            b.clone()
        },
    );
    engine.register_fn("build", |b: &mut DmesgOptionsBuilder| DmesgOptions {
        human_readable_time: b.human_readable_time,
    });

    engine.register_type_with_name::<ResolveConfigBuilder>(
        "rust_safe_system_info::options::ResolveConfigBuilder",
    );
    engine
        .register_type_with_name::<ResolveConfig>("rust_safe_system_info::options::ResolveConfig");
    engine.register_fn("ResolveOptions", || ResolveConfigBuilder {
        hostname: None,
        protocol: TransportProtocol::AUTO,
        resolver: None,
        timeout_secs: 5,
    });
    engine.register_fn("hostname", |b: &mut ResolveConfigBuilder, name: &str| {
        b.hostname = Some(name.to_owned());
        b.clone()
    });
    // Kept, and checked by `resolve_hostname` (see `ResolveConfig::request`).
    engine.register_fn(
        "protocol",
        |b: &mut ResolveConfigBuilder, p: TransportProtocol| {
            b.protocol = p;
            b.clone()
        },
    );
    engine.register_fn("resolver", |b: &mut ResolveConfigBuilder, address: &str| {
        b.resolver = Some(address.to_owned());
        b.clone()
    });
    // Whole seconds, as Rex keeps it; the host bounds the lookup by it.
    engine.register_fn(
        "timeout",
        |b: &mut ResolveConfigBuilder, d: std::time::Duration| {
            b.timeout_secs = d.as_secs();
            b.clone()
        },
    );
    engine.register_fn("build", |b: &mut ResolveConfigBuilder| -> Fallible<ResolveConfig> {
        let hostname = b
            .hostname
            .clone()
            .ok_or_else(|| invalid("ResolveOptions: `hostname` must be set, e.g. ResolveOptions().hostname(\"example.com\").build()"))?;
        Ok(ResolveConfig {
            protocol: b.protocol,
            request: ResolveRequest {
                hostname,
                resolver: b.resolver.clone(),
                timeout_secs: b.timeout_secs,
            },
        })
    });
}
