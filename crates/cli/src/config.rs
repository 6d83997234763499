//! The host owner's config file: `tollgate run --config FILE`, else `$TOLLGATE_CONFIG`, else
//! `/etc/tollgate/config.json`. A missing default file is an empty config; a file named on
//! purpose must exist.
//!
//! ```json
//! {"audit_log": "/var/log/tollgate/audit",
//!  "redaction": {"redact_output": true,
//!                "rules": [{"name": "employee_id", "pattern": "EMP-\\d{6}", "placeholder": "[EMPLOYEE]"}]},
//!  "identity": {"jwks": "/etc/tollgate/issuers.jwks", "audience": ["web-1", "web"],
//!               "require_token": true, "directory": "/etc/tollgate/directory.json"},
//!  "labels": "/etc/tollgate/labels.json", "require_sandbox": true}
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use tollgate_host::redact::{CustomRule, Redactor};
use tollgate_policy::{Directory, LabelRules};

use crate::files::{read_bounded, sha256_hex};

/// What the config file says. Sections this version does not know are left to the versions
/// that do; inside the sections below, an unknown key is an error, so a misspelt setting
/// cannot silently turn redaction off.
#[derive(Debug, Default, Deserialize)]
pub struct HostConfig {
    pub audit_log: Option<PathBuf>,
    #[serde(default)]
    pub redaction: Redaction,
    #[serde(default)]
    pub identity: IdentityConfig,
    /// The data labels file (see `tollgate_policy::LabelRules`).
    pub labels: Option<PathBuf>,
    /// Refuse runs whose worker the kernel cannot fully confine (as `--require-sandbox`).
    #[serde(default)]
    pub require_sandbox: bool,
}

/// Whom the host trusts to delegate, and what it knows about people.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// The issuers' public keys (a JWKS file); needed to accept `--token`.
    pub jwks: Option<PathBuf>,
    /// The `aud` values that mean this host; default: its host name.
    #[serde(default)]
    pub audience: Vec<String>,
    /// Refuse every run that comes without a delegation token.
    #[serde(default)]
    pub require_token: bool,
    /// Users, groups and attributes (see `tollgate_policy::Directory`).
    pub directory: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// Host owner's rules, applied before the built-in detectors.
    #[serde(default)]
    rules: Vec<Rule>,
    /// Redact the run's whole output (result, logs, error message), whatever the policy says.
    #[serde(default)]
    pub redact_output: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: String,
    pattern: String,
    placeholder: String,
}

impl Redaction {
    /// The built-in detectors plus the rules; an invalid rule is refused with its name.
    pub fn redactor(&self) -> Result<Redactor, String> {
        let rules: Vec<CustomRule> = self
            .rules
            .iter()
            .map(|r| CustomRule {
                name: r.name.clone(),
                pattern: r.pattern.clone(),
                placeholder: r.placeholder.clone(),
            })
            .collect();
        Redactor::new(&rules).map_err(|e| e.to_string())
    }
}

/// Reads the config: `explicit` if given (it must exist), else `$TOLLGATE_CONFIG`, else the
/// default path (which may be missing).
pub fn load(explicit: Option<&Path>) -> Result<HostConfig, String> {
    let (path, must_exist) = location(explicit);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            serde_json::from_str(&text).map_err(|e| format!("config file {}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => {
            Ok(HostConfig::default())
        }
        Err(e) => Err(format!("config file {}: {e}", path.display())),
    }
}

/// Where the config file is, and whether it must exist (it was named on purpose).
pub fn location(explicit: Option<&Path>) -> (PathBuf, bool) {
    match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match std::env::var_os("TOLLGATE_CONFIG") {
            Some(p) => (PathBuf::from(p), false),
            None => (PathBuf::from("/etc/tollgate/config.json"), false),
        },
    }
}

/// What the host owner says about people and data: the directory of users and groups, and
/// the data labels. Either file missing from the config means none (no one is in a group,
/// nothing is labelled); a file that is named must load.
pub struct HostData {
    pub directory: Directory,
    pub labels: Arc<LabelRules>,
    /// The SHA-256 of each file that was read, for the run's start record: what a decision
    /// depended on must be provable later, as the policy is.
    pub digests: Option<serde_json::Value>,
}

/// Bound on what a host owner's file may weigh: it is read whole before every run.
pub const MAX_HOST_FILE_BYTES: usize = 64 << 20;

impl HostData {
    pub fn load(directory: Option<&Path>, labels: Option<&Path>) -> Result<HostData, String> {
        let mut digests = serde_json::Map::new();
        let mut read = |key: &str, path: &Path| {
            let text = read_bounded(path, MAX_HOST_FILE_BYTES)?;
            digests.insert(key.to_owned(), sha256_hex(text.as_bytes()).into());
            Ok::<_, String>(text)
        };
        let directory = match directory {
            None => Directory::default(),
            Some(path) => Directory::parse(&read("directory_sha256", path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        };
        let labels = match labels {
            None => LabelRules::default(),
            Some(path) => LabelRules::load_for_run(&read("labels_sha256", path)?)
                .map_err(|e| format!("{}: {e}", path.display()))?,
        };
        Ok(HostData {
            directory,
            labels: Arc::new(labels),
            digests: (!digests.is_empty()).then_some(serde_json::Value::Object(digests)),
        })
    }

    /// The files the host config names.
    pub fn of_config(config: &HostConfig) -> Result<HostData, String> {
        HostData::load(
            config.identity.directory.as_deref(),
            config.labels.as_deref(),
        )
    }
}
