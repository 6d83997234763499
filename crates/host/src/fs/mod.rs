//! File operations. `root` resolves paths through descriptors; `text` holds the streaming
//! readers behind cat, grep, tail, wc, sed and awk; `read`, `write` and `walk` are the
//! commands, each asking the gate before it opens anything.

pub mod formats;
mod handle;
mod read;
mod root;
mod source_hash;

pub mod text;
mod walk;
mod write;

pub use handle::{
    replace_text, DirHandle, DirOptions, DiskUsage, DiskUsageOptions, FileHandle, FileOptions,
    FindFilter, HandleMetadata, LineMatch, LinesWanted, Owner, SymlinkHandle,
};
pub use root::Root;
pub use walk::{DuEntry, DuOptions, DuReport, Entry, EntryKind, LsOptions};
pub use write::{CpOptions, MvOptions, RmOptions, WriteMode};

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_policy::sdk_actions::OPEN;
use tollgate_policy::{AbsPath, Action, Context, Permit, Request, Resource};

use crate::error::{HostError, HostResult};
use crate::Host;
use root::is_link_error;
pub(crate) use root::{OpenDir, OpenMode};

/// A chain of symlinks longer than this is refused, as the kernel refuses (ELOOP).
const MAX_LINK_HOPS: usize = 8;

/// Whether a path is asked about as a File or a Dir entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

impl Kind {
    pub(crate) fn resource(self, path: AbsPath) -> Resource {
        match self {
            Kind::File => Resource::File(path),
            Kind::Dir => Resource::Dir(path),
        }
    }
}

/// What an open does with a symlink at the end of the path: follow it (authorizing its
/// target), or refuse it as Rex's file commands do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FinalLink {
    Follow,
    Refuse,
}

/// A descriptor the gate permitted, with the path it was opened at (the target, when a
/// symlink was followed).
pub(crate) struct Opened {
    pub fd: OwnedFd,
    pub path: AbsPath,
    /// What the gate permitted on `path`, for the effects made through `fd`.
    pub permit: Permit,
}

/// Parses a script-supplied path.
pub(crate) fn parse_path(raw: &str) -> HostResult<AbsPath> {
    Ok(AbsPath::parse(raw)?)
}

impl Host {
    /// Authorizes `actions` on the resource (and, for a file, `open` on its directory), then
    /// opens it. A
    /// symlink on the way is followed only by authorizing the same request on the path it
    /// stands for and opening that afresh, so link and target must both be permitted.
    pub(crate) fn open_checked(
        &self,
        path: &AbsPath,
        kind: Kind,
        actions: &[Action],
        mode: OpenMode,
    ) -> HostResult<Opened> {
        self.open_checked_in(path, kind, actions, &[Context::Empty], mode)
    }

    /// As [`Host::open_checked`], asking `actions` on the resource once in each of `contexts`
    /// (all must be permitted).
    pub(crate) fn open_checked_in(
        &self,
        path: &AbsPath,
        kind: Kind,
        actions: &[Action],
        contexts: &[Context],
        mode: OpenMode,
    ) -> HostResult<Opened> {
        self.open_resolving(path, kind, actions, contexts, mode, FinalLink::Follow)
    }

    /// The one open path: decide, open without following any link, and where the kernel
    /// met a link, authorize its target and open that (or, with `FinalLink::Refuse`, refuse
    /// when the link is the last component). A path without links costs one decision and one
    /// `openat2`; the link checks run only when the kernel met one.
    pub(crate) fn open_resolving(
        &self,
        path: &AbsPath,
        kind: Kind,
        actions: &[Action],
        contexts: &[Context],
        mode: OpenMode,
        final_link: FinalLink,
    ) -> HostResult<Opened> {
        let mut path = path.clone();
        for _ in 0..=MAX_LINK_HOPS {
            self.interrupt.check()?;
            // A file is reached through its directory, which needs `open`; a directory
            // itself is authorized by `actions` alone (as in Rex, listing /var/log needs
            // nothing on /var). Both are decided, and logged, together.
            let resource = kind.resource(path.clone());
            let parent = path
                .parent()
                .filter(|_| kind == Kind::File)
                .map(Resource::Dir);
            let mut requests = Vec::with_capacity(1 + contexts.len());
            if let Some(parent) = &parent {
                requests.push(Request {
                    actions: OPEN,
                    resource: parent,
                    context: &Context::Empty,
                });
            }
            requests.extend(contexts.iter().map(|context| Request {
                actions,
                resource: &resource,
                context,
            }));
            let permit = self.gate.authorize_all(&requests)?;
            match self.root.open(&permit, mode) {
                Ok(fd) => {
                    let permit = self.opened(permit, fd.as_fd(), &path, &requests)?;
                    return Ok(Opened { fd, path, permit });
                }
                Err(e) if is_link_error(&e) => {
                    if final_link == FinalLink::Refuse && self.ends_in_link(&path) {
                        return Err(write::ends_in_link_error(&path));
                    }
                    if let Some(target) = self
                        .root
                        .find_link(&path)
                        .map_err(|e| HostError::io("resolve", &path, e))?
                    {
                        path = target;
                    }
                }
                Err(e) => return Err(open_error(&path, mode, e)),
            }
        }
        Err(HostError::Io {
            op: "open",
            path: path.to_string(),
            source: io::Error::other(format!("more than {MAX_LINK_HOPS} symlinks to follow")),
        })
    }

