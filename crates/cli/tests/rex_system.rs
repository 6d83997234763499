//! Rex's system information and disk SDK in Tollgate: the result types (`UnameInfo`,
//! `Meminfo`, `DmesgEntry`, `RhaiKernelStats`, `SlabInfo`, `SysctlEntry`, `Filesystem`,
//! `IoStatSnapshot`), their getters, `to_map()` and `to_string()`, the `SystemInfo()`,
//! `SysctlManager()` and `Filesystems()` objects with their options, and the Cedar action each
//! asks. Real /proc, /sys and /dev/kmsg; values are checked against what the kernel says.

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

const SYSINFO: &str =
    r#"permit(principal, action == sysinfo::Action::"list", resource is sysinfo::Sysinfo);"#;
const PROC_READ: &str = r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/proc");"#;
const EVERYTHING: &str = "permit(principal, action, resource);";

fn json(run: &Run) -> Value {
    serde_json::from_str(run.ok()).unwrap_or_else(|e| panic!("{e}: {}", run.output()))
}

fn uname(flag: &str) -> String {
    let out = Command::new("uname").arg(flag).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The value of `key` in /proc/meminfo, in bytes.
fn meminfo(key: &str) -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap();
    let kib: i64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[test]
fn uname_is_an_unameinfo_that_prints_as_uname_a() {
    let s = Sandbox::new();
    let v = json(&s.run(
        SYSINFO,
        "let u = uname(); [type_of(u), u.to_string(), u.to_map(), u.kernel_name, u.kernel_release, u.machine, u.processor, u.hardware_platform, u.operating_system, u.nodename, u.kernel_version]",
    ));
    assert_eq!(v[0], "rust_safe_system_info::uname::common::UnameInfo");
    let map = &v[2];
    let fields = [
        "kernel_name",
        "nodename",
        "kernel_release",
        "kernel_version",
        "machine",
        "processor",
        "hardware_platform",
        "operating_system",
    ];
    assert_eq!(map.as_object().unwrap().len(), 8, "{map}");
    let joined: Vec<&str> = fields.iter().map(|f| map[f].as_str().unwrap()).collect();
    assert_eq!(v[1], joined.join(" "));
    assert_eq!(v[3], uname("-s"));
    assert_eq!(v[4], uname("-r"));
    assert_eq!(v[5], uname("-m"));
    assert_eq!(v[6], v[5], "the processor is the machine on Linux");
    assert_eq!(v[7], v[5], "so is the hardware platform");
    assert_eq!(v[8], "GNU/Linux");
    assert_eq!(v[9], uname("-n"));
    assert_eq!(v[10], uname("-v"));
}

#[test]
fn uname_hostname_and_nproc_need_list_on_sysinfo() {
    let s = Sandbox::new();
    for call in [
        "uname()",
        "hostname()",
        "nproc()",
        "SystemInfo().uname_info()",
        "SystemInfo().cpu_count()",
        "SystemInfo().hostname()",
    ] {
        let r = s.run(PROC_READ, call);
        assert_eq!(r.code, 4, "{call}: {:#}", r.json);
        assert!(
            r.message().contains("sysinfo::Action::\"list\""),
            "{call}: {}",
            r.message()
        );
    }
    let v = json(&s.run(
        SYSINFO,
        "let i = SystemInfo(); [type_of(i), i.hostname(), hostname(), i.cpu_count(), nproc(), i.uname_info().to_string() == uname().to_string()]",
    ));
    assert_eq!(v[0], "rust_safe_system_info::system::SystemInfo");
    assert_eq!(v[1], uname("-n"));
    assert_eq!(v[1], v[2]);
    let cpus = std::thread::available_parallelism().unwrap().get() as i64;
    assert_eq!(v[3], cpus);
    assert_eq!(v[4], cpus);
    assert_eq!(v[5], true);
}

#[test]
fn free_gives_meminfo_and_swapinfo_in_bytes() {
    let s = Sandbox::new();
    let v = json(&s.run(
        PROC_READ,
        "let f = free(); [type_of(f.memory), type_of(f.swap), f.memory.to_map(), f.swap.to_map(), f.memory.to_string(), f.swap.to_string(), f.memory.shared_mem, f.memory.buffers, f.memory.cached]",
    ));
    assert_eq!(v[0], "rust_safe_system_info::memory::common::Meminfo");
    assert_eq!(v[1], "rust_safe_system_info::memory::common::Swapinfo");
    let m = &v[2];
    let keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "available",
            "buffers",
            "cached",
            "free",
            "shared_mem",
            "total",
            "used"
        ]
    );
    assert_eq!(m["total"], meminfo("MemTotal"));
    assert_eq!(
        m["used"].as_i64().unwrap(),
        m["total"].as_i64().unwrap() - m["available"].as_i64().unwrap()
    );
    let swap = &v[3];
    assert_eq!(swap["total"], meminfo("SwapTotal"));
    assert_eq!(
        swap["used"].as_i64().unwrap(),
        swap["total"].as_i64().unwrap() - swap["free"].as_i64().unwrap()
    );
    let text = v[4].as_str().unwrap();
    assert!(
        text.starts_with(&format!("Memory Info:\n  Total: {} bytes\n", m["total"])),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("  Shared: {} bytes", m["shared_mem"])),
        "{text}"
    );
    assert_eq!(
        v[5],
        format!(
            "Swap Info:\n  Total: {} bytes\n  Free: {} bytes\n  Used: {} bytes",
            swap["total"], swap["free"], swap["used"]
        )
    );
    assert_eq!(v[6], m["shared_mem"]);
    assert_eq!(v[7], m["buffers"]);
    assert_eq!(v[8], m["cached"]);
    // The methods of SystemInfo read the same file.
    let v = json(&s.run(
        PROC_READ,
        "let i = SystemInfo(); [i.memory_info().total, i.swap_info().total]",
    ));
    assert_eq!(v[0], meminfo("MemTotal"));
    assert_eq!(v[1], meminfo("SwapTotal"));
    for call in [
        "free()",
        "SystemInfo().memory_info()",
        "SystemInfo().swap_info()",
    ] {
        let r = s.run(SYSINFO, call);
        assert_eq!(r.code, 4, "{call}");
        assert!(r.message().contains("/proc/meminfo"), "{}", r.message());
    }
}

