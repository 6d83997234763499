//! The Cedar actions a host operation can ask for.

use std::fmt;

use crate::error::PolicyError;

macro_rules! actions {
    ($($variant:ident => $namespace:literal, $name:literal;)*) => {
        /// One Cedar action of the schema (`file_system::Action::"read"`, ...).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action { $($variant),* }

        impl Action {
            /// Every action, in schema order.
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            /// The Cedar namespace, e.g. `file_system`.
            pub fn namespace(self) -> &'static str {
                match self { $(Action::$variant => $namespace),* }
            }

            /// The action's id within its namespace, e.g. `read`.
            pub fn name(self) -> &'static str {
                match self { $(Action::$variant => $name),* }
            }
        }
    };
}

actions! {
    FsOpen => "file_system", "open";
    FsRead => "file_system", "read";
    FsRedactedRead => "file_system", "redacted_read";
    FsWrite => "file_system", "write";
    FsCreate => "file_system", "create";
    FsDelete => "file_system", "delete";
    FsStat => "file_system", "stat";
    FsChmod => "file_system", "chmod";
    FsChown => "file_system", "chown";
    FsMove => "file_system", "move";
    FsExecute => "file_system", "execute";
    FsSetXattr => "file_system", "set_x_attr";
    FsUnmount => "file_system", "unmount";
    FsNetworkNamespace => "file_system", "network_namespace";
    ProcList => "process_system", "list";
    ProcListFds => "process_system", "list_fds";
    ProcKill => "process_system", "kill";
    ProcInterrupt => "process_system", "interrupt";
    ProcTrace => "process_system", "trace";
    ProcMountNamespace => "process_system", "mount_namespace";
    ProcNetworkNamespace => "process_system", "network_namespace";
    ServiceStart => "systemd", "start";
    ServiceStop => "systemd", "stop";
    ServiceRestart => "systemd", "restart";
    ServiceStatus => "systemd", "status";
    SystemdDaemonReload => "systemd", "daemon_reload";
    NetGet => "network", "GET";
    NetConnect => "network", "connect";
    SysinfoList => "sysinfo", "list";
    SysinfoResolveHostname => "sysinfo", "resolve_hostname";
    SysctlLoad => "sysctl", "load";
    OutputRelease => "output", "release";
}

impl Action {
    /// The action a Cedar uid names, e.g. `file_system::Action::"read"`.
    pub fn from_uid(text: &str) -> Result<Action, PolicyError> {
        let text = text.trim();
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.to_string() == text)
            .ok_or_else(|| {
                PolicyError::UnknownName(format!(
                    "{text} is not an action of the schema; name one as namespace::Action::\"name\", e.g. file_system::Action::\"read\""
                ))
            })
    }

    /// Position in [`Action::ALL`], used to index per-action tables.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::Action::\"{}\"", self.namespace(), self.name())
    }
}

/// The ways data leaves a run: into a file (written, created, moved, an extended
/// attribute), to the network, into a command or a service's action, or in the run's answer.
/// Their decisions record where the data the run has read may go (see [`crate::taint`]).
pub const SINKS: &[Action] = &[
    Action::FsWrite,
    Action::FsCreate,
    Action::FsMove,
    Action::FsSetXattr,
    Action::FsExecute,
    Action::NetGet,
    Action::NetConnect,
    Action::ServiceStart,
    Action::ServiceStop,
    Action::ServiceRestart,
    Action::OutputRelease,
];

impl Action {
    /// Whether this action lets data out of the run (one of [`SINKS`]).
    pub fn is_sink(self) -> bool {
        SINKS.contains(&self)
    }
}

/// The file actions that change a file, or what is below a directory.
pub(crate) const CHANGING: &[Action] = &[
    Action::FsWrite,
    Action::FsCreate,
    Action::FsDelete,
    Action::FsMove,
    Action::FsChmod,
    Action::FsChown,
    Action::FsSetXattr,
    // Unmounting a directory changes everything below it.
    Action::FsUnmount,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_matches_position_in_all() {
        for (i, a) in Action::ALL.iter().enumerate() {
            assert_eq!(a.index(), i);
        }
    }

    #[test]
    fn every_action_parses_back_from_its_uid() {
        for &a in Action::ALL {
            assert_eq!(Action::from_uid(&a.to_string()).unwrap(), a);
        }
        let e = Action::from_uid(r#"file_system::Action::"slurp""#).unwrap_err();
        assert!(e.to_string().contains("not an action of the schema"), "{e}");
    }

    #[test]
    fn displays_as_cedar_uid() {
        assert_eq!(Action::FsRead.to_string(), r#"file_system::Action::"read""#);
    }
}
