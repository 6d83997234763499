//! `tollgate fleet`: one script on many hosts, through the system's OpenSSH client.
//!
//! Each host pins its own policy with a forced command in `authorized_keys`, so all this side
//! sends is the script (on the ssh process's standard input, never through a shell) and the
//! typed-JSON arguments (as the remote command, which the forced command reads from
//! $SSH_ORIGINAL_COMMAND). It must never report a host as succeeded unless that host's
//! Tollgate said so, and never exit 0 unless every host succeeded.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::Value;
use tollgate_script::Limits;
use wait_timeout::ChildExt;

use crate::exit;
use crate::files::read_bounded;
use crate::printable;
use crate::run::{parse_duration, read_script};

/// ssh's own exit status for a failure of its own (connection, authentication, host key).
/// A remote Tollgate never exits with it.
const SSH_FAILED: i32 = 255;

/// The most of a host's standard output or error kept: a remote result is bounded by its
/// own --max-output (16 MiB by default), with room for the JSON around it.
const MAX_CAPTURE: u64 = 64 << 20;

#[derive(Args)]
pub struct FleetArgs {
    /// The hosts, one `[user@]host[:port]` per line; `#` starts a comment.
    #[arg(long, value_name = "FILE")]
    hosts: PathBuf,
    /// The Rhai script to run on every host, or `-` to read it from standard input.
    script: String,
    /// Script arguments in typed JSON (`{"name": {"stringValue": "x"}}`), sent to every host.
    #[arg(long, short = 'a')]
    args: Option<PathBuf>,
    /// How many hosts run at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    parallel: u16,
    /// Time allowed for one host, connection included; its ssh process is killed after it.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    timeout: Duration,
    /// Time allowed to connect to one host (ssh's ConnectTimeout, in whole seconds).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// A summary table, or one JSON object per host with the remote run's full result.
    #[arg(long, short = 'o', value_enum, default_value = "human")]
    output: FleetFormat,
    /// An OpenSSH client option for every host, e.g. `IdentityFile=~/.ssh/tollgate`
    /// (repeatable). BatchMode and ConnectTimeout are set by Tollgate and cannot be changed.
    #[arg(long = "ssh-option", value_name = "KEY=VALUE", value_parser = parse_ssh_option)]
    ssh_options: Vec<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FleetFormat {
    Json,
    Human,
}

/// Why nothing was sent to any host.
#[derive(Debug, thiserror::Error)]
enum FleetError {
    #[error("cannot read the hosts file {path}: {source}")]
    ReadHosts {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {reason}; write `[user@]host[:port]`, one per line")]
    BadHost {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{0} lists no hosts; add one `[user@]host[:port]` per line")]
    NoHosts(PathBuf),
    #[error("{0}")]
    Script(String),
    #[error("invalid arguments, nothing was sent: {0}")]
    Args(String),
}

fn parse_ssh_option(s: &str) -> Result<String, String> {
    match s.split_once('=') {
        Some((key, _)) if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Ok(s.to_owned())
        }
        _ => Err("expected KEY=VALUE, e.g. IdentityFile=/root/.ssh/tollgate".into()),
    }
}

/// One line of the hosts file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// As written in the file: how the host is named in the report.
    spec: String,
    user: Option<String>,
    name: String,
    port: Option<u16>,
}

impl Target {
    fn parse(spec: &str) -> Result<Target, String> {
        let (user, rest) = match spec.rsplit_once('@') {
            Some(("", r)) => return Err(format!("no user before `@` in {r}")),
            Some((u, r)) => (Some(u.to_owned()), r),
            None => (None, spec),
        };
        // `[v6]:port`, or `host:port`, or a bare host (an IPv6 address needs the brackets
        // once a port follows; a bare one without a port is taken whole).
        let (name, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (name, after) = inner
                .split_once(']')
                .ok_or_else(|| format!("`[` without `]` in {rest}"))?;
            match after {
                "" => (name, None),
                _ => match after.strip_prefix(':') {
                    Some(p) => (name, Some(p)),
                    None => return Err(format!("unexpected {after:?} after `]`")),
                },
            }
        } else {
            match rest.split_once(':') {
                Some((n, p)) if !p.contains(':') => (n, Some(p)),
                _ => (rest, None),
            }
        };
        let port = port
            .map(|p| {
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
            })
            .transpose()?;
        if name.is_empty() {
            return Err("no host name".into());
        }
        // A leading `-` would reach ssh as an option (e.g. -oProxyCommand=...).
        if name.starts_with('-') || user.as_deref().is_some_and(|u| u.starts_with('-')) {
            return Err(format!("{spec:?} starts with `-`"));
        }
        Ok(Target {
            spec: spec.to_owned(),
            user,
            name: name.to_owned(),
            port,
        })
    }
}

/// The hosts file: one target a line; blank lines and `#` comments (whole-line or trailing)
/// are skipped.
fn parse_hosts(path: &Path, text: &str) -> Result<Vec<Target>, FleetError> {
    let mut targets = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |reason: String| FleetError::BadHost {
            path: path.to_owned(),
            line: i + 1,
            reason,
        };
        if line.contains(char::is_whitespace) {
            return Err(bad(format!("{line:?} has more than one word")));
        }
        targets.push(Target::parse(line).map_err(bad)?);
    }
    if targets.is_empty() {
        return Err(FleetError::NoHosts(path.to_owned()));
    }
    Ok(targets)
}