#[test]
fn dmesg_entries_carry_the_time_since_boot_or_a_local_date() {
    let s = Sandbox::new();
    let kmsg = r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"/dev/kmsg");"#;
    let v = json(&s.run(
        kmsg,
        "let d = dmesg(); [d.len(), type_of(d[0]), d[0].to_map(), d[0].to_string(), d[0].timestamp_from_system_start, d[0].message]",
    ));
    assert!(v[0].as_i64().unwrap() > 0);
    assert_eq!(v[1], "rust_safe_system_info::dmesg::common::DmesgEntry");
    let stamp = v[4].as_str().unwrap();
    assert_eq!(stamp.len(), 12, "{stamp:?}: right-aligned in 12 columns");
    let (secs, micros) = stamp.trim().split_once('.').unwrap();
    assert!(
        secs.parse::<u64>().is_ok() && micros.len() == 6,
        "{stamp:?}"
    );
    assert_eq!(v[3], format!("[{stamp}] {}", v[5].as_str().unwrap()));
    assert_eq!(v[2]["message"], v[5]);
    let r = s.run(
        kmsg,
        "let o = DmesgOptions().human_readable_time(true).build(); SystemInfo().dmesg_info(o)[0].timestamp_from_system_start",
    );
    let date = r.ok();
    let re = regex_lite(date);
    assert!(re, "{date:?} is not like `Fri Dec 04 01:16:47 2026`");
    let r = s.run(SYSINFO, "SystemInfo().dmesg_info(DmesgOptions().build())");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/dev/kmsg"), "{}", r.message());
}

/// `Www Mmm dd hh:mm:ss yyyy`.
fn regex_lite(date: &str) -> bool {
    let parts: Vec<&str> = date.split(' ').collect();
    let [day, month, dd, time, year] = parts[..] else {
        return false;
    };
    day.len() == 3
        && month.len() == 3
        && dd.len() == 2
        && dd.parse::<u32>().is_ok()
        && time.len() == 8
        && time
            .split(':')
            .all(|t| t.len() == 2 && t.parse::<u32>().is_ok())
        && year.len() == 4
        && year.parse::<u32>().is_ok()
}

