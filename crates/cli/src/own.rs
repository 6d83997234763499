//! Tollgate's own files on this host, as the gate keeps them from every script and
//! `policy check` warns a scope covers them: where the audit log, its key, the kill
//! switch's state, the host config and what it names, the policy and its proposals, the
//! policy validation cache and the binary are.

use std::path::Path;

use tollgate_policy::{AbsPath, OwnFiles};

use crate::config::HostConfig;
use crate::control::StateDir;

/// Tollgate's own files for a run of `policy` with the audit log and host config given (or
/// their defaults) under `config`: each by the path given and,
/// where it exists, by the path it resolves to (the one a script could open).
pub fn own_files(
    policy: &Path,
    audit_log: Option<&Path>,
    config_flag: Option<&Path>,
    config: &HostConfig,
) -> OwnFiles {
    let mut own = OwnFiles::new();
    let mut add = |path: &Path, what: &str, secret: bool| {
        let given = std::path::absolute(path).ok();
        let resolved = std::fs::canonicalize(path).ok();
        for p in given.into_iter().chain(resolved) {
            // A path that is not UTF-8 cannot be named by a script either.
            if let Ok(p) = AbsPath::parse(&p.to_string_lossy()) {
                if secret {
                    own.hide(p, what);
                } else {
                    own.protect(p, what);
                }
            }
        }
    };
    if let Some(dir) = audit_log
        .map(Path::to_path_buf)
        .or_else(|| crate::audit::default_dir(config).ok())
    {
        add(&dir, "the audit log", false);
        add(
            &tollgate_audit::default_key_path(&dir),
            "the audit log's signing key",
            true,
        );
        if let Ok(log) = tollgate_audit::read_config(&dir) {
            add(&log.key, "the audit log's signing key", true);
        }
    }
    if let Ok(state) = StateDir::locate() {
        add(state.path(), "the kill switch's state", false);
    }
    add(
        &crate::config::location(config_flag).0,
        "the host config",
        false,
    );
    for (file, what) in [
        (&config.identity.jwks, "the host's trusted issuers"),
        (&config.identity.directory, "the host's directory"),
        (&config.labels, "the host's data labels"),
        (&config.audit_log, "the audit log"),
    ] {
        if let Some(file) = file {
            add(file, what, false);
        }
    }
    add(policy, "the run's policy", false);
    // A proposal written there would wait for approval as if an agent had made it through
    // the server, which checks it first.
    add(
        crate::proposals::Store::of(policy).dir(),
        "the policy's proposals",
        false,
    );
    // An entry there makes a policy text pass as validated.
    add(
        Path::new(tollgate_policy::VALIDATION_CACHE_DIR),
        "the policy validation cache",
        false,
    );
    if let Ok(exe) = std::env::current_exe() {
        add(&exe, "the tollgate binary", false);
    }
    // The process that holds the signing key (this one: the supervisor, which forks the
    // worker): its environment and memory maps are no script's to read.
    own.hide_process(std::process::id(), "the run's supervisor");
    own
}
