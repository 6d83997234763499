//! Fleet runs over real OpenSSH: each test starts sshd instances on loopback ports, each with
//! its own host key and an authorized_keys whose forced command pins a policy of its own, and
//! points `tollgate fleet` (driving the system's ssh client) at them.

mod common;

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const SSHD: &str = "/usr/sbin/sshd";

/// Installs the OpenSSH server and client the Debian way when they are missing, so the test
/// runs on a fresh machine as `.ci/run` does.
fn ensure_openssh() {
    // The tests of this file run as threads of one process: one of them installs, the
    // others wait for it (apt-get refuses to run twice at once).
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(install_openssh);
}

fn install_openssh() {
    let has = |cmd: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if Path::new(SSHD).exists() && has("ssh") && has("ssh-keygen") {
        return;
    }
    let install = "apt-get update -qq && apt-get install -y -qq openssh-server openssh-client";
    let status = Command::new("sh").args(["-c", install]).status().unwrap();
    assert!(
        status.success(),
        "openssh-server and openssh-client are needed: {install}"
    );
}

fn keygen(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "tollgate-test", "-f"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::read_to_string(path.with_extension("pub"))
        .unwrap()
        .trim()
        .to_owned()
}

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One sshd on 127.0.0.1, killed when dropped.
struct Sshd {
    child: Child,
    port: u16,
    host_key_pub: String,
    /// The audit log the host's forced command writes.
    audit: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sshd {
    /// Starts sshd whose only key is `client_pub`, forced to run Tollgate under `policy`.
    fn start(client_pub: &str, policy: &str) -> Sshd {
        Sshd::with_key_line(|d| {
            let policy_path = d.join("policy.cedar");
            fs::write(&policy_path, policy).unwrap();
            let forced = format!(
                "{} run - --policy {} --audit-log {} --args-from-ssh-command",
                binary(),
                policy_path.display(),
                d.join("audit").display()
            );
            format!("command=\"{forced}\",restrict {client_pub}")
        })
    }

    /// Starts sshd with one authorized_keys line, made from the host's directory.
    fn with_key_line(line: impl FnOnce(&Path) -> String) -> Sshd {
        fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host_key = d.join("host_key");
        let host_key_pub = keygen(&host_key);
        let audit = d.join("audit");
        fs::write(d.join("authorized_keys"), line(d) + "\n").unwrap();
        let port = closed_port();
        let config = d.join("sshd_config");
        fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPidFile {}\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
                 LogLevel ERROR\n",
                host_key.display(),
                d.join("authorized_keys").display(),
                d.join("sshd.pid").display()
            ),
        )
        .unwrap();
        let log = fs::File::create(d.join("sshd.log")).unwrap();
        let child = Command::new(SSHD)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut sshd = Sshd {
            child,
            port,
            host_key_pub,
            audit,
            _dir: dir,
        };
        sshd.wait_for_banner();
        sshd
    }

    fn wait_for_banner(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = fs::read_to_string(self._dir.path().join("sshd.log")).unwrap();
                panic!("sshd exited with {status}: {log}");
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut banner = [0u8; 4];
                if s.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "sshd did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key_pub)
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The caller's side: a client key, known_hosts, and the files `tollgate fleet` reads.
struct Caller {
    dir: tempfile::TempDir,
    client_pub: String,
}

impl Caller {
    fn new() -> Caller {
        ensure_openssh();
        let dir = tempfile::tempdir().unwrap();
        let client_pub = keygen(&dir.path().join("client_key"));
        Caller { dir, client_pub }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    /// The ssh options that make the client use this caller's key and trust exactly the
    /// given hosts' keys.
    fn ssh_options(&self, hosts: &[&Sshd]) -> Vec<String> {
        let known: String = hosts.iter().map(|h| h.known_hosts_line()).collect();
        let known = self.file("known_hosts", &known);
        let key = self.dir.path().join("client_key");
        [
            format!("IdentityFile={}", key.display()),
            "IdentitiesOnly=yes".into(),
            format!("UserKnownHostsFile={known}"),
            "GlobalKnownHostsFile=/dev/null".into(),
            "StrictHostKeyChecking=yes".into(),
            "LogLevel=ERROR".into(),
        ]
        .into_iter()
        .flat_map(|o| ["--ssh-option".to_owned(), o])
        .collect()
    }

    fn fleet(&self, hosts: &[String], script: &str, options: &[String], extra: &[&str]) -> Output {
        let hosts_file = self.file("hosts", &(hosts.join("\n") + "\n"));
        let script = self.file("script.rhai", script);
        Command::new(binary())
            .args(["fleet", "--hosts", &hosts_file, &script])
            .args(options)
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Reads one file below `root`, and nothing else.
fn read_policy(root: &str) -> String {
    READ_IN_ROOT.replace("{ROOT}", root)
}

#[test]
fn permits_on_one_host_denies_on_another_and_reports_the_unreachable_one() {
    let caller = Caller::new();
    let sandbox = Sandbox::new();
    let log = sandbox.write("app.log", "ready\nserving\n");
    let permitting = Sshd::start(&caller.client_pub, &read_policy(&sandbox.path("")));
    let denying = Sshd::start(&caller.client_pub, &read_policy("/srv/elsewhere"));
    let unreachable = format!("127.0.0.1:{}", closed_port());
    let args = caller.file(
        "args.json",
        &format!(r#"{{"path": {{"stringValue": "{log}"}}}}"#),
    );
    let out = caller.fleet(
        &[permitting.spec(), denying.spec(), unreachable.clone()],
        "cat(path)",
        &caller.ssh_options(&[&permitting, &denying]),
        &["--args", &args, "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let results = json_lines(&out);
    assert_eq!(results.len(), 3, "{results:?}");

    let ok = &results[0];
    assert_eq!(ok["host"], permitting.spec());
    assert_eq!(ok["status"], "SUCCESS", "{ok:#}");
    assert_eq!(ok["exit_code"], 0);
    assert_eq!(ok["result"]["output"], "ready\nserving\n");
    assert!(ok["duration_ms"].is_u64());

    let denied = &results[1];
    assert_eq!(denied["status"], "DENIED", "{denied:#}");
    assert_eq!(denied["exit_code"], 4);
    assert_eq!(
        denied["result"]["error"]["error_type"],
        "ACCESS_DENIED_EXCEPTION"
    );
    let root = sandbox.path("");
    assert!(
        denied["error"].as_str().unwrap().contains(&root),
        "{denied:#}"
    );

    let gone = &results[2];
    assert_eq!(gone["host"], unreachable);
    assert_eq!(gone["status"], "UNREACHABLE", "{gone:#}");
    assert_eq!(gone["exit_code"], 255);
    assert!(
        gone["error"].as_str().unwrap().contains("refused"),
        "{gone:#}"
    );
    assert!(gone.get("result").is_none());

    // Each host recorded the decision in its own audit log.
    let denies = Command::new(binary())
        .args([
            "audit",
            "show",
            "--decision",
            "deny",
            "--output",
            "json",
            "--dir",
        ])
        .arg(&denying.audit)
        .output()
        .unwrap();
    assert!(denies.status.success(), "{denies:?}");
    assert!(String::from_utf8_lossy(&denies.stdout).contains(&root));
}

#[test]
fn exits_zero_and_prints_a_summary_only_when_every_host_succeeded() {
    let caller = Caller::new();
    let sandbox = Sandbox::new();
    let policy = read_policy(&sandbox.path(""));
    let a = Sshd::start(&caller.client_pub, &policy);
    let b = Sshd::start(&caller.client_pub, &policy);
    let script = format!(r#"cat("{}")"#, sandbox.write("motd", "all good\nsecond\n"));
    let out = caller.fleet(
        &[a.spec(), b.spec()],
        &script,
        &caller.ssh_options(&[&a, &b]),
        &[],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("HOST"), "{table}");
    for (line, host) in lines[1..3].iter().zip([a.spec(), b.spec()]) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[0], host, "{table}");
        assert_eq!(cols[1], "ok", "{table}");
        assert!(line.ends_with("all good"), "{table}");
    }
    assert_eq!(lines[3], "2 of 2 hosts succeeded");
}

#[test]
fn kills_and_reports_a_host_that_does_not_answer_within_the_timeout() {
    let caller = Caller::new();
    // Accepts the connection (the kernel does, from the backlog) and never says a word.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", silent.local_addr().unwrap().port());
    let started = Instant::now();
    let out = caller.fleet(
        std::slice::from_ref(&host),
        "1",
        &caller.ssh_options(&[]),
        &[
            "--timeout",
            "1s",
            "--connect-timeout",
            "30s",
            "--output",
            "json",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let result = &json_lines(&out)[0];
    assert_eq!(result["status"], "TIMEOUT", "{result:#}");
    assert!(result.get("exit_code").is_none(), "{result:#}");
    assert!(result["duration_ms"].as_u64().unwrap() >= 1000);
}

#[test]
fn an_ssh_caller_cannot_reach_the_command_line_through_the_remote_command() {
    let caller = Caller::new();
    let sandbox = Sandbox::new();
    let secret = sandbox.write("secret", "s3cret");
    let allow_all = sandbox.write("all.cedar", &ALL_IN_ROOT.replace("{ROOT}", "/"));
    let host = Sshd::start(&caller.client_pub, &read_policy("/srv/elsewhere"));
    let mut ssh = Command::new("ssh");
    for pair in caller.ssh_options(&[&host]).chunks(2) {
        ssh.args(["-o", &pair[1]]);
    }
    let mut child = ssh
        .args(["-T", "-p", &host.port.to_string(), "--", "127.0.0.1"])
        .arg(format!("--policy {allow_all} --no-audit"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(format!(r#"cat("{secret}")"#).as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["error"]["error_type"], "VALIDATION_EXCEPTION");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));
}

#[test]
fn a_host_without_the_forced_command_fails_and_its_shell_expands_nothing_in_the_arguments() {
    let caller = Caller::new();
    let marker = caller.dir.path().join("expanded");
    // A key line as a careless owner might write it: a login shell, no forced command.
    let plain = Sshd::with_key_line(|_| caller.client_pub.clone());
    let args = caller.file(
        "args.json",
        &format!(
            r#"{{"p": {{"stringValue": "$(touch {0}) `touch {0}`"}}}}"#,
            marker.display()
        ),
    );
    let out = caller.fleet(
        &[plain.spec()],
        "1",
        &caller.ssh_options(&[&plain]),
        &["--args", &args, "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let result = &json_lines(&out)[0];
    assert_eq!(result["status"], "FAILED", "{result:#}");
    assert_eq!(result["exit_code"], 127, "{result:#}");
    assert!(
        result["error"].as_str().unwrap().contains("forced command"),
        "{result:#}"
    );
    assert!(
        !marker.exists(),
        "the remote shell ran a command from the arguments"
    );
}

#[test]
fn refuses_a_hosts_file_line_that_ssh_would_read_as_an_option() {
    let caller = Caller::new();
    let out = caller.fleet(&["web-1".into(), "-oProxyCommand=sh".into()], "1", &[], &[]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(":2:") && err.contains("starts with `-`"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn takes_typed_json_arguments_from_the_ssh_command_bare_or_shell_quoted() {
    let sandbox = Sandbox::new();
    for sent in [
        r#"{"n": {"integerValue": 41}}"#,
        r#"'{"n": {"integerValue": 41}}'"#,
    ] {
        let run = sandbox.run_env(
            READ_IN_ROOT,
            "n + 1",
            &["--args-from-ssh-command"],
            &[("SSH_ORIGINAL_COMMAND", sent)],
        );
        assert_eq!(run.ok(), "42", "{sent}");
    }
}

#[test]
fn refuses_an_ssh_command_that_is_not_typed_json_arguments() {
    let sandbox = Sandbox::new();
    for sent in ["--policy /tmp/all.cedar", r#"{"n": 41}"#, "'{' '}'"] {
        let run = sandbox.run_env(
            READ_IN_ROOT,
            "1",
            &["--args-from-ssh-command"],
            &[("SSH_ORIGINAL_COMMAND", sent)],
        );
        assert_eq!(run.code, 3, "{sent}: {:#}", run.json);
        assert_eq!(run.error_type(), "VALIDATION_EXCEPTION");
        assert!(run.message().contains("typed JSON"), "{}", run.message());
    }
}
