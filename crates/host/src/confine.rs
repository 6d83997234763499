//! Landlock rulesets derived from the policy's scopes: where the kernel lets a script's
//! worker, and each binary it runs, read and write, whatever the gate decides.
//!
//! The rules are read off the policies' scopes alone (see [`Gate::permit_scopes`]), so they
//! cover at least everything some permit could allow: `when`/`unless` conditions, principal
//! scopes and `forbid` policies are left to the gate, which still decides every path exactly.
//!
//! Tollgate's own files stay outside every rule. Landlock grants a directory with everything
//! beneath it and cannot carve a hole in a grant, so where a scope holds an own file the rules
//! go instead on each entry of the scope that does not hold one, down to the own file's
//! parent. One consequence: nothing new can be made directly in a directory on that way
//! (with the log at `/var/log/tollgate/audit`, a write scope on `/var/log` does not let the
//! worker create `/var/log/new.log`; existing files there stay writable).

use std::io;
use std::os::fd::OwnedFd;

use landlock::{
    AccessFs, BitFlags, PathBeneath, Ruleset, RulesetAttr, RulesetCreated, RulesetCreatedAttr,
    RulesetStatus, ABI,
};
use rustix::fs::FileType;
use tollgate_policy::{AbsPath, Action, Gate, PathScopes};

use crate::fs::Root;

/// The actions whose permit scopes bound where a worker or a child may write.
const WRITE_ACTIONS: [Action; 4] = [
    Action::FsWrite,
    Action::FsCreate,
    Action::FsDelete,
    Action::FsMove,
];

/// The actions whose permit scopes bound where a worker may read. `execute` is among them
/// because the kernel opens a binary for reading to run it.
const READ_ACTIONS: [Action; 4] = [
    Action::FsOpen,
    Action::FsRead,
    Action::FsRedactedRead,
    Action::FsExecute,
];

/// What the worker may read whatever the policy says, because the SDK itself reads there:
/// the system's programs, libraries and configuration (what a permitted binary loads, name
/// resolution, user names) and the kernel's views of processes, the system, disks and
/// devices. Home directories, `/root`, `/var`, `/srv`, `/opt`, `/tmp` and `/mnt` are not
/// among them: only a permit's scope opens those.
const SYSTEM_READS: [&str; 12] = [
    "/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys",
    "/dev", "/run",
];

/// Reading a file's content and listing a directory.
fn read_rights() -> BitFlags<AccessFs> {
    AccessFs::ReadFile | AccessFs::ReadDir
}

/// How far the kernel confines a script's worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Landlock {
    /// Landlock enforces the ruleset; `reads` and `writes` say which of the two it narrows
    /// (false: some permit for them applies anywhere, so there is nothing to narrow).
    Enforced { reads: bool, writes: bool },
    /// Permits for reading and for writing both apply anywhere.
    Unbounded,
    /// The kernel has no (or only a partial) Landlock.
    Unsupported,
}

/// Confines the calling thread, and every thread and process it starts later: reading only
/// beneath the policy's read and write scopes and [`SYSTEM_READS`], writing, creating,
/// removing and renaming only beneath its write scopes (a scope that does not exist yet:
/// beneath its nearest existing ancestor, where it would be made) and `/dev/null`; both
/// beneath `appendable` (the audit log's segments, which the worker appends to). Tollgate's
/// own files are outside every rule for writing, its secrets outside every rule at all.
/// A script's worker calls it before it starts any thread.
pub fn confine_worker(gate: &Gate, appendable: &[AbsPath]) -> io::Result<Landlock> {
    let abi = ABI::V2;
    let writes = gate.permit_scopes(&WRITE_ACTIONS);
    let reads = gate.permit_scopes(&READ_ACTIONS);
    let narrow_writes = matches!(writes, PathScopes::Only { .. });
    let narrow_reads = narrow_writes && matches!(reads, PathScopes::Only { .. });
    let mut handled = BitFlags::empty();
    if narrow_writes {
        handled |= AccessFs::from_write(abi);
    }
    if narrow_reads {
        handled |= read_rights();
    }
    if handled.is_empty() {
        return Ok(Landlock::Unbounded);
    }
    let root = Root::new()?;
    let own = OwnPaths::of(gate);
    let mut rules = Rules::new(&root, handled, abi)?;
    rules.write_scopes(&writes, &own.all)?;
    for path in appendable {
        rules.add(path, handled, &[], Missing::Skip)?;
    }
    if narrow_reads {
        let system = SYSTEM_READS.iter().filter_map(|p| AbsPath::parse(p).ok());
        for (scopes, missing) in [(&reads, Missing::Skip), (&writes, Missing::Skip)] {
            let PathScopes::Only { dirs, files } = scopes else {
                continue;
            };
            for path in dirs.iter().chain(files) {
                rules.add(path, read_rights(), &own.secret, missing)?;
            }
        }
        for path in system {
            rules.add(&path, read_rights(), &own.secret, Missing::Skip)?;
        }
    }
    let status = rules.restrict()?;
    Ok(match status {
        RulesetStatus::FullyEnforced => Landlock::Enforced {
            reads: narrow_reads,
            writes: narrow_writes,
        },
        _ => Landlock::Unsupported,
    })
}

/// The ruleset for a binary a script runs: writing (truncating and device ioctls included)
/// only where [`confine_worker`] lets the worker write, Tollgate's own files outside it.
/// `None` when some permit for writing applies anywhere. The child also inherits the
/// worker's own ruleset, reads included.
pub(crate) fn child_ruleset(root: &Root, gate: &Gate) -> io::Result<Option<RulesetCreated>> {
    let abi = ABI::V5;
    let writes = gate.permit_scopes(&WRITE_ACTIONS);
    if !matches!(writes, PathScopes::Only { .. }) {
        return Ok(None);
    }
    let own = OwnPaths::of(gate);
    let mut rules = Rules::new(root, AccessFs::from_write(abi), abi)?;
    rules.write_scopes(&writes, &own.all)?;
    Ok(Some(rules.ruleset))
}

