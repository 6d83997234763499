//! Processes and system information, gated: real child processes, real /proc.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

const LIST_SLEEPERS: &str = r#"permit(principal, action == process_system::Action::"list", resource is process_system::Process) when { resource.name == "sleep" };"#;

#[test]
fn ps_lists_only_the_processes_the_policy_permits() {
    let sleeper = Sleeper::start("300");
    let s = Sandbox::new();
    let r = s.run(LIST_SLEEPERS, "ps()");
    let list: Vec<Value> = serde_json::from_str(r.ok()).unwrap();
    assert!(!list.is_empty());
    assert!(list.iter().all(|p| p["name"] == "sleep"), "{list:?}");
    let mine = list
        .iter()
        .find(|p| p["pid"] == sleeper.pid())
        .expect("the child is listed");
    for field in [
        "ppid",
        "uid",
        "username",
        "memory_usage",
        "memory_percent",
        "state",
        "historical_cpu_usage",
        "recent_cpu_usage",
        "pid_namespace",
    ] {
        assert!(mine.get(field).is_some(), "no {field}: {mine}");
    }
    assert_eq!(mine["command"], "sleep 300");
    assert_eq!(mine["ppid"], std::process::id());
    assert_eq!(s.run("", "ps()").ok(), "[]");
}

#[test]
fn kill_sends_term_to_a_permitted_process() {
    let mut sleeper = Sleeper::start("300");
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == process_system::Action::"kill", resource is process_system::Process) when { resource.name == "sleep" };"#;
    let r = s.run(policy, &format!("kill({})", sleeper.pid()));
    let killed: Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(
        killed,
        serde_json::json!([{"name": "sleep", "pid": sleeper.pid()}])
    );
    assert_eq!(sleeper.ended_by(), Some(libc::SIGTERM));
}

