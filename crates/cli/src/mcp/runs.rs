//! `run_script`: each call a `tollgate run` of its own, started with the server's flags, its
//! result read back, cut to fit a tool result, and its progress told while it waits for a
//! slot and while it runs.
//!
//! The run is this binary's `run -` with the job on standard input and `--output agent`:
//! the object `--output json` prints, with `output` the script's value as JSON. A dropped
//! call (the client cancelled it) sends SIGTERM to the run's supervisor, which kills its
//! worker and records the run as cancelled.

use std::ffi::OsString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tollgate_script::ErrorType;

/// The most bytes of JSON a run's `output` takes in a tool result; past it the value is cut
/// to fit and `truncated` is set. About 16 000 tokens: what an agent's context can take in
/// one answer without crowding out the rest.
pub const MAX_OUTPUT_BYTES: usize = 64 << 10;

/// The most bytes of JSON a run's `logs` take in a tool result, cut as `output` is.
pub const MAX_LOG_BYTES: usize = 16 << 10;

/// How often a call with a progress token is told how its run is doing.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// How the server starts a run: this binary's `run` with the server's own flags, at most
/// as many at once as it has slots.
pub struct Runner {
    flags: Vec<OsString>,
    slots: Arc<Semaphore>,
    /// How many slots there are, for what a queued call is told.
    size: usize,
    /// A run's `--timeout`, for what a running call is told.
    timeout: Duration,
}

/// Where to tell a call's progress: the client, and the token it gave the call.
pub struct Progress {
    pub peer: Peer<RoleServer>,
    pub token: ProgressToken,
}

impl Progress {
    /// One notification; a client that has gone is not worth an error.
    async fn tell(&self, started: Instant, message: String) {
        let param =
            ProgressNotificationParam::new(self.token.clone(), started.elapsed().as_secs_f64())
                .with_message(message);
        let _ = self.peer.notify_progress(param).await;
    }
}

/// The server's command-line flags, as `tollgate run` takes them: everything after `mcp`
/// but the flags only the server has.
pub fn run_flags() -> Vec<OsString> {
    let mut flags = Vec::new();
    let mut args = std::env::args_os().skip_while(|a| a != "mcp").skip(1);
    // The flags only the server has, each with its value.
    const SERVER_ONLY: [&str; 2] = ["--max-concurrent-runs", "--invariants"];
    while let Some(a) = args.next() {
        let text = a.to_string_lossy();
        if SERVER_ONLY.contains(&text.as_ref()) {
            args.next();
        } else if !SERVER_ONLY
            .iter()
            .any(|f| text.starts_with(&format!("{f}=")))
        {
            flags.push(a);
        }
    }
    flags
}

/// Sends SIGTERM to a run's supervisor if the call is dropped (cancelled) before the run
/// ended: the supervisor kills its worker and records the run as cancelled.
struct CancelOnDrop {
    pid: u32,
    ended: Arc<AtomicBool>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.ended.load(Ordering::SeqCst) {
            // SAFETY: kill takes two integers. The child is not reaped until `ended` is set,
            // so the pid is still ours.
            unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        }
    }
}

/// A tool error for what went wrong in the server, not in the run.
fn internal(message: String) -> CallToolResult {
    CallToolResult::structured_error(json!({
        "status": "ERROR",
        "truncated": false,
        "error": {"error_type": ErrorType::Internal, "message": message},
    }))
}

impl Runner {
    pub fn new(flags: Vec<OsString>, slots: usize, timeout: Duration) -> Runner {
        Runner {
            flags,
            slots: Arc::new(Semaphore::new(slots)),
            size: slots,
            timeout,
        }
    }