/// How one host's run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum HostStatus {
    /// The remote Tollgate ran the script and it returned.
    Success,
    /// The host's policy denied a call (ACCESS_DENIED_EXCEPTION).
    Denied,
    /// The remote run failed otherwise, or the answer was not a Tollgate result.
    Failed,
    /// ssh could not connect, authenticate or verify the host key.
    Unreachable,
    /// No answer within --timeout; the ssh process was killed.
    Timeout,
}

impl HostStatus {
    fn label(self) -> &'static str {
        match self {
            HostStatus::Success => "ok",
            HostStatus::Denied => "denied",
            HostStatus::Failed => "failed",
            HostStatus::Unreachable => "unreachable",
            HostStatus::Timeout => "timeout",
        }
    }
}

/// What one host produced, as reported.
#[derive(Debug, Serialize)]
struct HostResult {
    host: String,
    status: HostStatus,
    duration_ms: u64,
    /// ssh's exit status: the remote Tollgate's exit code, or 255 for ssh's own failure.
    /// Absent when the process was killed.
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    /// The remote run's JSON result, as the host printed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl HostResult {
    /// The summary's last column: the output's first line, or the error's.
    fn first_line(&self) -> &str {
        let text = match (&self.error, &self.result) {
            (Some(e), _) => e.as_str(),
            (None, Some(r)) => r["output"].as_str().unwrap_or(""),
            (None, None) => "",
        };
        text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")
    }
}

/// What every host is sent, and how.
struct Job {
    script: String,
    /// The typed-JSON arguments, quoted as one shell word (see `ssh_command`).
    remote_command: String,
    timeout: Duration,
    connect_timeout: Duration,
    ssh_options: Vec<String>,
}

impl Job {
    fn ssh_args(&self, target: &Target) -> Vec<String> {
        // Tollgate's options come first: for each option ssh keeps the first value it sees.
        // ConnectTimeout takes whole seconds; round up so a short limit is not zero (none).
        let connect = self.connect_timeout.as_secs_f64().ceil().max(1.0) as u64;
        let mut args = vec![
            "-T".to_owned(),
            "-o".to_owned(),
            "BatchMode=yes".to_owned(),
            "-o".to_owned(),
            format!("ConnectTimeout={connect}"),
        ];
        for o in &self.ssh_options {
            args.push("-o".to_owned());
            args.push(o.clone());
        }
        if let Some(user) = &target.user {
            args.push("-l".to_owned());
            args.push(user.clone());
        }
        if let Some(port) = target.port {
            args.push("-p".to_owned());
            args.push(port.to_string());
        }
        args.push("--".to_owned());
        args.push(target.name.clone());
        args.push(self.remote_command.clone());
        args
    }
}

/// The remote command: the arguments as compact JSON (one line), quoted as one shell word.
/// The forced command takes it from $SSH_ORIGINAL_COMMAND and never runs it; were a host's
/// key missing its forced command, a shell would look for a command of that name and fail,
/// instead of expanding `$(...)` inside the arguments.
fn ssh_command(args_json: &Value) -> Result<String, String> {
    let text = serde_json::to_string(args_json).map_err(|e| e.to_string())?;
    shlex::try_quote(&text)
        .map(|q| q.into_owned())
        .map_err(|e| format!("the arguments cannot be sent as a remote command: {e}"))
}

pub fn main(args: FleetArgs) -> ExitCode {
    let (targets, job) = match prepare(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("tollgate fleet: {e}");
            return ExitCode::from(exit::code(tollgate_script::ErrorType::Validation));
        }
    };
    let results = run_all(&targets, &job, usize::from(args.parallel));
    match args.output {
        FleetFormat::Json => print_json(&results),
        FleetFormat::Human => print_table(&results),
    }
    if results.iter().all(|r| r.status == HostStatus::Success) {
        ExitCode::from(exit::SUCCESS)
    } else {
        ExitCode::from(exit::FLEET_INCOMPLETE)
    }
}

