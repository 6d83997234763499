//! Absolute, normalized paths: the ids of File and Dir entities.

use std::fmt;

/// An absolute path with no `.` or `..` components, no repeated or trailing `/` and no NUL.
///
/// This is both the id the policy sees and the path the host opens. Because the host resolves
/// it without following symlinks, removing `..` lexically here gives the same place the kernel
/// would reach, so the path that was authorized is the path that is opened.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(into = "String", try_from = "String")]
pub struct AbsPath(String);

impl From<AbsPath> for String {
    fn from(p: AbsPath) -> String {
        p.0
    }
}

/// Read back as it was written, or refused: a stored path is parsed like any other.
impl TryFrom<String> for AbsPath {
    type Error = PathError;

    fn try_from(raw: String) -> Result<AbsPath, PathError> {
        AbsPath::parse(&raw)
    }
}

/// Why a path string is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path {0:?} is relative; give an absolute path (starting with '/')")]
    Relative(String),
    #[error("path {0:?} contains a NUL byte")]
    Nul(String),
    #[error("path is empty")]
    Empty,
    #[error("name {0:?} is not a single path component")]
    NotAComponent(String),
}

impl AbsPath {
    /// The root directory, `/`.
    pub fn root() -> AbsPath {
        AbsPath("/".to_owned())
    }

    /// Parses and normalizes an absolute path. `..` at the root stays at the root, as in the
    /// kernel.
    pub fn parse(raw: &str) -> Result<AbsPath, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.replace('\0', "\\0")));
        }
        if !raw.starts_with('/') {
            return Err(PathError::Relative(raw.to_owned()));
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        let mut out = String::with_capacity(raw.len());
        for p in &parts {
            out.push('/');
            out.push_str(p);
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(AbsPath(out))
    }

    /// The path of `name` inside this directory; `name` must be one component.
    pub fn join(&self, name: &str) -> Result<AbsPath, PathError> {
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            return Err(PathError::NotAComponent(name.to_owned()));
        }
        if name.contains('\0') {
            return Err(PathError::Nul(name.replace('\0', "\\0")));
        }
        let mut s = self.0.clone();
        if s != "/" {
            s.push('/');
        }
        s.push_str(name);
        Ok(AbsPath(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The directory holding this path; `None` for `/`.
    pub fn parent(&self) -> Option<AbsPath> {
        if self.is_root() {
            return None;
        }
        let cut = self.0.rfind('/').unwrap_or(0);
        Some(if cut == 0 {
            AbsPath::root()
        } else {
            AbsPath(self.0[..cut].to_owned())
        })
    }

    /// The last component; empty for `/`.
    pub fn file_name(&self) -> &str {
        match self.0.rfind('/') {
            Some(i) => &self.0[i + 1..],
            None => "",
        }
    }

    /// The path relative to `/` (`.` for the root), as openat2 beneath a root descriptor wants.
    pub fn relative(&self) -> &str {
        if self.is_root() {
            "."
        } else {
            &self.0[1..]
        }
    }

    /// Every ancestor directory, nearest first, ending with `/`.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let s = self.0.as_str();
        let mut end = if self.is_root() { None } else { Some(s.len()) };
        std::iter::from_fn(move || {
            let e = end?;
            let cut = s[..e].rfind('/')?;
            if cut == 0 {
                end = None;
                Some("/")
            } else {
                end = Some(cut);
                Some(&s[..cut])
            }
        })
    }

    /// Whether `self` is `other` or lies below it.
    pub fn starts_with(&self, other: &AbsPath) -> bool {
        other.is_root()
            || self.0 == other.0
            || (self.0.starts_with(&other.0) && self.0.as_bytes().get(other.0.len()) == Some(&b'/'))
    }
}

impl fmt::Display for AbsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> String {
        AbsPath::parse(s).unwrap().0
    }

    #[test]
    fn normalizes_dots_and_slashes() {
        assert_eq!(p("/var//log/./app/"), "/var/log/app");
        assert_eq!(p("/var/log/../../etc/shadow"), "/etc/shadow");
        assert_eq!(p("/../../.."), "/");
        assert_eq!(p("/"), "/");
    }

    #[test]
    fn rejects_relative_nul_and_empty() {
        assert!(matches!(
            AbsPath::parse("var/log"),
            Err(PathError::Relative(_))
        ));
        assert!(matches!(
            AbsPath::parse("../etc"),
            Err(PathError::Relative(_))
        ));
        assert!(matches!(AbsPath::parse("/etc\0/x"), Err(PathError::Nul(_))));
        assert!(matches!(AbsPath::parse(""), Err(PathError::Empty)));
    }

    #[test]
    fn ancestors_run_up_to_root() {
        let a = AbsPath::parse("/var/log/app.log").unwrap();
        assert_eq!(a.ancestors().collect::<Vec<_>>(), ["/var/log", "/var", "/"]);
        assert_eq!(AbsPath::root().ancestors().count(), 0);
        assert_eq!(a.parent().unwrap().as_str(), "/var/log");
        assert_eq!(a.file_name(), "app.log");
        assert_eq!(a.relative(), "var/log/app.log");
    }

    #[test]
    fn join_refuses_more_than_one_component() {
        let d = AbsPath::parse("/var").unwrap();
        assert_eq!(d.join("log").unwrap().as_str(), "/var/log");
        assert!(d.join("../etc").is_err());
        assert!(d.join("..").is_err());
        assert_eq!(AbsPath::root().join("etc").unwrap().as_str(), "/etc");
    }

    #[test]
    fn starts_with_respects_component_boundaries() {
        let a = AbsPath::parse("/var/logs").unwrap();
        assert!(!a.starts_with(&AbsPath::parse("/var/log").unwrap()));
        assert!(a.starts_with(&AbsPath::parse("/var").unwrap()));
        assert!(a.starts_with(&AbsPath::root()));
    }
}