#[test]
fn kernel_stats_are_the_counters_of_proc_stat() {
    let s = Sandbox::new();
    let stat_only = r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/stat");"#;
    let v = json(&s.run(
        stat_only,
        "let k = SystemInfo().kernel_stats(); [type_of(k), k.to_map(), type_of(k.total_cpu_time), k.cpu_time.len(), k.boot_time, k.total_cpu_time.user_ticks, k.total_cpu_time.user_ms, k.forks, k.context_switches]",
    ));
    assert_eq!(v[0], "rhai_safe_system_info::kernel_stats::RhaiKernelStats");
    let map = v[1].as_object().unwrap();
    let keys: Vec<&String> = map.keys().collect();
    assert_eq!(
        keys,
        [
            "boot_time",
            "context_switches",
            "cpu_time",
            "forks",
            "procs_blocked",
            "procs_running",
            "total_cpu_time"
        ]
    );
    assert_eq!(map["total_cpu_time"].as_object().unwrap().len(), 20);
    assert_eq!(v[2], "rhai_safe_system_info::kernel_stats::RhaiCpuTime");
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpus = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .count();
    assert_eq!(v[3], cpus as i64);
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(v[4], btime);
    let hz: i64 = String::from_utf8(
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .parse()
    .unwrap();
    assert_eq!(v[6].as_i64().unwrap(), v[5].as_i64().unwrap() * 1000 / hz);
    assert!(v[7].as_i64().unwrap() > 0 && v[8].as_i64().unwrap() > 0);
    let r = s.run(SYSINFO, "SystemInfo().kernel_stats()");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/proc/stat"), "{}", r.message());
}

#[test]
fn slab_info_is_a_file_read_of_proc_slabinfo() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/proc");
permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource == file_system::File::"/proc/slabinfo");
"#;
    let script = "let x = SystemInfo().slab_info(); let e = x.slabs[0]; [type_of(x), x.slabs.len(), x.summary.total_caches, x.summary.to_string(), x.slabs[0].objs >= x.slabs[x.slabs.len() - 1].objs, e.to_map(), e.use_percent, e.obj_size_kb, e.cache_size_kb, e.active_size_kb, type_of(x.summary)]";
    let readable = std::fs::File::open("/proc/slabinfo").is_ok();
    let r = s.run(policy, script);
    if !readable {
        // The kernel lets only root read it: the call fails after the gate permitted it.
        assert_ne!(r.code, 0, "{:#}", r.json);
        assert_ne!(r.code, 4, "{:#}", r.json);
        return;
    }
    let v = json(&r);
    assert_eq!(v[0], "rust_safe_system_info::slab::common::SlabInfo");
    assert_eq!(v[1], v[2], "one cache per entry");
    assert!(v[3]
        .as_str()
        .unwrap()
        .starts_with("Active / Total Objects (% used)    : "));
    assert_eq!(v[4], true, "most objects first");
    let e = v[5].as_object().unwrap();
    let keys: Vec<&String> = e.keys().collect();
    assert_eq!(
        keys,
        [
            "active",
            "name",
            "obj_per_slab",
            "obj_size_bytes",
            "objs",
            "pages_per_slab",
            "slabs"
        ]
    );
    let objs = e["objs"].as_i64().unwrap();
    let active = e["active"].as_i64().unwrap();
    assert_eq!(
        v[6].as_i64().unwrap(),
        if objs > 0 { active * 100 / objs } else { 0 }
    );
    assert_eq!(
        v[7].as_f64().unwrap(),
        e["obj_size_bytes"].as_i64().unwrap() as f64 / 1024.0
    );
    assert!(v[8].as_i64().unwrap() >= 0 && v[9].as_f64().unwrap() >= 0.0);
    assert_eq!(v[10], "rust_safe_system_info::slab::common::SlabSummary");
    let r = s.run(PROC_READ, "SystemInfo().slab_info()");
    assert_eq!(r.code, 4, "slab_info needs open on /proc: {:#}", r.json);
}