    /// Runs `job` once a slot is free, telling `progress` (if given) every second while it
    /// waits and while it runs; its result, cut to fit.
    pub async fn run(&self, job: crate::run::Job, progress: Option<Progress>) -> CallToolResult {
        let started = Instant::now();
        let mut tick = tokio::time::interval(PROGRESS_EVERY);
        let acquire = Arc::clone(&self.slots).acquire_owned();
        tokio::pin!(acquire);
        let slot = loop {
            tokio::select! {
                // A free slot is taken before anyone is told the call waits for one.
                biased;
                slot = &mut acquire => break slot,
                _ = tick.tick() => if let Some(p) = &progress {
                    p.tell(started, format!(
                        "queued: all {} run slots of this server are busy (--max-concurrent-runs); the run starts when one ends",
                        self.size
                    )).await;
                },
            }
        };
        let Ok(_slot) = slot else {
            return internal("the server is shutting down".to_owned());
        };
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => return internal(format!("cannot find the tollgate binary: {e}")),
        };
        let input = match serde_json::to_vec(&job) {
            Ok(i) => i,
            Err(e) => return internal(format!("cannot encode the run: {e}")),
        };
        let child = std::process::Command::new(exe)
            .arg("run")
            .arg("-")
            .arg("--job-from-stdin")
            .arg("--output")
            .arg("agent")
            .args(&self.flags)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return internal(format!("cannot start the run: {e}")),
        };
        let ended = Arc::new(AtomicBool::new(false));
        let _guard = CancelOnDrop {
            pid: child.id(),
            ended: Arc::clone(&ended),
        };
        let waited = tokio::task::spawn_blocking(move || {
            use std::io::{Read, Write};
            // The child reads its whole job before it starts; a write error shows as the
            // child's own error below.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.write_all(&input);
            }
            let mut out = Vec::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_end(&mut out);
            }
            // The supervisor has closed its output: it is ending. Once reaped, its pid may be
            // reused, so a late cancel must not signal it.
            ended.store(true, Ordering::SeqCst);
            let status = child.wait();
            (out, status)
        });
        tokio::pin!(waited);
        let running = Instant::now();
        tick.reset_immediately();
        let waited = loop {
            tokio::select! {
                biased;
                waited = &mut waited => break waited,
                _ = tick.tick() => if let Some(p) = &progress {
                    p.tell(started, format!(
                        "running for {} s (--timeout {} s)",
                        running.elapsed().as_secs(),
                        self.timeout.as_secs()
                    )).await;
                },
            }
        };
        let (out, status) = match waited {
            Ok(v) => v,
            Err(e) => return internal(format!("the run did not finish: {e}")),
        };
        let mut report: Value = match serde_json::from_slice(&out) {
            Ok(r) => r,
            Err(_) => {
                return internal(format!(
                    "the run ended ({}) without a result",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string())
                ))
            }
        };
        fit_report(&mut report);
        if report["status"] == "SUCCESS" {
            CallToolResult::structured(report)
        } else {
            CallToolResult::structured_error(report)
        }
    }
}

/// Cuts `output` and `logs` to their limits, and says whether it did: `truncated`, and
/// `output_bytes`, the size of the whole output, when that was cut.
fn fit_report(report: &mut Value) {
    let mut truncated = false;
    if let Some(output) = report.get_mut("output") {
        let whole = output.to_string().len();
        if whole > MAX_OUTPUT_BYTES {
            *output = fit(output, MAX_OUTPUT_BYTES);
            report["output_bytes"] = json!(whole);
            truncated = true;
        }
    }
    if let Some(logs) = report.get_mut("logs") {
        if logs.to_string().len() > MAX_LOG_BYTES {
            *logs = fit(logs, MAX_LOG_BYTES);
            truncated = true;
        }
    }
    report["truncated"] = json!(truncated);
}

/// The first part of `value` whose JSON is at most `budget` bytes, still the same shape: an
/// array keeps its first items whole (an array or object item may itself be cut, as the
/// last one kept), an object its first entries (the last one's value cut to fit), a string
/// its first characters. What does not fit is left out (alone, it becomes null).
fn fit(value: &Value, budget: usize) -> Value {
    let mut left = budget;
    fitted(value, &mut left, false).unwrap_or(Value::Null)
}