#[test]
fn kill_is_denied_and_the_process_lives() {
    let mut sleeper = Sleeper::start("300");
    let s = Sandbox::new();
    let r = s.run(
        LIST_SLEEPERS,
        &format!("kill([kill::KILL], {})", sleeper.pid()),
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(
        r.message().contains(r#"process_system::Action::"kill""#),
        "{}",
        r.message()
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(sleeper.running());
}

#[test]
fn hup_and_int_need_interrupt_not_kill() {
    let mut sleeper = Sleeper::start("300");
    let s = Sandbox::new();
    let kill_only = r#"permit(principal, action == process_system::Action::"kill", resource);"#;
    let r = s.run(kill_only, &format!("kill([kill::HUP], {})", sleeper.pid()));
    assert_eq!(r.code, 4);
    assert!(r.message().contains("interrupt"), "{}", r.message());
    let interrupt =
        r#"permit(principal, action == process_system::Action::"interrupt", resource);"#;
    let r = s.run(interrupt, &format!("kill([kill::HUP], {})", sleeper.pid()));
    assert_eq!(r.code, 0, "{:#}", r.json);
    assert_eq!(sleeper.ended_by(), Some(libc::SIGHUP));
}

#[test]
fn kill_refuses_bad_input_with_its_error() {
    let s = Sandbox::new();
    let all = r#"permit(principal, action in process_system::Action::"ProcessAction", resource);"#;
    let r = s.run(all, "kill(999999999)");
    assert_eq!(r.code, 5);
    assert!(r.message().contains("no such"), "{}", r.message());
    let r = s.run(all, "kill(-1)");
    assert_eq!(r.code, 5);
    assert!(r.message().contains("not a process id"), "{}", r.message());
    let r = s.run(all, "kill([kill::BOGUS], 1)");
    assert_ne!(r.code, 0);
    let r = s.run(all, "kill([ls::all], 1)");
    assert_eq!(r.code, 5);
    assert!(r.message().contains("kill module"), "{}", r.message());
}

#[test]
fn system_information_needs_list_on_sysinfo_or_read_on_its_kernel_file() {
    let s = Sandbox::new();
    let sys =
        r#"permit(principal, action == sysinfo::Action::"list", resource is sysinfo::Sysinfo);"#;
    let u: Value = serde_json::from_str(s.run(sys, "uname()").ok()).unwrap();
    assert_eq!(u["kernel_name"], "Linux");
    assert!(!s.run(sys, "hostname()").ok().is_empty());
    assert!(s.run(sys, "nproc()").ok().parse::<i64>().unwrap() >= 1);
    assert_eq!(
        s.run(sys, "free()").code,
        4,
        "free needs read on /proc/meminfo"
    );
    let files = r#"permit(principal, action == file_system::Action::"read", resource in file_system::Dir::"/proc");"#;
    let free: Value = serde_json::from_str(s.run(files, "free()").ok()).unwrap();
    let memory = &free["memory"];
    assert!(memory["total"].as_i64().unwrap() > 0);
    assert!(memory["available"].as_i64().unwrap() <= memory["total"].as_i64().unwrap());
    assert!(s.run(files, "uptime()").ok().parse::<f64>().unwrap() > 0.0);
    let load: Value = serde_json::from_str(s.run(files, "loadavg()").ok()).unwrap();
    assert!(load["fifteen"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        s.run(files, "uname()").code,
        4,
        "uname needs list on Sysinfo"
    );
}

#[test]
fn sysctl_keys_are_read_and_written_as_their_proc_sys_files() {
    let s = Sandbox::new();
    let read = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read"], resource in file_system::Dir::"/proc/sys/kernel");"#;
    assert_eq!(s.run(read, r#"sysctl_read("kernel.ostype")"#).ok(), "Linux");
    let r = s.run(read, r#"sysctl_read("vm.swappiness")"#);
    assert_eq!(r.code, 4, "{:#}", r.json);
    let r = s.run(read, r#"sysctl_read("kernel/../../etc/passwd")"#);
    assert_eq!(r.code, 5);
    assert!(r.message().contains("not a sysctl key"), "{}", r.message());
    // Writing needs write: denied here, and the value is unchanged.
    let before = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
    let r = s.run(
        read,
        r#"sysctl_write("kernel.domainname", "tollgate-test")"#,
    );
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap(),
        before
    );
}

#[test]
fn dmesg_needs_read_on_dev_kmsg() {
    let s = Sandbox::new();
    let r = s.run("", "dmesg()");
    assert_eq!(r.code, 4);
    assert!(r.message().contains("/dev/kmsg"), "{}", r.message());
    let policy = r#"permit(principal, action == file_system::Action::"read", resource == file_system::File::"/dev/kmsg");"#;
    let r = s.run(policy, "dmesg()");
    assert_eq!(r.code, 0, "{:#}", r.json);
    let entries: Vec<Value> = serde_json::from_str(r.output()).unwrap();
    assert!(entries
        .iter()
        .all(|e| e["message"].is_string() && e["timestamp_from_system_start"].is_string()));
}

#[test]
fn df_needs_stat_on_every_mount_it_lists() {
    let s = Sandbox::new();
    let root_only = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"stat", resource == file_system::Dir::"/");
"#;
    let script = r#"Filesystems(FilesystemOptions().targets(["/dev/shm"]).build()).filesystems()"#;
    let r = s.run(root_only, script);
    assert_eq!(r.code, 4, "{:#}", r.json);
    assert!(r.message().contains("/dev/shm"), "{}", r.message());
    let all = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/");
"#;
    let mounts: Vec<Value> = serde_json::from_str(s.run(all, "df()").ok()).unwrap();
    let root = mounts.iter().find(|m| m["mounted_on"] == "/").unwrap();
    assert!(root["size"].as_i64().unwrap() > 0);
    assert!(root["block_used"].as_i64().unwrap() <= root["size"].as_i64().unwrap());
    let r = s.run("", "df()");
    assert_eq!(
        r.code, 4,
        "reading the mount table needs read on /proc/mounts"
    );
}

#[test]
fn lsblk_and_iostat_need_read_on_the_kernel_tables() {
    let s = Sandbox::new();
    let policy = r#"
permit(principal, action == file_system::Action::"read", resource == file_system::Dir::"/sys/dev/block");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/partitions");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/mounts");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/swaps");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/stat");
permit(principal, action == file_system::Action::"read", resource == file_system::File::"/proc/diskstats");
"#;
    let devices: serde_json::Map<String, Value> =
        serde_json::from_str(s.run(policy, "lsblk()").ok()).unwrap();
    assert!(devices
        .iter()
        .all(|(name, d)| d["name"] == name.as_str() && d["size_kib"].is_i64()));
    let stats: Value = serde_json::from_str(s.run(policy, "iostat()").ok()).unwrap();
    assert!(stats["device_stats"]
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["device_name"].is_string() && d["rkb_per_sec"].is_f64()));
    assert_eq!(s.run("", "lsblk()").code, 4);
    assert_eq!(s.run("", "iostat()").code, 4);
}

#[test]
fn resolve_is_checked_per_host_name() {
    let s = Sandbox::new();
    let policy = r#"permit(principal, action == sysinfo::Action::"resolve_hostname", resource == sysinfo::Hostname::"localhost");"#;
    let addrs: Vec<Value> =
        serde_json::from_str(s.run(policy, r#"resolve("LocalHost")"#).ok()).unwrap();
    assert!(
        addrs.iter().any(|a| a == "127.0.0.1" || a == "::1"),
        "{addrs:?}"
    );
    let r = s.run(policy, r#"resolve("example.com")"#);
    assert_eq!(r.code, 4);
    assert!(r.message().contains("sysinfo::Hostname"), "{}", r.message());
    let r = s.run(policy, r#"resolve("bad host!")"#);
    assert_eq!(r.code, 5);
    assert!(r.message().contains("not a host name"), "{}", r.message());
}
