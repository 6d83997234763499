//! Open files of processes: Rex's `list_open_files` (lsof) and `processes_using_inode`
//! (fuser).
//!
//! Both need `open` + `read` on `/proc` (as Rex asks), then `list_fds` on each process whose
//! descriptors are read; a process the policy does not permit is left out of a listing by
//! path, and is an error when it is the one process asked for. A confined worker cannot read
//! another process's descriptors itself (Landlock keeps it from other processes' `/proc`
//! links), so it reads them through the host's [`crate::SupervisorHook`], which asks the
//! supervisor once the gate has permitted `list_fds` (and the supervisor decides again). Only descriptors are reported: the
//! working directory, root, executable and memory maps Rex also lists are links the
//! supervisor does not read for its worker.

use tollgate_policy::{AbsPath, Action, Resource};

use crate::error::{HostError, HostResult};
use crate::process::{all_pids, resource, ProcessEntry, Recheck};
use crate::supervisor_call::{DescriptorsUnder, SupervisorAnswer, SupervisorCall};
use crate::Host;

/// How a process holds a file: Rex's access types. Only descriptors are read (see above).
pub const FILE_DESCRIPTOR: &str = "File descriptor";

/// One open descriptor of one process (Rex's `OpenFileInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    pub pid: u32,
    pub process_name: String,
    pub user: String,
    pub command: String,
    /// Rex's access type, e.g. `File descriptor`.
    pub access: &'static str,
    /// As lsof names it: `REG`, `DIR`, `CHR`, `BLK`, `FIFO`, `SOCK`, `LNK`,
    /// `ANON_INODE`, `UNK`.
    pub file_type: &'static str,
    /// What the descriptor names: a path, or `socket:[inode]`, `pipe:[inode]`,
    /// `anon_inode:[eventfd]`, ...
    pub file_path: String,
}

/// One process that holds a path open (Rex's `FuserInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathUser {
    pub user: String,
    pub pid: u32,
    /// How it holds the path (Rex's access types).
    pub access: Vec<&'static str>,
    pub command: String,
}

/// What `list_open_files` lists: one process's descriptors, or every permitted process's
/// descriptors naming a path (or, with `subdirs`, anything beneath it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenFilesOf {
    Pid(u32),
    Path { path: String, subdirs: bool },
}

/// The type of what a descriptor names, from its link text, or for a path from the file.
fn file_type(target: &str) -> &'static str {
    if target.starts_with("socket:") || target.starts_with("net:") {
        return "SOCK";
    }
    if target.starts_with("pipe:") {
        return "FIFO";
    }
    if target.starts_with("anon_inode:") {
        return "ANON_INODE";
    }
    if target.starts_with("/memfd:") {
        return "REG";
    }
    if !target.starts_with('/') {
        return "UNK";
    }
    // The type of a file the process already holds open, which `list_fds` on the process
    // reveals: not content, and no other file than the descriptor's (a deleted file, whose
    // link ends in " (deleted)", is not found and stays unknown).
    #[allow(clippy::disallowed_methods)]
    let Ok(meta) = std::fs::symlink_metadata(target) else {
        return "UNK";
    };
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "DIR"
    } else if t.is_file() {
        "REG"
    } else if t.is_symlink() {
        "LNK"
    } else if t.is_char_device() {
        "CHR"
    } else if t.is_block_device() {
        "BLK"
    } else if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "SOCK"
    } else {
        "UNK"
    }
}

fn beneath(target: &str, path: &AbsPath, subdirs: bool) -> bool {
    match AbsPath::parse(target) {
        Ok(t) if subdirs => t.starts_with(path),
        Ok(t) => t == *path,
        Err(_) => false,
    }
}

impl Host {
    /// `open` + `read` on `/proc`: what Rex asks before it reads any process's files.
    fn ask_proc(&self) -> HostResult<()> {
        let proc = Resource::Dir(AbsPath::parse("/proc")?);
        // Nothing is done with /proc itself under this permit: it is Rex's precondition for
        // reading processes' descriptors, each of which is asked about on its own.
        let _permit = self
            .gate
            .authorize(&[Action::FsOpen, Action::FsRead], &proc)?;
        Ok(())
    }

