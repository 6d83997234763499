//! Shared by the integration tests: a temp directory, a policy, and the real binary.
#![allow(dead_code)]

pub mod mcp;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// The audit log of the sandbox's runs, outside the directory the policies open up.
    pub audit: tempfile::TempDir,
}

/// What one run of `tollgate run` produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub json: Value,
    pub stderr: String,
    /// Peak resident set of the child, in KiB (from wait4's rusage).
    pub max_rss_kib: i64,
}

impl Run {
    pub fn output(&self) -> &str {
        self.json["output"].as_str().unwrap_or("")
    }

    pub fn error_type(&self) -> &str {
        self.json["error"]["error_type"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.json["error"]["message"].as_str().unwrap_or("")
    }

    /// Asserts success and returns the output.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "run failed: {:#}", self.json);
        self.output()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            audit: tempfile::tempdir().unwrap(),
        }
    }

    /// The sandbox's absolute path (no symlinks in it, so policies can name it).
    pub fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// `root()/rel` as a string.
    pub fn path(&self, rel: &str) -> String {
        let root = self.root();
        if rel.is_empty() {
            root.display().to_string()
        } else {
            root.join(rel).display().to_string()
        }
    }

    pub fn write(&self, rel: &str, content: &str) -> String {
        let p = self.root().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p.display().to_string()
    }

    /// Runs `script` under `policy` (with `{ROOT}` replaced by the sandbox path in both).
    pub fn run(&self, policy: &str, script: &str) -> Run {
        self.run_with(policy, script, &[])
    }

    pub fn run_with(&self, policy: &str, script: &str, extra: &[&str]) -> Run {
        self.run_env(policy, script, extra, &[])
    }

    /// As `run_with`, with variables added to the binary's environment.
    pub fn run_env(&self, policy: &str, script: &str, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let root = self.path("");
        let policy_path = self.policy_file(policy);
        let mut args: Vec<String> = vec!["run".into(), "-".into(), "--policy".into(), policy_path];
        if !extra
            .iter()
            .any(|a| *a == "--audit-log" || *a == "--no-audit")
        {
            args.push("--audit-log".into());
            args.push(self.audit_dir());
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let state = self.state_dir();
        let mut env = env.to_vec();
        env.push(("TOLLGATE_STATE_DIR", &state));
        run_binary_env(&args, &script.replace("{ROOT}", &root), &env)
    }

    /// Writes `policy` (with `{ROOT}` replaced) beside the audit log, outside the sandbox: a
    /// policy is Tollgate's own file, and the kernel lets nothing new be made directly in a
    /// directory that holds one.
    pub fn policy_file(&self, policy: &str) -> String {
        let path = self.audit.path().join("policy.cedar");
        std::fs::write(&path, policy.replace("{ROOT}", &self.path(""))).unwrap();
        path.display().to_string()
    }

    /// The sandbox's own kill-switch state directory, so that a test's freeze stays its own.
    pub fn state_dir(&self) -> String {
        self.audit.path().join("state").display().to_string()
    }

    /// `tollgate ARGS...` with the sandbox's state directory.
    pub fn tollgate(&self, args: &[&str]) -> Command {
        let mut c = Command::new(binary());
        c.args(args).env("TOLLGATE_STATE_DIR", self.state_dir());
        c
    }

    /// Writes a host config file outside what the policies open and returns its path.
    pub fn config(&self, value: &Value) -> String {
        let path = self.audit.path().join("config.json");
        std::fs::write(&path, value.to_string()).unwrap();
        path.display().to_string()
    }

    pub fn audit_dir(&self) -> String {
        self.audit.path().join("log").display().to_string()
    }

    /// Runs `tollgate audit ARGS...` and returns (exit code, stdout, stderr).
    pub fn audit(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["audit"];
        all.extend_from_slice(args);
        tollgate_output(&all)
    }

    /// The signed checkpoints in the log's checkpoints file, oldest first, each a note.
    pub fn checkpoint_notes(&self) -> Vec<String> {
        let path = self.audit.path().join("log/checkpoints.notes");
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut notes = Vec::new();
        let mut rest = text.as_str();
        // A note's text ends at a blank line; its signature lines start with an em dash.
        while let Some(blank) = rest.find("\n\n") {
            let mut end = blank + 2;
            while rest[end..].starts_with("\u{2014} ") {
                end += rest[end..].find('\n').unwrap() + 1;
            }
            notes.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        notes
    }

    /// Rewrites the log's checkpoints file to hold `notes`.
    pub fn set_checkpoint_notes(&self, notes: &[String]) {
        let path = self.audit.path().join("log/checkpoints.notes");
        std::fs::write(path, notes.concat()).unwrap();
    }

    /// The audit records as JSON values, in order.
    pub fn records(&self) -> Vec<Value> {
        let (code, out, err) =
            self.audit(&["show", "--dir", &self.audit_dir(), "--output", "json"]);
        assert_eq!(code, 0, "{err}");
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_tollgate")
}

/// Runs `tollgate ARGS...` and returns (exit code, stdout, stderr).
pub fn tollgate_output(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary()).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the binary with `stdin` and measures its peak memory.
pub fn run_binary(args: &[String], stdin: &str) -> Run {
    run_binary_env(args, stdin, &[])
}

/// As `run_binary`, with variables added to the binary's environment.
pub fn run_binary_env(args: &[String], stdin: &str, env: &[(&str, &str)]) -> Run {
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A run refused before it reads its script (a policy or labels file that does not load)
    // exits first: the script it never read is not the test's failure.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other.unwrap(),
    }
    let pid = child.id() as i32;
    let mut stdout = String::new();
    let mut stderr = String::new();
    use std::io::Read;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    out.read_to_string(&mut stdout).unwrap();
    stderr.push_str(&t.join().unwrap());
    let (code, max_rss_kib) = wait_with_rusage(pid);
    // The child has been reaped by wait4; stop std from waiting again.
    std::mem::forget(child);
    let json = serde_json::from_str(stdout.trim()).unwrap_or(Value::String(stdout.clone()));
    Run {
        code,
        json,
        stderr,
        max_rss_kib,
    }
}

fn wait_with_rusage(pid: i32) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers to a status int and an rusage struct for wait4 to fill.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    (code, usage.ru_maxrss)
}

