//! Operations beyond files, through the gate.
//!
//!     cargo bench -p tollgate-host --bench ops
//!
//! `ps()`: starts 500 `sleep` processes and lists processes 50 times under a policy that lets
//! one user's processes be listed; prints the median.
//!
//! `execute`: runs /usr/bin/true ROUNDS times through the gate and as a bare fork/exec (default 2,000), the two interleaved in blocks
//! of 50 so that load on a shared machine hits both alike, and prints the medians of the
//! per-block means. The gated side authorizes open and execute, opens the binary beneath
//! `/`, derives and applies the Landlock ruleset and no_new_privs, and captures the output.

// Benchmarks set up their own files and processes, beside what the host does.
#![allow(clippy::disallowed_methods)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate_host::exec::ExecuteOptions;
use tollgate_host::{Host, Interrupt, Limits};
use tollgate_policy::{Gate, Policies, Recorder, Schema};

const POLICY: &str = r#"
permit(principal, action == file_system::Action::"open", resource == file_system::Dir::"/usr/bin");
permit(principal, action == file_system::Action::"execute", resource == file_system::File::"/usr/bin/true");
permit(principal, action in [file_system::Action::"write", file_system::Action::"create"], resource in file_system::Dir::"/tmp");
permit(principal, action == process_system::Action::"list", resource is process_system::Process) when { resource.username == "nobody" };
"#;

const BLOCK: usize = 50;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn bench_ps(host: &Host) {
    let mut sleepers: Vec<_> = (0..500)
        .map(|_| {
            // As `nobody`, the user the policy lets be listed (the bench runs as root).
            Command::new("sleep")
                .arg("600")
                .uid(65534)
                .spawn()
                .expect("spawn sleep")
        })
        .collect();
    let total = std::fs::read_dir("/proc")
        .expect("/proc")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    let mut times = Vec::new();
    let mut listed = 0;
    for _ in 0..50 {
        let start = Instant::now();
        listed = host.ps().expect("ps").len();
        times.push(start.elapsed().as_secs_f64());
    }
    for s in &mut sleepers {
        let _ = s.kill();
        let _ = s.wait();
    }
    println!(
        "ps() over {total} processes, {listed} listed (one user's): median {:.2} ms",
        median(times) * 1e3
    );
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let schema = Schema::tollgate().expect("schema");
    let policies = Policies::parse("bench.cedar", POLICY, &schema).expect("policy");
    let host = Host::new(
        Gate::new(
            schema,
            policies,
            "bench",
            Recorder::Unaudited,
            Arc::default(),
        ),
        Limits::default(),
        Interrupt::new(),
    )
    .expect("host");
    bench_ps(&host);
    let options = ExecuteOptions {
        timeout: Duration::from_secs(10),
        max_output_bytes: 1 << 20,
        ..Default::default()
    };
    let (mut gated, mut bare) = (Vec::new(), Vec::new());
    for _ in 0..rounds.div_ceil(BLOCK) {
        let start = Instant::now();
        for _ in 0..BLOCK {
            let r = host.execute("/usr/bin/true", &options).expect("execute");
            assert_eq!(r.exit_code, 0);
        }
        gated.push(start.elapsed().as_secs_f64() / BLOCK as f64);
        let start = Instant::now();
        for _ in 0..BLOCK {
            let status = Command::new("/usr/bin/true")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .expect("spawn");
            assert!(status.status.success());
        }
        bare.push(start.elapsed().as_secs_f64() / BLOCK as f64);
    }
    let (g, b) = (median(gated) * 1e3, median(bare) * 1e3);
    println!("execute /usr/bin/true, {rounds} runs each, median of per-{BLOCK} means:");
    println!("  through the gate: {g:.3} ms");
    println!("  bare fork/exec:   {b:.3} ms");
    println!("  difference:       {:.3} ms", g - b);
}
