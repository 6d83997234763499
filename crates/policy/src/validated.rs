//! The host's record of policy texts this build has validated, so that a run of the same
//! policy skips validation (most of a large policy's start-up) and its parse (done when the
//! first decision needs it).
//!
//! An entry could make an invalid policy pass as valid, so only root may have written it: the
//! cache is used only by root, in a directory that root owns and no one else can write, reached
//! through directories of the same kind (or root's sticky ones, such as `/tmp`), and each entry
//! must be a regular file of root's that no one else can write. It is one of Tollgate's own
//! files, which no script may change whatever its policy says. An entry is named by the
//! SHA-256 of the policy text, of the schema and of this build (its version and its binary's
//! identity), so a changed text, schema or Tollgate never finds another's entry. Anything
//! wrong with the cache means it is not used: the policy is validated as if there were none.

use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::Action;
use crate::index::PathScopes;

/// Where root's runs keep the cache.
pub const VALIDATION_CACHE_DIR: &str = "/var/cache/tollgate/validated";

/// Past this many entries the cache starts over: a bound on its size, not a tuning knob.
const MAX_ENTRIES: usize = 1024;

/// Largest entry read back; a larger file is not one of ours.
const MAX_ENTRY_BYTES: u64 = 16 << 20;

/// One validated text's record: what a run needs of the policy before its first decision.
#[derive(Serialize, Deserialize)]
struct Entry {
    /// The entry's own name, so that a file copied under another name is not taken for it.
    key: String,
    /// The actions `scopes` are for, in order.
    actions: Vec<String>,
    /// For each action, where its permits could apply.
    scopes: Vec<PathScopes>,
}

pub(crate) struct ValidationCache {
    dir: PathBuf,
}

impl ValidationCache {
    /// Root's cache; `None` for other users, whose records root could not trust.
    pub(crate) fn system() -> Option<ValidationCache> {
        // SAFETY: geteuid takes nothing and cannot fail.
        (unsafe { libc::geteuid() } == 0).then(|| ValidationCache::at(VALIDATION_CACHE_DIR))
    }

    pub(crate) fn at(dir: impl Into<PathBuf>) -> ValidationCache {
        ValidationCache { dir: dir.into() }
    }

    /// The recorded scopes of a text with this SHA-256, if this build validated it.
    pub(crate) fn lookup(&self, policy_sha256: &[u8; 32]) -> Option<Vec<PathScopes>> {
        self.entry(policy_sha256)
            .filter(|scopes| scopes.len() == Action::ALL.len())
    }

    /// Whether this build parsed a labels file of this text before (see [`labels_digest`]).
    pub(crate) fn vouches_for_labels(&self, text: &str) -> bool {
        self.entry(&labels_digest(text))
            .is_some_and(|scopes| scopes.is_empty())
    }

    /// Records that this build parsed a labels file of this text.
    pub(crate) fn store_labels(&self, text: &str) {
        self.store(&labels_digest(text), &[]);
    }

    /// The scopes an entry under this digest records, if it is this build's and sound.
    fn entry(&self, digest: &[u8; 32]) -> Option<Vec<PathScopes>> {
        if !trusted_dir(&self.dir) {
            return None;
        }
        let key = key(digest)?;
        let file = std::fs::File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(self.dir.join(&key))
            .ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return None;
        }
        let mut text = String::new();
        file.take(MAX_ENTRY_BYTES).read_to_string(&mut text).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.key == key && entry.actions == action_names()).then_some(entry.scopes)
    }

    /// Records that this build validated a text with this SHA-256. Best effort: a cache that
    /// cannot be written only means the next run validates again.
    pub(crate) fn store(&self, policy_sha256: &[u8; 32], scopes: &[PathScopes]) {
        // SAFETY: as in `system`.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let _ = self.try_store(policy_sha256, scopes);
    }

    fn try_store(&self, policy_sha256: &[u8; 32], scopes: &[PathScopes]) -> Option<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .ok()?;
        if !trusted_dir(&self.dir) {
            return None;
        }
        let key = key(policy_sha256)?;
        let entries = std::fs::read_dir(&self.dir).ok()?;
        let names: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        if names.len() >= MAX_ENTRIES {
            for name in names {
                let _ = std::fs::remove_file(name);
            }
        }
        let entry = Entry {
            key: key.clone(),
            actions: action_names(),
            scopes: scopes.to_vec(),
        };
        let text = serde_json::to_vec(&entry).ok()?;
        let mut temp = tempfile_in(&self.dir)?;
        temp.1.write_all(&text).ok()?;
        temp.1.sync_all().ok()?;
        std::fs::rename(&temp.0, self.dir.join(&key))
            .map_err(|_| std::fs::remove_file(&temp.0))
            .ok()
    }
}

/// A new file of root's only, beside the entries.
fn tempfile_in(dir: &Path) -> Option<(PathBuf, std::fs::File)> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .subsec_nanos();
    let path = dir.join(format!(".new-{}-{nanos}", std::process::id()));
    let file = std::fs::File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .ok()?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .ok()?;
    Some((path, file))
}

/// The entry name for a policy text: its hash with the schema's and this build's.
/// What a labels file's entry is filed under: a digest of its own domain, so that no policy
/// text and no labels text can stand for each other.
fn labels_digest(text: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"tollgate labels file\0")
        .chain_update(text.as_bytes())
        .finalize()
        .into()
}

fn key(policy_sha256: &[u8; 32]) -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let meta = std::fs::metadata(exe).ok()?;
    let mut h = Sha256::new();
    h.update(b"tollgate policy validation\0");
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(b"\0");
    for n in [
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
    ] {
        h.update(n.to_le_bytes());
    }
    h.update(crate::schema::schema_json().as_bytes());
    h.update(b"\0");
    h.update(policy_sha256);
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn action_names() -> Vec<String> {
    Action::ALL.iter().map(|a| a.to_string()).collect()
}