/// Everything checked before any host is contacted: the hosts file, the script and the
/// arguments (validated here as the hosts will, so a typo fails once, not 40 times).
fn prepare(args: &FleetArgs) -> Result<(Vec<Target>, Job), FleetError> {
    let text = std::fs::read_to_string(&args.hosts).map_err(|source| FleetError::ReadHosts {
        path: args.hosts.clone(),
        source,
    })?;
    let targets = parse_hosts(&args.hosts, &text)?;
    let max = Limits::default().max_string_size;
    let script = read_script(&args.script, max).map_err(FleetError::Script)?;
    let args_json = match &args.args {
        Some(path) => {
            let text = read_bounded(path, max).map_err(FleetError::Args)?;
            tollgate_script::parse_args(&text).map_err(|e| FleetError::Args(e.message))?;
            serde_json::from_str(&text).map_err(|e| FleetError::Args(e.to_string()))?
        }
        None => Value::Object(Default::default()),
    };
    Ok((
        targets,
        Job {
            script,
            remote_command: ssh_command(&args_json).map_err(FleetError::Args)?,
            timeout: args.timeout,
            connect_timeout: args.connect_timeout,
            ssh_options: args.ssh_options.clone(),
        },
    ))
}

/// Runs the job on every target, `parallel` at a time; results in the hosts file's order.
fn run_all(targets: &[Target], job: &Job, parallel: usize) -> Vec<HostResult> {
    let progress = progress_bar(targets.len());
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<HostResult>> = targets.iter().map(|_| None).collect();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..parallel.min(targets.len()))
            .map(|_| {
                s.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(target) = targets.get(i) else {
                            return done;
                        };
                        let result = run_host(target, job);
                        progress.inc(1);
                        progress.set_message(format!(
                            "{} {}",
                            printable::line(&target.spec),
                            result.status.label()
                        ));
                        done.push((i, result));
                    }
                })
            })
            .collect();
        for worker in workers {
            // A worker that panicked leaves its hosts without a result; they are reported
            // as failed below rather than dropped.
            if let Ok(done) = worker.join() {
                for (i, result) in done {
                    slots[i] = Some(result);
                }
            }
        }
    });
    progress.finish_and_clear();
    slots
        .into_iter()
        .zip(targets)
        .map(|(slot, target)| {
            slot.unwrap_or_else(|| HostResult {
                host: target.spec.clone(),
                status: HostStatus::Failed,
                duration_ms: 0,
                exit_code: None,
                result: None,
                error: Some("Tollgate failed while running this host; run it again".into()),
            })
        })
        .collect()
}

/// A bar on standard error when it is a terminal; nothing otherwise, so logs stay clean.
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed}] {bar:30} {pos}/{len} hosts  {msg}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// What came back from one ssh process.
struct Exchange {
    /// None when the process was killed at the timeout.
    exit: Option<std::process::ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn run_host(target: &Target, job: &Job) -> HostResult {
    let started = Instant::now();
    let exchange = exchange(target, job);
    let duration_ms = started.elapsed().as_millis() as u64;
    let (status, exit_code, result, error) = match exchange {
        Err(e) => (HostStatus::Failed, None, None, Some(e)),
        Ok(ex) => classify(&ex, job.timeout),
    };
    HostResult {
        host: target.spec.clone(),
        status,
        duration_ms,
        exit_code,
        result,
        error,
    }
}

/// Starts ssh for `target`, feeds it the script and collects its output, killing it at the
/// job's timeout.
fn exchange(target: &Target, job: &Job) -> Result<Exchange, String> {
    let mut child = Command::new("ssh")
        .args(job.ssh_args(target))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot start ssh: {e}; install the OpenSSH client (Debian: openssh-client)")
        })?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        // Stdio::piped() was asked for all three, so spawn() returned all three.
        let _ = child.kill();
        let _ = child.wait();
        return Err("ssh started without its pipes".into());
    };
    std::thread::scope(|s| {
        // The script is written from its own thread: a host that never reads it must not
        // hold off the timeout. Dropping the pipe ends the script for the remote side.
        s.spawn(move || {
            let _ = stdin.write_all(job.script.as_bytes());
        });
        let out = s.spawn(move || capture(stdout));
        let err = s.spawn(move || capture(stderr));
        let exit = match child.wait_timeout(job.timeout) {
            Ok(Some(status)) => Some(status),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("cannot wait for ssh: {e}"));
            }
        };
        // The readers end once ssh is gone and its pipes close.
        Ok(Exchange {
            exit,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    })
}

