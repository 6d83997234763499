//! The audit trail under faults: a full file system, writers killed mid-run, concurrent runs.

mod common;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Paths that the log shows a permitted `write` on.
fn permitted_writes(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter(|r| {
            r["kind"] == "decision"
                && r["decision"] == "permit"
                && r["action"] == r#"file_system::Action::"write""#
        })
        .map(|r| r["resource_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The files under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut files = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path.display().to_string());
        }
    }
    files
}

/// Checks that each file under `out/` has a permitted `write` in the log; returns how many.
fn assert_every_write_was_recorded(s: &Sandbox, records: &[Value]) -> usize {
    let recorded = permitted_writes(records);
    let written = files_under(std::path::Path::new(&s.path("out")));
    for f in &written {
        assert!(
            recorded.contains(f),
            "{f} was written without a permit record"
        );
    }
    written.len()
}

/// Starts `tollgate run SCRIPT --policy POLICY` on the sandbox's audit log, in the background.
fn spawn_run(s: &Sandbox, script: &str, policy: &str) -> std::process::Child {
    Command::new(binary())
        .args([
            "run",
            script,
            "--policy",
            policy,
            "--audit-log",
            &s.audit_dir(),
        ])
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

const WRITE_LOOP: &str = r#"for i in 0..100000 { write(`{ROOT}/out/f${i}`, "x"); } 1"#;

#[test]
fn a_full_file_system_stops_the_run_and_nothing_is_done_unrecorded() {
    let s = Sandbox::new();
    fs::create_dir_all(s.path("out")).unwrap();
    let policy = s.write("p.cedar", &ALL_IN_ROOT.replace("{ROOT}", &s.path("")));
    let script = s.write("s.rhai", &WRITE_LOOP.replace("{ROOT}", &s.path("")));
    let mnt = s.audit.path().join("small");
    let copy = s.audit.path().join("copy");
    fs::create_dir_all(&mnt).unwrap();
    // A 256 KiB tmpfs in a private mount namespace (as root, or as an unprivileged user
    // mapped to root), holding the audit log; the log is copied out before the namespace
    // goes away.
    let shell = format!(
        "mount -t tmpfs -o size=256k tmpfs {mnt} && {bin} audit init --dir {mnt}/log >/dev/null && \
         {bin} run {script} --policy {policy} --audit-log {mnt}/log > {out}; echo $? > {code}; cp -r {mnt}/log {copy}",
        mnt = mnt.display(),
        bin = binary(),
        script = script,
        policy = policy,
        out = s.audit.path().join("stdout").display(),
        code = s.audit.path().join("code").display(),
        copy = copy.display(),
    );
    let status = Command::new("unshare")
        .args(["--mount", "--map-root-user", "sh", "-c", &shell])
        .status()
        .unwrap();
    assert!(
        status.success(),
        "unshare/mount failed: run as root or enable user namespaces"
    );
    let code: i32 = fs::read_to_string(s.audit.path().join("code"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stdout = fs::read_to_string(s.audit.path().join("stdout")).unwrap();
    assert_eq!(code, 4, "{stdout}");
    assert!(stdout.contains("audit log"), "{stdout}");
    let (c, out, err) = s.audit(&[
        "show",
        "--dir",
        &copy.display().to_string(),
        "--output",
        "json",
    ]);
    assert_eq!(c, 0, "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let written = assert_every_write_was_recorded(&s, &records);
    assert!(written > 10, "the file system filled too early: {written}");
}

/// Kills runs at random moments, many times; the log must verify (once the next writer has
/// sealed a torn line) and every file a run wrote must have its permit record.
#[test]
fn writers_killed_at_random_points_leave_a_verifiable_log() {
    let s = Sandbox::new();
    let policy = s.write("p.cedar", &ALL_IN_ROOT.replace("{ROOT}", &s.path("")));
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for run in 0..24 {
        // Each run writes into a directory of its own, so that we can tell when it has begun
        // writing however slow start-up is on this machine.
        let out = format!("out/{run}");
        fs::create_dir_all(s.path(&out)).unwrap();
        let script = s.write(
            &format!("s{run}.rhai"),
            &WRITE_LOOP.replace("{ROOT}/out", &s.path(&out)),
        );
        let mut child = spawn_run(&s, &script, &policy);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if run % 2 == 1 {
            // Half the kills land mid-write: wait for the first file, then a little more.
            let dir = s.path(&out);
            let start = std::time::Instant::now();
            while fs::read_dir(&dir).unwrap().next().is_none() {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "run {run} never wrote"
                );
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros(seed % 10_000));
        } else {
            // The others land anywhere, start-up included.
            std::thread::sleep(Duration::from_micros(2_000 + seed % 40_000));
        }
        child.kill().unwrap();
        child.wait().unwrap();
    }
    // The next writer repairs a torn final line, if the last kill left one.
    let r = s.run(READ_IN_ROOT, "1");
    assert_eq!(r.code, 0, "{:#}", r.json);
    let (code, out, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{out}{err}");
    let records = s.records();
    assert!(assert_every_write_was_recorded(&s, &records) >= 12);
}

#[test]
fn concurrent_runs_share_one_log_safely() {
    let s = Sandbox::new();
    s.write("a.txt", "a");
    let policy = s.write("p.cedar", &READ_IN_ROOT.replace("{ROOT}", &s.path("")));
    let script = s.write(
        "s.rhai",
        &r#"for i in 0..200 { cat("{ROOT}/a.txt"); } 1"#.replace("{ROOT}", &s.path("")),
    );
    let children: Vec<_> = (0..4).map(|_| spawn_run(&s, &script, &policy)).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let (code, out, err) = s.audit(&["verify", "--dir", &s.audit_dir()]);
    assert_eq!(code, 0, "{out}{err}");
    let records = s.records();
    // Per run: start, 200 cats of three decisions each, the release of its answer, end.
    assert_eq!(records.len(), 4 * (2 + 600 + 1));
}