#[test]
fn resolve_hostname_takes_resolve_options_and_asks_for_the_name() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == sysinfo::Action::"resolve_hostname", resource == sysinfo::Hostname::"localhost");"#;
    let v = json(&s.run(
        policy,
        r#"let o = ResolveOptions().hostname("localhost").protocol(TransportProtocol::AUTO).timeout(Duration::from_secs(3)).build(); [SystemInfo().resolve_hostname(o), resolve("localhost"), TransportProtocol::TCP == TransportProtocol::TCP, TransportProtocol::TCP != TransportProtocol::UDP, type_of(TransportProtocol::AUTO)]"#,
    ));
    assert!(
        v[0].as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1" || a == "::1"),
        "{v}"
    );
    assert_eq!(v[0], v[1]);
    assert_eq!(v[2], true);
    assert_eq!(v[3], true);
    assert_eq!(v[4], "TransportProtocol");
    let r = s.run(
        policy,
        r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("example.com").build())"#,
    );
    assert_eq!(r.code, 4);
    assert!(
        r.message().contains(r#"sysinfo::Hostname::"example.com""#),
        "{}",
        r.message()
    );
    let r = s.run(policy, "ResolveOptions().build()");
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(r.message().contains("hostname"), "{}", r.message());
    // A resolver the script names would be an ungated connection: refused before the gate.
    let r = s.run(
        policy,
        r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").resolver("8.8.8.8").build())"#,
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(r.message().contains("system's resolver"), "{}", r.message());
}

#[test]
fn resolve_hostname_refuses_a_transport_the_system_resolver_cannot_be_told() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == sysinfo::Action::"resolve_hostname", resource == sysinfo::Hostname::"localhost");"#;
    for protocol in ["TCP", "UDP"] {
        let r = s.run(
            policy,
            &format!(
                r#"let out = "resolved"; try {{ SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").protocol(TransportProtocol::{protocol}).build()); }} catch (e) {{ out = `${{e.kind}}: ${{e.message}}`; }} out"#
            ),
        );
        let out = r.ok();
        assert!(
            out.starts_with("InvalidArguments")
                && out.contains(&format!(
                    "protocol(TransportProtocol::{protocol}) is not supported"
                )),
            "{protocol}: {out}"
        );
    }
}

#[test]
fn resolve_hostname_bounds_the_lookup_by_its_timeout() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == sysinfo::Action::"resolve_hostname", resource == sysinfo::Hostname::"localhost");"#;
    // No time at all (Rex keeps whole seconds) is refused, not ignored.
    let r = s.run(
        policy,
        r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").timeout(Duration::from_secs(0)).build())"#,
    );
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(
        r.message().contains("at least one second"),
        "{}",
        r.message()
    );
    // Within its timeout, the system's resolver answers for localhost.
    let v = json(&s.run(
        policy,
        r#"SystemInfo().resolve_hostname(ResolveOptions().hostname("localhost").timeout(Duration::from_secs(1)).build())"#,
    ));
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|a| a == "127.0.0.1" || a == "::1"),
        "{v}"
    );
}

