//! Redaction throughput on a realistic log.
//!
//!     cargo bench -p tollgate-host --bench redact
//!
//! Generates a log of about 200 MB (`MB=n` to change it) in which 1% of lines carry a
//! sensitive value (an email, a card number, an IPv4 or IPv6 address, a JWT, an AWS key id, a
//! bearer token, a password assignment), the others being ordinary request lines full of
//! timestamps, numbers and hex ids. Then, interleaved ROUNDS times (default 7), it measures:
//!
//! - a plain read of the file in the buffer size the text commands use;
//! - the redactor alone, from the file to nowhere;
//! - a redacted read as a command gets it: the gate decides `open` + `read` (denied), then
//!   `open` + `redacted_read`, and the redacted copy is written to a temporary file;
//!
//! and prints medians in MB/s (10^6 bytes per second).

// Benchmarks set up their own files and processes, beside what the host does.
#![allow(clippy::disallowed_methods)]

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use tollgate_host::redact::Redactor;
use tollgate_host::{Host, Interrupt, Limits};
use tollgate_policy::{Gate, Policies, Recorder, Schema};

const POLICY: &str = r#"
permit(principal, action == file_system::Action::"open", resource);
permit(principal, action == file_system::Action::"redacted_read", resource);
"#;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One of the sensitive values, by line number.
fn sensitive(i: usize) -> String {
    match i % 8 {
        0 => format!("user=customer{i}@example.com signed in"),
        1 => "charge card=4111 1111 1111 1111 amount=12.50".to_owned(),
        2 => format!("peer 10.{}.{}.{} connected", i % 250, (i / 7) % 250, i % 199),
        3 => "peer 2001:db8::8a2e:370:7334 connected".to_owned(),
        4 => "token=eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".to_owned(),
        5 => "aws key AKIAIOSFODNN7EXAMPLE rotated".to_owned(),
        6 => "header Authorization: Bearer abc123def456ghi789jkl".to_owned(),
        _ => "config db_password=hunter2 reloaded".to_owned(),
    }
}

fn write_log(path: &std::path::Path, target: usize) -> usize {
    let mut out = BufWriter::new(File::create(path).expect("create log"));
    let mut written = 0;
    let mut i = 0usize;
    while written < target {
        let ms = i % 1000;
        let s = (i / 1000) % 60;
        let m = (i / 60_000) % 60;
        let body = if i % 100 == 42 {
            sensitive(i / 100)
        } else {
            format!(
                "GET /api/v2/items/{} status=200 bytes={} latency={}.{}ms req={:08x}",
                i % 9973,
                (i * 37) % 65536,
                i % 300,
                i % 10,
                i.wrapping_mul(2654435761) as u32
            )
        };
        let line = format!(
            "2026-11-20T08:{m:02}:{s:02}.{ms:03}Z INFO [worker-{}] {body}\n",
            i % 8
        );
        out.write_all(line.as_bytes()).expect("write log");
        written += line.len();
        i += 1;
    }
    out.flush().expect("flush log");
    written
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mb: usize = std::env::var("MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("tempdir");
    let dir_path = dir.path().canonicalize().expect("canonical");
    let log = dir_path.join("app.log");
    let size = write_log(&log, mb * 1_000_000);
    let lines = std::fs::read(&log)
        .map(|b| memchr::memchr_iter(b'\n', &b).count())
        .expect("read log");
    let schema = Schema::tollgate().expect("schema");
    let policies = Policies::parse("bench.cedar", POLICY, &schema).expect("policy");
    let limits = Limits {
        max_string_bytes: 1 << 30,
        ..Limits::default()
    };
    let host = Host::new(
        Gate::new(
            schema,
            policies,
            "bench",
            Recorder::Unaudited,
            Arc::default(),
        ),
        limits,
        Interrupt::new(),
    )
    .expect("host");
    let redactor = Redactor::default();
    let log_str = log.display().to_string();
    let mut buf = vec![0u8; 256 << 10];
    let (mut plain, mut alone, mut command) = (Vec::new(), Vec::new(), Vec::new());
    let mut replaced = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let mut f = File::open(&log).expect("open");
        let mut total = 0;
        loop {
            let n = f.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            total += n;
        }
        assert_eq!(total, size);
        plain.push(start.elapsed().as_secs_f64());

        let start = Instant::now();
        let mut f = File::open(&log).expect("open");
        let counts = redactor
            .redact_stream(
                |b| Ok(f.read(b).expect("read")),
                &mut std::io::sink(),
                1 << 30,
            )
            .expect("redact");
        alone.push(start.elapsed().as_secs_f64());
        replaced = counts.values().sum::<u64>();

        let start = Instant::now();
        let copy = host.open_text(&log_str).expect("redacted read");
        command.push(start.elapsed().as_secs_f64());
        assert!(copy.metadata().expect("stat").len() > 0);
    }
    let rate = |t: f64| size as f64 / t / 1e6;
    let (p, a, c) = (median(plain), median(alone), median(command));
    println!(
        "log of {:.1} MB, {lines} lines, 1% with a sensitive value ({replaced} replaced); median of {rounds}:",
        size as f64 / 1e6
    );
    println!(
        "  plain read:                     {:>8.1} ms  {:>8.0} MB/s",
        p * 1e3,
        rate(p)
    );
    println!(
        "  redaction alone:                {:>8.1} ms  {:>8.0} MB/s",
        a * 1e3,
        rate(a)
    );
    println!(
        "  redacted read (gate + copy):    {:>8.1} ms  {:>8.0} MB/s",
        c * 1e3,
        rate(c)
    );
}