/// Tollgate's own paths, as the rules leave them out.
struct OwnPaths {
    /// Every own path: outside every rule for writing.
    all: Vec<AbsPath>,
    /// The secrets (the signing key): outside every rule at all.
    secret: Vec<AbsPath>,
}

impl OwnPaths {
    fn of(gate: &Gate) -> OwnPaths {
        let paths = gate.own_files().sandbox_paths();
        let (mut all, mut secret) = (Vec::new(), Vec::new());
        for (path, _, is_secret) in paths {
            all.push(path.clone());
            // A secret that does not exist when the worker is confined has nothing to read,
            // and only the supervisor makes one (a new log's key, before the worker starts):
            // leaving it out spares listing its directories (e.g. all of /etc) every run.
            if is_secret && std::fs::symlink_metadata(path.as_str()).is_ok() {
                secret.push(path.clone());
            }
        }
        OwnPaths { all, secret }
    }
}

/// What to do with a scope that does not exist yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Missing {
    /// Nothing: there is nothing to read there.
    Skip,
    /// A rule on its nearest existing ancestor: it can only come to be by being made there,
    /// which Landlock checks on that directory.
    Ancestor,
}

/// A ruleset being built.
struct Rules<'a> {
    root: &'a Root,
    ruleset: RulesetCreated,
    handled: BitFlags<AccessFs>,
    abi: ABI,
}

impl<'a> Rules<'a> {
    fn new(root: &'a Root, handled: BitFlags<AccessFs>, abi: ABI) -> io::Result<Rules<'a>> {
        let ruleset = Ruleset::default()
            .handle_access(handled)
            .map_err(landlock_error)?
            .create()
            .map_err(landlock_error)?;
        Ok(Rules {
            root,
            ruleset,
            handled,
            abi,
        })
    }

    /// Rules for writing beneath the write scopes and on `/dev/null`.
    fn write_scopes(&mut self, scopes: &PathScopes, excluded: &[AbsPath]) -> io::Result<()> {
        let PathScopes::Only { dirs, files } = scopes else {
            return Ok(());
        };
        let write = AccessFs::from_write(self.abi);
        for dir in dirs {
            self.add(dir, write, excluded, Missing::Ancestor)?;
        }
        for file in files {
            self.add(file, write, excluded, Missing::Skip)?;
        }
        let dev_null = AbsPath::parse("/dev/null").map_err(io::Error::other)?;
        self.add(&dev_null, write, &[], Missing::Skip)
    }

    /// Grants `rights` beneath `path`, except at and beneath `excluded`.
    fn add(
        &mut self,
        path: &AbsPath,
        rights: BitFlags<AccessFs>,
        excluded: &[AbsPath],
        missing: Missing,
    ) -> io::Result<()> {
        let rights = rights & self.handled;
        if rights.is_empty() || excluded.iter().any(|e| path.starts_with(e)) {
            return Ok(());
        }
        // Opened beneath `/` without following symlinks: a path that is (or passes through)
        // a symlink gets no rule, rather than a rule on wherever the link points.
        match self.root.reference(path) {
            Ok(fd) => self.add_at(path, fd, rights, excluded),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && missing == Missing::Ancestor => {
                match path.parent() {
                    Some(parent) => self.add(&parent, rights, excluded, missing),
                    None => Ok(()),
                }
            }
            Err(_) => Ok(()),
        }
    }

    fn add_at(
        &mut self,
        path: &AbsPath,
        fd: OwnedFd,
        rights: BitFlags<AccessFs>,
        excluded: &[AbsPath],
    ) -> io::Result<()> {
        let st = rustix::fs::fstat(&fd)?;
        if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
            let rights = rights & AccessFs::from_file(self.abi);
            return self.rule(fd, rights);
        }
        if !excluded.iter().any(|e| e.starts_with(path)) {
            return self.rule(fd, rights);
        }
        // The directory holds an own file: a rule on each entry instead, so that the entries
        // holding (or being) own files get none. Listing stays allowed where it was asked
        // for: it reveals the names, which the gate does not keep secret, never a content.
        self.rule(fd, rights & AccessFs::ReadDir)?;
        for (name, fd, is_dir) in self.root.entries_in(path)? {
            let Ok(child) = path.join(&name) else {
                continue;
            };
            if excluded.iter().any(|e| child.starts_with(e)) {
                continue;
            }
            if is_dir && excluded.iter().any(|e| e.starts_with(&child)) {
                self.add_at(&child, fd, rights, excluded)?;
            } else if is_dir {
                self.rule(fd, rights)?;
            } else {
                self.rule(fd, rights & AccessFs::from_file(self.abi))?;
            }
        }
        Ok(())
    }

    fn rule(&mut self, fd: OwnedFd, rights: BitFlags<AccessFs>) -> io::Result<()> {
        if rights.is_empty() {
            return Ok(());
        }
        (&mut self.ruleset)
            .add_rule(PathBeneath::new(fd, rights))
            .map_err(landlock_error)?;
        Ok(())
    }

    fn restrict(self) -> io::Result<RulesetStatus> {
        let status = self.ruleset.restrict_self().map_err(landlock_error)?;
        Ok(status.ruleset)
    }
}

fn landlock_error(e: landlock::RulesetError) -> io::Error {
    io::Error::other(e.to_string())
}