/// A policy that permits every file action below the sandbox.
pub const ALL_IN_ROOT: &str = r#"permit(principal, action in file_system::Action::"SafeIO", resource in file_system::Dir::"{ROOT}");"#;

/// Read-only access below the sandbox: open, read, stat.
pub const READ_IN_ROOT: &str = r#"permit(principal, action in [file_system::Action::"open", file_system::Action::"read", file_system::Action::"stat"], resource in file_system::Dir::"{ROOT}");"#;

pub fn exists(p: &str) -> bool {
    Path::new(p).symlink_metadata().is_ok()
}

/// A process to look at and signal; killed on drop if still running.
pub struct Sleeper(std::process::Child);

impl Sleeper {
    /// `sleep SECONDS` (a distinct duration tells tests' processes apart).
    pub fn start(seconds: &str) -> Sleeper {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new("sleep");
        cmd.arg(seconds);
        // A test runner started under nohup or in the background passes on ignored HUP or
        // INT; the child must react to them as a normal process does.
        // SAFETY: signal(2) is async-signal-safe, as pre_exec requires.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        Sleeper(cmd.spawn().unwrap())
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Waits up to 5 s for the process to end; returns the signal that ended it.
    pub fn ended_by(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.0.try_wait().unwrap() {
                return std::os::unix::process::ExitStatusExt::signal(&status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    pub fn running(&mut self) -> bool {
        self.0.try_wait().unwrap().is_none()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