#[test]
fn sysctl_find_matches_the_proc_sys_path_and_reads_each_match() {
    let s = Sandbox::new();
    let proc_sys = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"], resource in file_system::Dir::"/proc/sys");"#;
    let ostype = std::fs::read_to_string("/proc/sys/kernel/ostype").unwrap();
    let v = json(&s.run(
        proc_sys,
        r#"let m = SysctlManager(); let e = m.find("kernel/ostype$"); [sysctl_find("/kernel/ostype$"), type_of(e[0]), e[0].to_map(), e[0].key, e[0].value, m.read("kernel.ostype"), type_of(m), sysctl_find("^kernel").len()]"#,
    ));
    let expected = serde_json::json!([{"key": "kernel.ostype", "value": ostype.trim()}]);
    assert_eq!(v[0], expected, "sysctl_find gives plain maps");
    assert_eq!(v[1], "rust_safe_system_info::sysctl::common::SysctlEntry");
    assert_eq!(v[2], expected[0]);
    assert_eq!(v[3], "kernel.ostype");
    assert_eq!(v[4], ostype.trim());
    assert_eq!(v[5], ostype.trim());
    assert_eq!(v[6], "rust_safe_system_info::system::SysctlManager");
    assert_eq!(
        v[7], 0,
        "the pattern is matched against the whole path, /proc/sys/..."
    );
    // Walking /proc/sys needs read on it: a grant below it is not enough.
    let kernel_only = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"], resource in file_system::Dir::"/proc/sys/kernel");"#;
    let r = s.run(kernel_only, r#"sysctl_find("ostype")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains(r#"file_system::Dir::"/proc/sys""#),
        "{}",
        r.message()
    );
    let r = s.run(proc_sys, r#"sysctl_find("(")"#);
    assert_eq!(r.code, 5, "{:#}", r.json);
    assert!(r.message().contains("invalid regex"), "{}", r.message());
}

#[test]
fn sysctl_manager_writes_as_sysctl_write_and_does_not_load_the_system() {
    let s = Sandbox::new();
    let read_only = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/proc/sys/kernel");"#;
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let r = s.run(
        read_only,
        r#"SysctlManager().write("kernel.domainname", "tollgate-test")"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains(r#"file_system::Action::"write""#),
        "{}",
        r.message()
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
    let r = s.run(EVERYTHING, "SysctlManager().load_system()");
    assert_ne!(r.code, 0);
    assert!(r.message().contains("not available"), "{}", r.message());
}

/// The storage mounts of /proc/mounts as df lists them, mounted_on -> type.
fn storage_mounts() -> std::collections::BTreeMap<String, String> {
    let table = std::fs::read_to_string("/proc/mounts").unwrap();
    let pseudo = [
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
    table
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let (point, kind) = (f[1].replace("\\040", " "), f[2]);
            let skipped = pseudo.contains(&kind)
                || point.starts_with("/sys")
                || point.starts_with("/proc")
                || (point.starts_with("/run") && !point.starts_with("/run/media"));
            (!skipped).then(|| (point, kind.to_owned()))
        })
        .collect()
}

#[test]
fn df_lists_filesystem_objects_of_the_storage_mounts() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/");
"#;
    let v = json(&s.run(
        policy,
        r#"let d = df(); let r = d.filter(|f| f.mounted_on == "/")[0]; [type_of(r), d, r.size, r.kb_blocks, r.mb_blocks, r.block_used + r.block_available <= r.size, r.iused + r.ifree, r.inodes, r.mount_options, r.fs_kind, r.fs_device, r.block_use_percent, r.iuse_percent]"#,
    ));
    assert_eq!(v[0], "rust_safe_disk_info::df::common::Filesystem");
    let listed: std::collections::BTreeMap<String, String> = v[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["mounted_on"].as_str().unwrap().to_owned(),
                f["fs_kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = storage_mounts();
    assert!(
        listed.keys().all(|k| expected.contains_key(k)),
        "{listed:?} vs {expected:?}"
    );
    assert!(listed.contains_key("/"));
    let keys: Vec<&String> = v[1][0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "block_available",
            "block_use_percent",
            "block_used",
            "fs_device",
            "fs_kind",
            "ifree",
            "inodes",
            "iuse_percent",
            "iused",
            "kb_blocks",
            "mb_blocks",
            "mount_options",
            "mounted_on",
            "size"
        ]
    );
    let size = v[2].as_i64().unwrap();
    assert!(size > 0);
    assert_eq!(v[3].as_i64().unwrap(), size / 1024);
    assert_eq!(v[4].as_i64().unwrap(), size / (1024 * 1024));
    assert_eq!(v[5], true);
    assert_eq!(v[6], v[7]);
    assert!(
        v[8].as_array()
            .unwrap()
            .iter()
            .any(|o| o == "rw" || o == "ro"),
        "{}",
        v[8]
    );
    assert_eq!(v[9], expected["/"]);
    assert!(v[11].as_f64().unwrap() >= 0.0 && v[11].as_f64().unwrap() <= 100.0);
    assert!(v[12].as_f64().unwrap() >= 0.0 && v[12].as_f64().unwrap() <= 100.0);
    let r = s.run(
        r#"permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/");"#,
        "df()",
    );
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/proc/mounts"), "{}", r.message());
}

#[test]
fn filesystems_select_mounts_by_target_and_locality() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/stat");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/diskstats");
permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/");
"#;
    let v = json(&s.run(
        policy,
        r#"let f = Filesystems(FilesystemOptions().targets(["/dev/shm"]).build()); let l = Filesystems(FilesystemOptions().local(true).build()); [f.filesystems().map(|x| x.mounted_on), l.filesystems().len() <= df().len(), type_of(f.iostat()), type_of(f)]"#,
    ));
    let shm = storage_mounts().contains_key("/dev/shm");
    let selected = v[0].as_array().unwrap();
    assert!(selected
        .iter()
        .all(|m| m.as_str().unwrap().starts_with("/dev/shm")));
    assert_eq!(!selected.is_empty(), shm);
    assert_eq!(v[1], true);
    assert_eq!(v[2], "rust_safe_disk_info::iostat::common::IoStatSnapshot");
    assert_eq!(v[3], "rust_safe_disk_info::diskinfo::Filesystems");
    let v = json(&s.run(
        "",
        "[format_bytes(1048576, Unit::KILOBYTES), format_bytes(1048576, Unit::MEGABYTES), format_bytes(5, Unit::BYTES), Unit::MEGABYTES.to_string()]",
    ));
    assert_eq!(v, serde_json::json!([1024, 1, 5, "MEGABYTES"]));
}

