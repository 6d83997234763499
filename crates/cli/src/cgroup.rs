//! A cgroup v2 of the worker's own, with `memory.max`, where the host lets one be made: a
//! bound on what the worker and everything it runs hold in memory (page cache included),
//! enforced by the kernel's OOM killer (a worker it kills ends as `memory`, as a worker
//! killed by SIGKILL does). Where it cannot be made (no cgroup v2, the memory
//! controller not delegated to the supervisor's cgroup, no permission), the worker's own
//! `RLIMIT_DATA` is the bound, and the start record says why.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the cgroup's removal waits for what the worker left to finish exiting.
const REMOVE_WAIT: Duration = Duration::from_millis(500);

/// The worker's cgroup; removed when dropped, after the worker is reaped.
pub struct MemoryCgroup {
    dir: PathBuf,
}

impl MemoryCgroup {
    /// Makes a cgroup beside nothing else below the supervisor's own, bounds its memory to
    /// `bytes` (and its swap to none, so the bound is not slipped through swapping) and
    /// moves `pid` into it. `Err` says why it could not.
    pub fn join(pid: libc::pid_t, bytes: u64) -> Result<MemoryCgroup, String> {
        let parent = own_cgroup()?;
        let delegated = std::fs::read_to_string(parent.join("cgroup.subtree_control"))
            .map_err(|e| format!("{}: {e}", parent.display()))?;
        if !delegated.split_whitespace().any(|c| c == "memory") {
            return Err(format!(
                "the memory controller is not enabled for the children of {}",
                parent.display()
            ));
        }
        let dir = parent.join(format!("tollgate-worker-{pid}"));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let cgroup = MemoryCgroup { dir };
        cgroup.write("memory.max", &bytes.to_string())?;
        // A kernel without swap accounting has no such file: there is no swap to slip to.
        if cgroup.dir.join("memory.swap.max").exists() {
            cgroup.write("memory.swap.max", "0")?;
        }
        cgroup.write("cgroup.procs", &pid.to_string())?;
        Ok(cgroup)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    fn write(&self, file: &str, value: &str) -> Result<(), String> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // A cgroup goes only once empty; what the worker's group left is being killed.
        let deadline = Instant::now() + REMOVE_WAIT;
        while std::fs::remove_dir(&self.dir).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The directory of this process's cgroup v2.
fn own_cgroup() -> Result<PathBuf, String> {
    let membership = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("/proc/self/cgroup: {e}"))?;
    let relative = membership
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("this process is in no cgroup v2")?;
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("/proc/self/mountinfo: {e}"))?;
    // mountinfo: ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS... - FSTYPE SOURCE SUPER_OPTIONS
    let mount_point = mounts
        .lines()
        .find_map(|l| {
            let (fields, rest) = l.split_once(" - ")?;
            let fstype = rest.split_whitespace().next()?;
            let mut fields = fields.split_whitespace();
            let root = fields.nth(3)?;
            let point = fields.next()?;
            (fstype == "cgroup2" && root == "/").then(|| point.to_owned())
        })
        .ok_or("no cgroup v2 hierarchy is mounted")?;
    Ok(Path::new(&mount_point).join(relative.trim().trim_start_matches('/')))
}
