//! The `kind` of a caught error, as Rex's scripts test it: `e.kind == IoErrorKind::NotFound`,
//! `e.kind.to_string()`. Rex has one enum module per area (`IoErrorKind`, `ProcessErrorKind`,
//! `SysteminfoErrorKind`, `DiskinfoErrorKind`, `NetworkErrorKind`, `CommonUtilsErrorKind`);
//! Tollgate registers every one of them with Rex's variant names, all of one script type, so
//! that a kind compares equal by name whichever module a script names it by: a script that
//! checks `IoErrorKind::PermissionDenied` after a denied `ps()` still sees the denial.
//! Comparing with a string (`e.kind == "PermissionDenied"`) also works, as it did when kinds
//! were strings.

use rhai::{Dynamic, Engine, ImmutableString, Module};
use tollgate_host::ErrorKind;

use super::objects::Kind;

/// One error kind, by its name in Rex's enums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ErrorKindValue(&'static str);

/// Each module of kinds, with the variants Rex declares in it.
const MODULES: &[(&str, &[&str])] = &[
    (
        "IoErrorKind",
        &[
            "InvalidPath",
            "InvalidArguments",
            "InvalidFileMode",
            "ValidationError",
            "DirectoryOpenError",
            "DirectoryError",
            "FileError",
            "DestinationFileNotEmptyError",
            "NotFound",
            "DirectoryNotEmpty",
            "PermissionDenied",
            "AuthorizationError",
            "IdentityResolutionError",
            "UnsupportedOperationError",
            "FileContentTooLargeError",
            "FileCopyError",
            "FileReadError",
            "EntryTypeMismatchError",
            "IoError",
            "TryFromIntError",
            "RustixError",
            "Utf8Error",
            "CallbackError",
            "ProcessNamespaceFatalError",
            "Other",
        ],
    ),
    (
        "ProcessErrorKind",
        &[
            "ProcessNotFound",
            "PidNamespaceOperationError",
            "NamespaceOperationError",
            "PermissionDenied",
            "AuthorizationError",
            "ValidationError",
            "CallbackExecutionError",
            "ProcessEnumerationError",
            "DBusError",
            "PrivilegeError",
            "ServiceNotFound",
            "Other",
        ],
    ),
    (
        "SysteminfoErrorKind",
        &[
            "PermissionDenied",
            "AuthorizationError",
            "IoError",
            "InvalidParameter",
            "InvalidValue",
            "PrivilegeError",
            "CapsError",
            "ProcFsError",
            "Other",
        ],
    ),
    (
        "DiskinfoErrorKind",
        &[
            "InvalidPath",
            "PermissionDenied",
            "AuthorizationError",
            "SystemError",
            "TryFromIntError",
            "IoError",
            "NixError",
            "Other",
        ],
    ),
    (
        "NetworkErrorKind",
        &[
            "PermissionDenied",
            "AuthorizationError",
            "RequestError",
            "Other",
        ],
    ),
    (
        "CommonUtilsErrorKind",
        &["ParseError", "InvalidArguments", "FormatError", "Other"],
    ),
];

pub(crate) const KINDS: &[Kind] = &[Kind {
    register,
    plain: |v| {
        v.read_lock::<ErrorKindValue>()
            .map(|k| Dynamic::from(k.0.to_owned()))
    },
}];

fn register(engine: &mut Engine) {
    engine.register_type_with_name::<ErrorKindValue>("ErrorKind");
    for (name, variants) in MODULES {
        let mut module = Module::new();
        for v in *variants {
            module.set_var(*v, ErrorKindValue(v));
        }
        engine.register_static_module(*name, module.into());
    }
    engine.register_fn("==", |a: &mut ErrorKindValue, b: ErrorKindValue| *a == b);
    engine.register_fn("!=", |a: &mut ErrorKindValue, b: ErrorKindValue| *a != b);
    engine.register_fn("==", |a: &mut ErrorKindValue, b: ImmutableString| a.0 == b);
    engine.register_fn("!=", |a: &mut ErrorKindValue, b: ImmutableString| a.0 != b);
    engine.register_fn("==", |a: ImmutableString, b: ErrorKindValue| a == b.0);
    engine.register_fn("!=", |a: ImmutableString, b: ErrorKindValue| a != b.0);
    engine.register_fn("to_string", |a: &mut ErrorKindValue| a.0.to_owned());
    engine.register_fn("to_debug", |a: &mut ErrorKindValue| a.0.to_owned());
}

/// The module a failure's kind belongs to, by the area of the action it was about: Rex's
/// `source` field of a caught error.
pub(crate) fn source_of_action(action: &str) -> &'static str {
    match action.split("::").next().unwrap_or_default() {
        "process_system" | "systemd" => "ProcessErrorKind",
        "sysinfo" | "sysctl" => "SysteminfoErrorKind",
        "network" => "NetworkErrorKind",
        _ => "IoErrorKind",
    }
}

/// The kind of Rex's name `name` (one of `MODULES`' variants), for an area's own failures.
pub(crate) fn named(name: &'static str) -> ErrorKindValue {
    debug_assert!(
        MODULES.iter().any(|(_, v)| v.contains(&name)),
        "{name} is not one of Rex's error kinds"
    );
    ErrorKindValue(name)
}

/// Whether `kind` (an error map's `kind`) is `PermissionDenied`, as an enum value or a string.
pub(crate) fn is_permission_denied(kind: &Dynamic) -> bool {
    match kind.read_lock::<ErrorKindValue>() {
        Some(k) => k.0 == "PermissionDenied",
        None => kind
            .read_lock::<ImmutableString>()
            .is_some_and(|s| s.as_str() == "PermissionDenied"),
    }
}

/// A host failure's kind by Rex's name for it, in the module `source` names. Rex reports a
/// missing file as the I/O failure it is (`IoErrorKind::IoError`, the OS error in the
/// message); its `NotFound` is for what other areas look up by name.
pub(crate) fn kind_value(kind: ErrorKind, source: &str) -> ErrorKindValue {
    ErrorKindValue(match kind {
        ErrorKind::PermissionDenied => "PermissionDenied",
        ErrorKind::InvalidInput => "InvalidArguments",
        ErrorKind::NotFound if source == "IoErrorKind" => "IoError",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Io => "IoError",
        ErrorKind::RequestError => "RequestError",
        ErrorKind::ResourceLimitExceeded => "Other",
        // Not Rex's: Tollgate's own failures of a service or a deadline keep their names.
        ErrorKind::Unavailable => "Unavailable",
        ErrorKind::TimedOut => "TimedOut",
    })
}