#[test]
fn iostat_is_a_snapshot_of_cpu_shares_and_device_rates() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/stat");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/diskstats");"#;
    let v = json(&s.run(
        policy,
        "let i = iostat(); [type_of(i), i.to_string(), i.to_map(), type_of(i.cpu_stats), i.cpu_stats.user_percent + i.cpu_stats.nice_percent + i.cpu_stats.system_percent + i.cpu_stats.iowait_percent + i.cpu_stats.steal_percent + i.cpu_stats.idle_percent, i.device_stats.map(|d| d.device_name)]",
    ));
    assert_eq!(v[0], "rust_safe_disk_info::iostat::common::IoStatSnapshot");
    let text = v[1].as_str().unwrap();
    assert!(
        text.starts_with("avg-cpu:  %user   %nice %system %iowait  %steal   %idle\n"),
        "{text}"
    );
    assert!(text.contains("\nDevice:         rrqm/s"), "{text}");
    let map = v[2].as_object().unwrap();
    assert_eq!(map["cpu_stats"].as_object().unwrap().len(), 6);
    assert_eq!(v[3], "rust_safe_disk_info::iostat::common::CpuStats");
    let total = v[4].as_f64().unwrap();
    assert!((total - 100.0).abs() < 0.01 || total == 0.0, "{total}");
    let devices: Vec<String> = std::fs::read_to_string("/proc/diskstats")
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap().to_owned())
        .collect();
    let named: Vec<&str> = v[5]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(named, devices);
    let r = s.run(
        r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/diskstats");"#,
        "iostat()",
    );
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/proc/stat"), "{}", r.message());
}

#[test]
fn lsblk_maps_each_partition_table_device_by_name() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::Dir::"/sys/dev/block");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/partitions");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/swaps");
"#;
    let v: serde_json::Map<String, Value> =
        serde_json::from_str(s.run(policy, "lsblk()").ok()).unwrap();
    let partitions = std::fs::read_to_string("/proc/partitions").unwrap();
    for line in partitions.lines().skip(2) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [major, minor, blocks, name] = f[..] else {
            continue;
        };
        let dm = std::fs::read_to_string(format!("/sys/dev/block/{major}:{minor}/dm/name"))
            .map(|n| n.trim().to_owned())
            .unwrap_or_else(|_| name.to_owned());
        let d = &v[&dm];
        assert_eq!(d["maj"], major);
        assert_eq!(d["min"], minor);
        assert_eq!(d["size_kib"], blocks.parse::<i64>().unwrap());
        assert!(d["removable"] == "0" || d["removable"] == "1");
        assert!(d["read_only"] == "0" || d["read_only"] == "1");
        assert!(d["children"].is_array() && d["mount_point"].is_string() && d["type"].is_string());
    }
    let r = s.run(
        r#"permit(principal, action == file_system::Action::"read", resource == file_system::Dir::"/sys/dev/block");"#,
        "lsblk()",
    );
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/proc/partitions"), "{}", r.message());
}

const UNMOUNT_IN_ROOT: &str = r#"permit(principal, action == file_system::Action::"unmount", resource in file_system::Dir::"{ROOT}");"#;