fn capture(pipe: impl Read) -> Vec<u8> {
    let mut bytes = Vec::new();
    let _ = pipe.take(MAX_CAPTURE).read_to_end(&mut bytes);
    bytes
}

/// Reads one host's outcome. Success needs both exit 0 and a Tollgate result saying
/// SUCCESS; anything else is reported with what the host said.
fn classify(
    ex: &Exchange,
    timeout: Duration,
) -> (HostStatus, Option<i32>, Option<Value>, Option<String>) {
    let Some(exit) = ex.exit else {
        let msg = format!(
            "no result within {}; the ssh process was killed (raise --timeout if the script needs longer)",
            humantime::format_duration(timeout)
        );
        return (HostStatus::Timeout, None, None, Some(msg));
    };
    let stderr = String::from_utf8_lossy(&ex.stderr);
    let code = exit.code();
    if code == Some(SSH_FAILED) {
        let why = last_line(&stderr).unwrap_or("ssh failed without saying why");
        return (HostStatus::Unreachable, code, None, Some(why.to_owned()));
    }
    let result = serde_json::from_slice::<Value>(&ex.stdout)
        .ok()
        .filter(Value::is_object);
    let Some(result) = result else {
        let said = String::from_utf8_lossy(&ex.stdout);
        let said = last_line(&said)
            .or_else(|| last_line(&stderr))
            .unwrap_or("nothing");
        let how = code.map_or_else(|| format!("{exit}"), |c| format!("exit code {c}"));
        let msg = format!(
            "the host did not answer with a Tollgate result ({how}; it said: {said}); \
             its key needs the forced command `tollgate run - --args-from-ssh-command ...`"
        );
        return (HostStatus::Failed, code, None, Some(msg));
    };
    let error_type = result["error"]["error_type"].as_str().unwrap_or("");
    let status = if code == Some(0) && result["status"] == "SUCCESS" {
        HostStatus::Success
    } else if error_type == "ACCESS_DENIED_EXCEPTION" {
        HostStatus::Denied
    } else {
        HostStatus::Failed
    };
    let error = (status != HostStatus::Success).then(|| {
        let message = result["error"]["message"].as_str().unwrap_or("");
        match (error_type, code) {
            ("", Some(c)) => format!("the remote run ended with exit code {c}"),
            ("", None) => format!("the remote run ended with {exit}"),
            _ => format!("{error_type}: {message}"),
        }
    });
    (status, code, Some(result), error)
}

fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

fn print_json(results: &[HostResult]) {
    let mut out = std::io::stdout().lock();
    for r in results {
        let line = serde_json::to_string(r).unwrap_or_else(|e| {
            format!(
                "{{\"host\":{:?},\"status\":\"FAILED\",\"error\":\"cannot encode the result: {e}\"}}",
                r.host
            )
        });
        // A closed stdout is not worth a panic; the exit code still reports the fleet.
        let _ = writeln!(out, "{line}");
    }
}

fn print_table(results: &[HostResult]) {
    // A closed stdout is not worth a panic; the exit code still reports the fleet.
    let _ = std::io::stdout()
        .lock()
        .write_all(table(results).as_bytes());
}