/// Whether only root could have put what is in `dir`: it and every directory above it are
/// root's, real directories (not symlinks), and writable by no one else, except that a
/// directory above may be a sticky one of root's (where no one can rename or remove what
/// another made).
fn trusted_dir(dir: &Path) -> bool {
    let Ok(dir) = std::path::absolute(dir) else {
        return false;
    };
    let mut at = PathBuf::from("/");
    let mut components = dir.components().skip(1).peekable();
    loop {
        let Ok(meta) = std::fs::symlink_metadata(&at) else {
            return false;
        };
        let last = components.peek().is_none();
        let others_write = meta.mode() & 0o022 != 0;
        let sticky = meta.mode() & 0o1000 != 0;
        if !meta.is_dir() || meta.uid() != 0 || (others_write && (last || !sticky)) {
            return false;
        }
        match components.next() {
            Some(std::path::Component::Normal(name)) => at.push(name),
            Some(_) => return false,
            None => return true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::AbsPath;

    fn is_root() -> bool {
        // SAFETY: as in `system`.
        unsafe { libc::geteuid() == 0 }
    }

    fn scopes() -> Vec<PathScopes> {
        Action::ALL
            .iter()
            .enumerate()
            .map(|(i, _)| PathScopes::Only {
                dirs: vec![AbsPath::parse(&format!("/srv/d{i}")).unwrap()],
                files: Vec::new(),
            })
            .collect()
    }

    /// A fresh cache directory of this user's only.
    fn fresh() -> (tempfile::TempDir, ValidationCache) {
        let base = tempfile::tempdir().unwrap();
        std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let cache = ValidationCache::at(base.path().join("validated"));
        (base, cache)
    }

    #[test]
    fn root_finds_what_it_stored_and_other_users_store_nothing() {
        let (_base, cache) = fresh();
        let sha = [7u8; 32];
        cache.store(&sha, &scopes());
        if is_root() {
            assert_eq!(cache.lookup(&sha), Some(scopes()));
            assert_eq!(cache.lookup(&[8u8; 32]), None, "another text's entry");
        } else {
            assert!(!cache.dir.exists(), "a non-root run wrote a cache");
            assert_eq!(cache.lookup(&sha), None);
        }
    }

    #[test]
    fn a_labels_file_is_vouched_for_by_its_own_text_only() {
        let (_base, cache) = fresh();
        let text = r#"{"rules": []}"#;
        cache.store_labels(text);
        if !is_root() {
            assert!(!cache.vouches_for_labels(text));
            return;
        }
        assert!(cache.vouches_for_labels(text));
        assert!(
            !cache.vouches_for_labels(r#"{"rules": [] }"#),
            "another text"
        );
        // A policy of the same text is another entry: neither stands for the other.
        let policy_sha: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        assert_eq!(cache.lookup(&policy_sha), None);
        assert_eq!(
            cache.lookup(&labels_digest(text)),
            None,
            "a labels entry taken for a policy's"
        );
    }

    #[test]
    fn an_entry_anyone_else_could_have_written_is_not_used() {
        if !is_root() {
            // Only root's cache is ever used; the test above checks that others store nothing.
            assert!(ValidationCache::system().is_none());
            return;
        }
        let sha = [9u8; 32];
        // The entry itself writable by others.
        let (_base, cache) = fresh();
        cache.store(&sha, &scopes());
        let entry = cache.dir.join(key(&sha).unwrap());
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(cache.lookup(&sha), None, "group/other-writable entry");
        // The cache directory writable by others.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(cache.lookup(&sha).is_some());
        std::fs::set_permissions(&cache.dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(cache.lookup(&sha), None, "world-writable cache directory");
        std::fs::set_permissions(&cache.dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        // The entry owned by another user.
        std::os::unix::fs::lchown(&entry, Some(65534), None).unwrap();
        assert_eq!(cache.lookup(&sha), None, "entry of another user");
        // A symlink in place of the entry, to a file of root's.
        std::fs::remove_file(&entry).unwrap();
        let (_other_base, other) = fresh();
        other.store(&sha, &scopes());
        std::os::unix::fs::symlink(other.dir.join(key(&sha).unwrap()), &entry).unwrap();
        assert_eq!(cache.lookup(&sha), None, "symlinked entry");
        // A symlinked cache directory.
        let (_link_base, linked) = fresh();
        std::os::unix::fs::symlink(&other.dir, &linked.dir).unwrap();
        assert_eq!(linked.lookup(&sha), None, "symlinked cache directory");
    }

    #[test]
    fn an_entry_under_another_name_or_damaged_is_not_used() {
        if !is_root() {
            assert!(ValidationCache::system().is_none());
            return;
        }
        let (_base, cache) = fresh();
        let (a, b) = ([1u8; 32], [2u8; 32]);
        cache.store(&a, &scopes());
        let dir = &cache.dir;
        std::fs::copy(dir.join(key(&a).unwrap()), dir.join(key(&b).unwrap())).unwrap();
        assert_eq!(cache.lookup(&b), None, "copied under another text's name");
        std::fs::write(dir.join(key(&a).unwrap()), b"{\"key\": ").unwrap();
        assert_eq!(cache.lookup(&a), None, "truncated entry");
        let short = Entry {
            key: key(&a).unwrap(),
            actions: action_names(),
            scopes: scopes()[1..].to_vec(),
        };
        std::fs::write(
            dir.join(key(&a).unwrap()),
            serde_json::to_vec(&short).unwrap(),
        )
        .unwrap();
        assert_eq!(cache.lookup(&a), None, "an entry missing an action");
    }
}
