//! What can go wrong in a host operation.

use std::io;

use tollgate_policy::{Denied, PathError};

/// A failed host operation. A denial is one kind among others so that a script can catch it,
/// but it always carries the full decision so the caller can report who, what and which policy.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{0}")]
    Denied(Box<Denied>),
    #[error("{0}")]
    Path(#[from] PathError),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: String,
        source: io::Error,
    },
    /// A size limit (string, array, output) would be exceeded.
    #[error("{what} exceeds the limit of {limit}; raise the limit or narrow the request")]
    TooLarge { what: String, limit: String },
    /// An operation's own time limit passed (e.g. a binary that ran too long was killed).
    #[error("{0}")]
    TimedOut(String),
    /// systemd knows no unit of this name.
    #[error("{unit}: no such unit; check the name (systemctl list-unit-files lists them)")]
    UnknownUnit { unit: String },
    /// Nothing manages services here: no system bus to reach systemd on, and no running
    /// systemd for `systemctl`. The message says which.
    #[error("{0}")]
    NoServiceManager(String),
    /// A network request or connection that failed (refused, reset, unreachable, a bad
    /// response, too many redirects).
    #[error("{target}: {reason}")]
    Network { target: String, reason: String },
    /// The run's time limit passed, or the run was stopped, while this operation ran.
    #[error("the operation was interrupted: the run's time limit passed")]
    Interrupted,
    /// A file command's failure that Rex reports under a kind of its own in `IoErrorKind`
    /// (`DirectoryNotEmpty`, `ValidationError`, `FileError`), so a script written for Rex
    /// that tests `e.kind` sees the same name.
    #[error("{message}")]
    Rex { kind: &'static str, message: String },
}

impl From<Box<Denied>> for HostError {
    fn from(d: Box<Denied>) -> Self {
        HostError::Denied(d)
    }
}

impl HostError {
    /// An I/O failure on `path`, with not-found made its own kind.
    pub fn io(op: &'static str, path: impl ToString, source: io::Error) -> HostError {
        if source.kind() == io::ErrorKind::NotFound {
            HostError::NotFound {
                path: path.to_string(),
            }
        } else {
            HostError::Io {
                op,
                path: path.to_string(),
                source,
            }
        }
    }

    /// The `kind` a script sees when it catches this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            HostError::Denied(_) => ErrorKind::PermissionDenied,
            HostError::Path(_) | HostError::InvalidInput(_) => ErrorKind::InvalidInput,
            HostError::NotFound { .. } | HostError::UnknownUnit { .. } => ErrorKind::NotFound,
            HostError::NoServiceManager(_) => ErrorKind::Unavailable,
            HostError::Io { .. } | HostError::Rex { .. } => ErrorKind::Io,
            HostError::Network { .. } => ErrorKind::RequestError,
            HostError::TooLarge { .. } | HostError::Interrupted => ErrorKind::ResourceLimitExceeded,
            HostError::TimedOut(_) => ErrorKind::TimedOut,
        }
    }
}

/// The kinds of error a script can see (`e.kind` of what it catches), Rex's names where Rex
/// has one. The one list of them: the host assigns them, the script bindings show them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    PermissionDenied,
    InvalidInput,
    NotFound,
    Unavailable,
    Io,
    RequestError,
    /// Never caught: a limit ends the run.
    ResourceLimitExceeded,
    TimedOut,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Unavailable => "Unavailable",
            ErrorKind::Io => "Io",
            ErrorKind::RequestError => "RequestError",
            ErrorKind::ResourceLimitExceeded => "ResourceLimitExceeded",
            ErrorKind::TimedOut => "TimedOut",
        }
    }
}

pub type HostResult<T> = Result<T, HostError>;