/// The summary: a row per host, then how many succeeded. Every cell is escaped before the
/// columns are measured: the output column is what a host printed, and a host name is read
/// from the hosts file.
fn table(results: &[HostResult]) -> String {
    use std::fmt::Write as _;
    let rows: Vec<[String; 4]> = results
        .iter()
        .map(|r| {
            [
                printable::line(&r.host).into_owned(),
                r.status.label().to_owned(),
                format!("{:.2}s", r.duration_ms as f64 / 1000.0),
                printable::line(r.first_line()).into_owned(),
            ]
        })
        .collect();
    let header = ["HOST", "STATUS", "TIME", "OUTPUT"].map(str::to_owned);
    let width = |col: usize| {
        rows.iter()
            .chain([&header])
            .map(|r| r[col].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths = [width(0), width(1), width(2)];
    // Writing to a String cannot fail.
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let _ = writeln!(
            out,
            "{:<w0$}  {:<w1$}  {:>w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    let ok = results
        .iter()
        .filter(|r| r.status == HostStatus::Success)
        .count();
    let _ = writeln!(out, "{ok} of {} hosts succeeded", results.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(spec: &str) -> Target {
        Target::parse(spec).unwrap()
    }

    #[test]
    fn parses_user_host_and_port() {
        let t = target("ops@web-1.example:2222");
        assert_eq!(t.user.as_deref(), Some("ops"));
        assert_eq!(t.name, "web-1.example");
        assert_eq!(t.port, Some(2222));
        let t = target("[::1]:22");
        assert_eq!((t.name.as_str(), t.port), ("::1", Some(22)));
        let t = target("10.0.0.7");
        assert_eq!((t.user, t.port), (None, None));
    }

    #[test]
    fn refuses_hosts_that_ssh_would_read_as_options() {
        assert!(Target::parse("-oProxyCommand=sh").is_err());
        assert!(Target::parse("-x@host").is_err());
    }

    #[test]
    fn refuses_bad_ports_and_empty_names() {
        for bad in ["host:0", "host:99999", "host:ssh", "@host", ":22", "[::1"] {
            assert!(Target::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn hosts_file_skips_comments_and_blank_lines_and_names_the_bad_line() {
        let path = Path::new("hosts");
        let hosts = parse_hosts(path, "# web\n\nweb-1  # primary\nops@db:2200\n").unwrap();
        let specs: Vec<_> = hosts.iter().map(|t| t.spec.as_str()).collect();
        assert_eq!(specs, ["web-1", "ops@db:2200"]);
        let err = parse_hosts(path, "web-1\nweb 2\n").unwrap_err().to_string();
        assert!(err.starts_with("hosts:2:"), "{err}");
        assert!(parse_hosts(path, "# none\n").is_err());
    }

    #[test]
    fn summary_table_escapes_what_hosts_printed_and_keeps_one_row_per_host() {
        let result = |host: &str, output: &str, error: Option<&str>| HostResult {
            host: host.to_owned(),
            status: if error.is_some() {
                HostStatus::Failed
            } else {
                HostStatus::Success
            },
            duration_ms: 1250,
            exit_code: Some(0),
            result: Some(serde_json::json!({"status": "SUCCESS", "output": output})),
            error: error.map(str::to_owned),
        };
        let text = table(&[
            result(
                "web-1",
                "\x1b]0;pwned\x07\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07fine\rweb-9  ok  0.01s  forged\nsecond",
                None,
            ),
            result("db-\u{202e}1", "", Some("FAILED: \x1b[31mred\x1b[0m")),
        ]);
        for bad in ['\x1b', '\x07', '\r', '\u{202e}'] {
            assert!(!text.contains(bad), "{bad:?} in {text:?}");
        }
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("HOST "), "{text}");
        assert!(
            lines[1].ends_with("\\x1b]0;pwned\\x07\\x1b[2J\\x1b]52;c;cm0gLXJmIH4=\\x07fine\\rweb-9  ok  0.01s  forged"),
            "{text}"
        );
        assert!(lines[2].starts_with("db-\\u{202e}1  failed"), "{text}");
        assert!(lines[2].ends_with("FAILED: \\x1b[31mred\\x1b[0m"), "{text}");
        // The columns line up with the escaped cells.
        assert_eq!(lines[1].find("ok"), lines[0].find("STATUS"), "{text}");
        assert_eq!(lines[2].find("failed"), lines[0].find("STATUS"), "{text}");
        assert_eq!(lines[3], "1 of 2 hosts succeeded");
    }

    #[test]
    fn sends_the_arguments_as_one_shell_word_after_the_options() {
        let args = serde_json::json!({"p": {"stringValue": "it's $(reboot)"}});
        let job = Job {
            script: String::new(),
            remote_command: ssh_command(&args).unwrap(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_millis(1500),
            ssh_options: vec!["BatchMode=no".into()],
        };
        let argv = job.ssh_args(&target("ops@h:2200"));
        let words = shlex::split(argv.last().unwrap()).unwrap();
        assert_eq!(words.len(), 1);
        assert_eq!(serde_json::from_str::<Value>(&words[0]).unwrap(), args);
        // Tollgate's BatchMode comes before the caller's, and ssh keeps the first.
        let batch = argv.iter().position(|a| a == "BatchMode=yes").unwrap();
        let theirs = argv.iter().position(|a| a == "BatchMode=no").unwrap();
        assert!(batch < theirs);
        assert!(argv.contains(&"ConnectTimeout=2".to_owned()));
        let dashdash = argv.iter().position(|a| a == "--").unwrap();
        assert_eq!(&argv[dashdash + 1..dashdash + 2], ["h"]);
    }
}