    /// The permit for a file just opened on `fd`, once the gate has learnt from that
    /// descriptor what it needs: the file's age ([`Host::aged`]) and, for a labelled file
    /// read, the hash of its content ([`Host::hash_source`]).
    pub(crate) fn opened(
        &self,
        permit: Permit,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
        requests: &[Request<'_>],
    ) -> HostResult<Permit> {
        let permit = self.aged(permit, fd, path, requests)?;
        self.hash_source(&permit, fd, path)?;
        Ok(permit)
    }

    /// The permit for a file just opened on `fd`, once its age is known: where the labels
    /// give the file a retention period, its modification time is read from that descriptor
    /// (never from the path again, which may by now name another file), and if that makes it
    /// expired, or no longer, the gate decides `requests` again ([`tollgate_policy::Gate::
    /// confirm_age`]). A denial then drops the descriptor unused.
    fn aged(
        &self,
        permit: Permit,
        fd: BorrowedFd<'_>,
        path: &AbsPath,
        requests: &[Request<'_>],
    ) -> HostResult<Permit> {
        let Some(period) = self.gate.needs_age(&permit) else {
            return Ok(permit);
        };
        let st = rustix::fs::fstat(fd).map_err(|e| HostError::io("stat", path, e.into()))?;
        let modified = modified(st.st_mtime, st.st_mtime_nsec as u32);
        Ok(self.gate.confirm_age(permit, period, requests, modified)?)
    }

    /// Authorizes `open` on the parent of `path` and opens that directory, for `*at` calls on
    /// the last component. Does not follow a symlink in the parent chain.
    pub(crate) fn open_parent_checked(&self, path: &AbsPath) -> HostResult<OpenDir> {
        let parent = path.parent().ok_or_else(|| {
            HostError::InvalidInput("this operation cannot apply to '/' itself".to_owned())
        })?;
        let permit = self.gate.authorize(OPEN, &Resource::Dir(parent.clone()))?;
        self.root
            .open_dir(&permit)
            .map_err(|e| open_error(&parent, OpenMode::Dir, e))
    }

    /// As [`Host::open_checked`], for a directory to act on the entries of.
    pub(crate) fn open_dir_checked(
        &self,
        path: &AbsPath,
        actions: &[Action],
    ) -> HostResult<OpenDir> {
        let opened = self.open_checked(path, Kind::Dir, actions, OpenMode::Dir)?;
        let path = opened.path.clone();
        OpenDir::from_opened(opened).map_err(|e| HostError::io("open", &path, e))
    }

    /// Authorizes `actions` on `resource` with a context.
    pub(crate) fn authorize_in(
        &self,
        actions: &[Action],
        resource: Resource,
        context: &Context,
    ) -> HostResult<Permit> {
        self.interrupt.check()?;
        Ok(self.gate.authorize_in(actions, &resource, context)?)
    }
}

/// A stat's modification time (seconds and nanoseconds since the epoch, before it if negative).
fn modified(seconds: i64, nanos: u32) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(nanos.min(999_999_999)));
    match u64::try_from(seconds) {
        Ok(s) => UNIX_EPOCH + Duration::from_secs(s) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + nanos,
    }
}

fn open_error(path: &AbsPath, mode: OpenMode, e: io::Error) -> HostError {
    if is_link_error(&e) {
        return HostError::Io {
            op: "open",
            path: path.to_string(),
            source: io::Error::other("a symlink on the path changed while it was being opened"),
        };
    }
    let op = match mode {
        OpenMode::Read | OpenMode::Dir | OpenMode::Touch | OpenMode::Exec | OpenMode::Stat => {
            "open"
        }
        OpenMode::Append | OpenMode::Truncate | OpenMode::Overwrite | OpenMode::CreateNew => {
            "open for writing"
        }
    };
    HostError::io(op, path, e)
}
