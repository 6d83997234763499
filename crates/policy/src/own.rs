//! Tollgate's own files: the audit log, its signing key, the kill switch's state, the host
//! config and every file it names, the run's policy and the binary. The gate refuses to let
//! a script change them whatever the policy says, because a script that could would rewrite
//! its own rules, hide from the kill switch, or erase the record of what it did.

use crate::action::{Action, CHANGING};
use crate::path::AbsPath;
use crate::resource::Resource;

/// The actions that take a directory away with everything below it (an unmount takes away
/// the whole file system mounted there, and with it the view of what lies below).
const REMOVING: [Action; 3] = [Action::FsDelete, Action::FsMove, Action::FsUnmount];

/// One of Tollgate's own paths, and what it is (for the denial's message).
#[derive(Clone, Debug)]
struct OwnFile {
    path: AbsPath,
    what: String,
    /// Not even to be read: the signing key.
    secret: bool,
    /// Kept from the worker by the kernel otherwise than by its sandbox's path rules (a
    /// process's `/proc` directory: see [`OwnFiles::hide_process`]).
    kept_by_kernel: bool,
}

/// The paths the gate keeps from every script.
#[derive(Clone, Debug, Default)]
pub struct OwnFiles(Vec<OwnFile>);

impl OwnFiles {
    pub fn new() -> OwnFiles {
        OwnFiles::default()
    }

    /// Keeps `path` (and what is below it) from being changed: `what` names it, e.g.
    /// "the audit log".
    pub fn protect(&mut self, path: AbsPath, what: &str) {
        self.0.push(OwnFile {
            path,
            what: what.to_owned(),
            secret: false,
            kept_by_kernel: false,
        });
    }

    /// Keeps `path` from any access at all.
    pub fn hide(&mut self, path: AbsPath, what: &str) {
        self.0.push(OwnFile {
            path,
            what: what.to_owned(),
            secret: true,
            kept_by_kernel: false,
        });
    }

    /// Keeps a Tollgate process's `/proc/PID` from any access (its environment, its memory
    /// maps, its descriptors). A sandbox leaves it out of [`OwnFiles::sandbox_paths`]: path
    /// rules over `/proc` would need one per process, and the kernel keeps a process's
    /// memory by other means (Landlock's ptrace scoping; the supervisor is not dumpable and
    /// the worker has no `CAP_SYS_PTRACE`, where the kernel honours those for the rest).
    pub fn hide_process(&mut self, pid: u32, what: &str) {
        if let Ok(path) = AbsPath::parse(&format!("/proc/{pid}")) {
            self.0.push(OwnFile {
                path,
                what: what.to_owned(),
                secret: true,
                kept_by_kernel: true,
            });
        }
    }

    /// Why `action` on `resource` is refused, if it touches one of Tollgate's own files:
    /// any access to a secret, a change at or below an own path, or removing, moving or
    /// unmounting a directory that holds one.
    pub fn refuses(&self, action: Action, resource: &Resource) -> Option<&str> {
        let path = resource.path()?;
        self.0.iter().find_map(|own| {
            let at_or_below = path.starts_with(&own.path);
            let holds = own.path.starts_with(path);
            let refused = (at_or_below && (own.secret || CHANGING.contains(&action)))
                || (holds && REMOVING.contains(&action));
            refused.then_some(own.what.as_str())
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every own path, what it is, and whether it is secret (kept from reading too): what a
    /// sandbox leaves outside the rules it derives from the policy, and what the linter
    /// warns a scope covers.
    pub fn paths(&self) -> impl Iterator<Item = (&AbsPath, &str, bool)> {
        self.0
            .iter()
            .map(|own| (&own.path, own.what.as_str(), own.secret))
    }

    /// As [`OwnFiles::paths`], without those the kernel keeps by other means: what a
    /// sandbox's path rules must leave out.
    pub fn sandbox_paths(&self) -> impl Iterator<Item = (&AbsPath, &str, bool)> {
        self.0
            .iter()
            .filter(|own| !own.kept_by_kernel)
            .map(|own| (&own.path, own.what.as_str(), own.secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> AbsPath {
        AbsPath::parse(p).unwrap()
    }

    fn own() -> OwnFiles {
        let mut own = OwnFiles::new();
        own.protect(path("/var/log/tollgate/audit"), "the audit log");
        own.hide(
            path("/etc/tollgate/audit.key"),
            "the audit log's signing key",
        );
        own
    }

    #[test]
    fn refuses_every_change_at_or_below_an_own_path() {
        let own = own();
        for &action in CHANGING {
            for p in [
                "/var/log/tollgate/audit",
                "/var/log/tollgate/audit/segments/000001.jsonl",
            ] {
                assert_eq!(
                    own.refuses(action, &Resource::File(path(p))),
                    Some("the audit log"),
                    "{action} {p}"
                );
            }
        }
        assert_eq!(
            own.refuses(
                Action::FsRead,
                &Resource::File(path("/var/log/tollgate/audit/config.json"))
            ),
            None
        );
    }

    #[test]
    fn refuses_removing_or_moving_a_directory_that_holds_one() {
        let own = own();
        for p in ["/", "/var", "/var/log", "/var/log/tollgate"] {
            for action in REMOVING {
                assert!(
                    own.refuses(action, &Resource::Dir(path(p))).is_some(),
                    "{action} {p}"
                );
            }
            assert_eq!(
                own.refuses(Action::FsCreate, &Resource::Dir(path(p))),
                None,
                "{p}"
            );
        }
        assert_eq!(
            own.refuses(
                Action::FsDelete,
                &Resource::File(path("/var/log/tollgate-x"))
            ),
            None
        );
        assert_eq!(
            own.refuses(Action::FsDelete, &Resource::File(path("/var/log/syslog"))),
            None
        );
    }

    #[test]
    fn refuses_any_access_to_a_secret() {
        let own = own();
        for action in [
            Action::FsOpen,
            Action::FsRead,
            Action::FsRedactedRead,
            Action::FsStat,
        ] {
            assert_eq!(
                own.refuses(action, &Resource::File(path("/etc/tollgate/audit.key"))),
                Some("the audit log's signing key")
            );
        }
        assert_eq!(
            own.refuses(Action::FsRead, &Resource::File(path("/etc/tollgate/other"))),
            None
        );
    }
}