/// `value` in at most `left` bytes of JSON (taking them off `left`), or `None` if nothing
/// of it fits. With `whole`, a string or a scalar is kept whole or not at all: a line of a
/// list of lines is not cut.
fn fitted(value: &Value, left: &mut usize, whole: bool) -> Option<Value> {
    // Brackets, and a comma or a colon per entry: what a container costs besides its
    // contents.
    const BRACKETS: usize = 2;
    match value {
        Value::String(s) => {
            let quoted = Value::String(s.clone()).to_string().len();
            if quoted <= *left {
                *left -= quoted;
                return Some(value.clone());
            }
            if whole {
                return None;
            }
            // Escapes can make the JSON longer than the text; the cut counts the JSON.
            let mut cut = String::new();
            let mut used = 2;
            for c in s.chars() {
                let cost = Value::String(c.to_string()).to_string().len() - 2;
                if used + cost > *left {
                    break;
                }
                used += cost;
                cut.push(c);
            }
            if cut.is_empty() {
                return None;
            }
            *left -= used;
            Some(Value::String(cut))
        }
        Value::Array(items) => {
            if *left < BRACKETS {
                return None;
            }
            *left -= BRACKETS;
            let mut kept = Vec::new();
            for item in items {
                // The comma before every item but the first.
                let comma = usize::from(!kept.is_empty());
                if *left <= comma {
                    break;
                }
                *left -= comma;
                let cut_before = *left;
                match fitted(item, left, true) {
                    Some(v) => {
                        let whole_item = v == *item;
                        kept.push(v);
                        if !whole_item {
                            break;
                        }
                    }
                    None => {
                        *left = cut_before + comma;
                        break;
                    }
                }
            }
            Some(Value::Array(kept))
        }
        Value::Object(entries) => {
            if *left < BRACKETS {
                return None;
            }
            *left -= BRACKETS;
            let mut kept = serde_json::Map::new();
            for (key, item) in entries {
                let comma = usize::from(!kept.is_empty());
                let key_cost = Value::String(key.clone()).to_string().len() + 1 + comma;
                if key_cost >= *left {
                    break;
                }
                *left -= key_cost;
                match fitted(item, left, false) {
                    Some(v) => {
                        let whole_item = v == *item;
                        kept.insert(key.clone(), v);
                        if !whole_item {
                            break;
                        }
                    }
                    None => {
                        *left += key_cost;
                        break;
                    }
                }
            }
            Some(Value::Object(kept))
        }
        scalar => {
            let cost = scalar.to_string().len();
            if cost > *left {
                return None;
            }
            *left -= cost;
            Some(scalar.clone())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_that_fits_is_left_as_it_is() {
        let v = json!({"a": [1, 2, "three"], "b": null});
        assert_eq!(fit(&v, 1000), v);
    }

    #[test]
    fn cuts_to_the_budget_keeping_the_shape() {
        let lines: Vec<String> = (0..10_000).map(|i| format!("line {i}: ERROR x")).collect();
        let v = json!({"file": "/var/log/x", "lines": lines});
        let cut = fit(&v, 4096);
        let text = cut.to_string();
        assert!(text.len() <= 4096, "{}", text.len());
        assert!(text.len() > 4000, "{}", text.len());
        assert_eq!(cut["file"], "/var/log/x");
        let kept = cut["lines"].as_array().unwrap();
        assert!(!kept.is_empty());
        assert_eq!(kept[0], "line 0: ERROR x");
        assert_eq!(
            kept[kept.len() - 1],
            format!("line {}: ERROR x", kept.len() - 1)
        );
    }

    #[test]
    fn cuts_a_long_string_by_its_json() {
        let s = "\"quoted\"\n".repeat(10_000);
        let cut = fit(&json!(s), 1000);
        let text = cut.to_string();
        assert!(text.len() <= 1000 && text.len() > 990, "{}", text.len());
        assert!(s.starts_with(cut.as_str().unwrap()));
    }

    #[test]
    fn keeps_the_lines_of_a_list_whole() {
        let cut = fit(&json!(["aaaa", "bbbb", "cccc"]), 16);
        assert_eq!(cut, json!(["aaaa", "bbbb"]));
        assert!(cut.to_string().len() <= 16);
        // A list of records: the last record kept is cut, not dropped.
        let cut = fit(&json!([{"file": "a", "text": "x".repeat(100)}]), 40);
        assert_eq!(cut[0]["file"], "a");
        assert!(cut.to_string().len() <= 40, "{cut}");
        assert!(!cut[0]["text"].as_str().unwrap().is_empty());
    }

    #[test]
    fn a_report_says_when_it_was_cut() {
        let mut report = json!({"status": "SUCCESS", "output": "x".repeat(MAX_OUTPUT_BYTES * 2)});
        fit_report(&mut report);
        assert_eq!(report["truncated"], true);
        assert_eq!(report["output_bytes"], MAX_OUTPUT_BYTES * 2 + 2);
        assert!(report["output"].to_string().len() <= MAX_OUTPUT_BYTES);
        let mut small = json!({"status": "SUCCESS", "output": [1, 2]});
        fit_report(&mut small);
        assert_eq!(small["truncated"], false);
        assert!(small.get("output_bytes").is_none());
    }
}
