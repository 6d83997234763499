//! Kernel parameters (`sysctl_read`, `sysctl_write`, `sysctl_find`, `SysctlManager`). As in
//! Rex, a key is its file under `/proc/sys` and is read and written as a file: `open` on its
//! directory, `open` + `read` (or `write`) on the file. `find` walks `/proc/sys` (`read` +
//! `stat` on each directory, as every walk) and reads each file whose path matches.

use tollgate_policy::sdk_actions::WALK;

use crate::error::{HostError, HostResult};
use crate::fs::EntryKind;
use crate::Host;

const PROC_SYS: &str = "/proc/sys";

/// Files under `/proc/sys` that are not parameters one reads: reading them has effects or
/// they are deprecated aliases (the `sysctl` program skips them too).
const SKIPPED: &[&str] = &["base_reachable_time", "retrans_time", "stat_refresh"];

/// The /proc/sys file of a sysctl key such as `net.ipv4.ip_forward`.
fn sysctl_path(key: &str) -> HostResult<String> {
    let valid = !key.is_empty()
        && key.split('.').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !valid {
        return Err(HostError::InvalidInput(format!(
            "{key:?} is not a sysctl key (dot-separated names, e.g. vm.swappiness)"
        )));
    }
    Ok(format!("{PROC_SYS}/{}", key.replace('.', "/")))
}

impl Host {
    /// `sysctl_read(key)`: the value, trimmed (`open` on the key's directory, `open` + `read`
    /// on its file).
    pub fn sysctl_read(&self, key: &str) -> HostResult<String> {
        self.read_sysctl_file(&sysctl_path(key)?)
    }

    fn read_sysctl_file(&self, path: &str) -> HostResult<String> {
        let mut file = self.open_read(path)?;
        let text = crate::fs::text::cat(&mut file, false, &self.text_ctx())?;
        Ok(text.trim().to_owned())
    }

    /// `sysctl_write(key, value)`: replaces the value (`open` + `write` on its file).
    pub fn sysctl_write(&self, key: &str, value: &str) -> HostResult<()> {
        self.overwrite(&sysctl_path(key)?, value)
    }

    /// `sysctl_find(pattern)`: every key whose file path (`/proc/sys/kernel/ostype`) matches
    /// the regular expression, with its value, in path order. A file the kernel will not let
    /// the principal read (write-only, or root's) is left out, as `sysctl -a` leaves it out;
    /// a directory or file the policy denies stops the call with the denial.
    pub fn sysctl_find(&self, pattern: &str) -> HostResult<Vec<(String, String)>> {
        let regex = regex::Regex::new(pattern)
            .map_err(|e| HostError::InvalidInput(format!("invalid regex {pattern:?}: {e}")))?;
        let root = crate::fs::parse_path(PROC_SYS)?;
        // Paths, not descriptors, wait on the stack: each directory is opened (and asked
        // about) when its turn comes, so a wide tree holds one descriptor at a time.
        let mut stack = vec![root.clone()];
        let mut out = Vec::new();
        while let Some(path) = stack.pop() {
            let dir = self.open_dir_checked(&path, WALK)?;
            let mut subdirs = Vec::new();
            for listed in self.read_dir(&dir)? {
                let child = path.join(&listed.name)?;
                match EntryKind::of_mode(listed.st.st_mode) {
                    EntryKind::Dir => subdirs.push(child),
                    EntryKind::File if !SKIPPED.contains(&listed.name.as_str()) => {
                        let file = child.to_string();
                        if !regex.is_match(&file) {
                            continue;
                        }
                        match self.read_sysctl_file(&file) {
                            Ok(value) => {
                                let key = file
                                    .strip_prefix("/proc/sys/")
                                    .unwrap_or(&file)
                                    .replace('/', ".");
                                out.push((key, value));
                                if out.len() > self.limits.max_items {
                                    return Err(self.too_many_items(&root));
                                }
                            }
                            // The kernel refused it (write-only, root's): not a value to show.
                            Err(HostError::Io { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    _ => {}
                }
            }
            // Last pushed is visited first: reversed, directories go in name order.
            stack.extend(subdirs.into_iter().rev());
        }
        out.sort();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_files_under_proc_sys_and_nothing_else() {
        assert_eq!(
            sysctl_path("net.ipv4.ip_forward").unwrap(),
            "/proc/sys/net/ipv4/ip_forward"
        );
        for bad in ["", "a..b", "kernel/../x", "a b", ".a"] {
            assert!(sysctl_path(bad).is_err(), "{bad:?}");
        }
    }
}