    /// The descriptors of `entry`, once the policy permits `list_fds` on it; `None` when it
    /// is denied (the denial is recorded) or gone.
    fn descriptors_of(
        &self,
        entry: &ProcessEntry,
        recheck: &mut Recheck,
        denial_is_error: bool,
    ) -> HostResult<Option<Vec<String>>> {
        let permit = match self
            .gate
            .authorize(&[Action::ProcListFds], &resource(entry))
        {
            Ok(p) => p,
            Err(d) if denial_is_error || d.unrecorded.is_some() => return Err(d.into()),
            Err(_) => return Ok(None),
        };
        let call = SupervisorCall::Descriptors {
            pid: entry.pid,
            under: DescriptorsUnder::ListFds,
        };
        let target = format!("process {}", entry.pid);
        let Ok(SupervisorAnswer::Descriptors(targets)) =
            self.supervisor_call(&permit, &call, "list the descriptors of", &target)
        else {
            // Another user's process without the privilege to read it, or gone.
            return Ok(None);
        };
        // Read by pid after the decision: if the pid now names another process, what was
        // read is that one's, which nothing permitted.
        if !recheck.still_running(entry) {
            return Ok(None);
        }
        Ok(Some(targets))
    }

    /// Rex's `ProcessManager().list_open_files(LsofOptions)`.
    pub fn open_files(&self, of: &OpenFilesOf) -> HostResult<Vec<OpenFile>> {
        self.ask_proc()?;
        let mut recheck = Recheck::new()?;
        let mut out = Vec::new();
        let (pids, path) = match of {
            OpenFilesOf::Pid(pid) => (vec![*pid], None),
            OpenFilesOf::Path { path, subdirs } => {
                (all_pids()?, Some((AbsPath::parse(path)?, *subdirs)))
            }
        };
        for pid in pids {
            self.interrupt.check()?;
            let Some(entry) = recheck.entry(pid) else {
                if path.is_none() {
                    return Err(HostError::NotFound {
                        path: format!("process {pid}"),
                    });
                }
                continue;
            };
            let Some(targets) = self.descriptors_of(&entry, &mut recheck, path.is_none())? else {
                continue;
            };
            for target in targets {
                if let Some((p, subdirs)) = &path {
                    if !beneath(&target, p, *subdirs) {
                        continue;
                    }
                }
                out.push(OpenFile {
                    pid: entry.pid,
                    process_name: entry.name.clone(),
                    user: entry.user.clone(),
                    command: entry.command.clone(),
                    access: FILE_DESCRIPTOR,
                    file_type: file_type(&target),
                    file_path: target,
                });
                self.bound_items(out.len(), "the open files")?;
            }
        }
        Ok(out)
    }

    /// Rex's `ProcessManager().processes_using_inode(path)` (fuser): the permitted processes
    /// holding `path` open. `path` is taken as written (absolute, `.` and `..` resolved
    /// without following symlinks), where Rex resolves symlinks unasked.
    pub fn processes_using(&self, path: &str) -> HostResult<Vec<PathUser>> {
        let path = AbsPath::parse(path)?;
        self.ask_proc()?;
        let mut recheck = Recheck::new()?;
        let mut out = Vec::new();
        for pid in all_pids()? {
            self.interrupt.check()?;
            let Some(entry) = recheck.entry(pid) else {
                continue;
            };
            let Some(targets) = self.descriptors_of(&entry, &mut recheck, false)? else {
                continue;
            };
            if targets.iter().any(|t| beneath(t, &path, false)) {
                out.push(PathUser {
                    user: entry.user,
                    pid: entry.pid,
                    access: vec![FILE_DESCRIPTOR],
                    command: entry.command,
                });
                self.bound_items(out.len(), "the processes found")?;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_links_name_their_type() {
        assert_eq!(file_type("socket:[123]"), "SOCK");
        assert_eq!(file_type("pipe:[9]"), "FIFO");
        assert_eq!(file_type("anon_inode:[eventfd]"), "ANON_INODE");
        assert_eq!(file_type("/"), "DIR");
        assert_eq!(file_type("/dev/null"), "CHR");
        assert_eq!(file_type("/gone (deleted)"), "UNK");
    }

    #[test]
    fn paths_match_whole_or_beneath() {
        let dir = AbsPath::parse("/var/log").unwrap();
        assert!(beneath("/var/log", &dir, false));
        assert!(!beneath("/var/log/a", &dir, false));
        assert!(beneath("/var/log/a", &dir, true));
        assert!(!beneath("/var/logs", &dir, true));
        assert!(!beneath("socket:[1]", &dir, true));
    }
}