/// What a run of `script` under `policy` did to a tmpfs mounted on `ROOT/mnt` for it, in a
/// mount namespace of its own (as root, or as an unprivileged user mapped to root), with
/// `extra` arguments to `tollgate run` (`{mnt}` in them and in the script is the mount
/// point): the run's JSON, its exit code, and whether the tmpfs was still mounted after.
fn run_on_a_tmpfs(s: &Sandbox, policy: &str, script: &str, extra: &str) -> (Value, i32, bool) {
    let mnt = s.path("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let policy = s.policy_file(policy);
    let script = s.write("s.rhai", &script.replace("{mnt}", &mnt));
    let out = s.audit.path().join("out");
    let code = s.audit.path().join("code");
    let state = s.audit.path().join("mounted");
    let shell = format!(
        "mount -t tmpfs tollgate-test {mnt} && \
         {bin} run {script} --policy {policy} {extra} > {out}; echo $? > {code}; \
         if grep -q ' {mnt} ' /proc/self/mountinfo; then echo yes; else echo no; fi > {state}",
        bin = binary(),
        extra = extra.replace("{mnt}", &mnt),
        out = out.display(),
        code = code.display(),
        state = state.display(),
    );
    let status = std::process::Command::new("unshare")
        .args(["--mount", "--map-root-user", "sh", "-c", &shell])
        .env("TOLLGATE_STATE_DIR", s.state_dir())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "unshare/mount failed: run as root or enable user namespaces"
    );
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap().trim().to_owned();
    let json: Value = serde_json::from_str(&read(&out)).unwrap();
    (json, read(&code).parse().unwrap(), read(&state) == "yes")
}

#[test]
fn unmount_takes_away_a_mounted_file_system_the_policy_permits() {
    let s = Sandbox::new();
    let (out, code, mounted) = run_on_a_tmpfs(
        &s,
        UNMOUNT_IN_ROOT,
        r#"unmount(UnmountOptions().path("{mnt}").build()); "done""#,
        "--no-audit",
    );
    assert_eq!(code, 0, "{out:#}");
    assert_eq!(out["output"], "done");
    assert!(!mounted, "the tmpfs is still mounted");
}

#[test]
fn unmount_without_the_permit_is_denied_and_the_file_system_stays() {
    let s = Sandbox::new();
    let (out, code, mounted) = run_on_a_tmpfs(
        &s,
        r#"permit(principal, action == file_system::Action::"unmount", resource in file_system::Dir::"{ROOT}/elsewhere");"#,
        r#"unmount(UnmountOptions().path("{mnt}").build())"#,
        "--no-audit",
    );
    assert_eq!(code, 4, "{out:#}");
    assert_eq!(out["error"]["error_type"], "ACCESS_DENIED_EXCEPTION");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(r#"file_system::Action::"unmount""#),
        "{message}"
    );
    assert!(mounted);
}

#[test]
fn unmount_of_a_directory_holding_tollgates_own_files_is_refused_whatever_the_policy_says() {
    let s = Sandbox::new();
    // The run's audit log is on the tmpfs: unmounting it would take the log away.
    let (out, code, mounted) = run_on_a_tmpfs(
        &s,
        UNMOUNT_IN_ROOT,
        r#"unmount(UnmountOptions().path("{mnt}").build())"#,
        "--audit-log {mnt}/log",
    );
    assert_eq!(code, 4, "{out:#}");
    let message = out["error"]["message"].as_str().unwrap();
    assert!(message.contains("audit log"), "{message}");
    assert!(mounted);
}

#[test]
fn unmount_of_a_path_that_is_not_a_mount_point_or_is_reached_through_a_symlink_is_refused() {
    let s = Sandbox::new();
    std::fs::create_dir_all(s.path("plain")).unwrap();
    std::os::unix::fs::symlink(s.path("mnt"), s.path("link")).unwrap();
    let script = format!(
        r#"
        let errors = [];
        for p in ["{plain}", "{link}"] {{
            try {{ unmount(UnmountOptions().path(p).build()); }} catch (e) {{ errors.push(e.message); }}
        }}
        errors
        "#,
        plain = s.path("plain"),
        link = s.path("link"),
    );
    let (out, code, mounted) = run_on_a_tmpfs(&s, UNMOUNT_IN_ROOT, &script, "--no-audit");
    assert_eq!(code, 0, "{out:#}");
    let errors: Value = serde_json::from_str(out["output"].as_str().unwrap()).unwrap();
    assert!(
        errors[0].as_str().unwrap().contains("is not a mount point"),
        "{errors:#}"
    );
    assert!(
        errors[1].as_str().unwrap().contains("symlink"),
        "{errors:#}"
    );
    assert!(mounted, "the tmpfs behind the symlink is still mounted");
    // And `build()` wants a path.
    let r = s.run("", "UnmountOptions().build()");
    assert_eq!(r.code, 5, "{:#}", r.json);
}
