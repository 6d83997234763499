//! The option builders of the handle API, as Rex has them: `OpenFileOptions().read(true)
//! .build()`. Each builder is `Builder<T>` and what it builds `Built<T>` for one option set
//! `T`; both carry Rex's type names, so `type_of` says what it says in Rex. A setter returns a
//! new builder; `build()` checks what the set needs (a `DirConfig` its path) and finishes it.

use rhai::{Engine, EvalAltResult, ImmutableString, Module};

use super::datetime::DateTime;
use super::invalid;

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// An option set being built.
#[derive(Clone, Debug, Default)]
pub(crate) struct Builder<T>(pub(crate) T);

/// A finished option set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Built<T>(pub(crate) T);

/// What `build()` checks of an option set.
pub(crate) trait Check {
    fn check(&self) -> std::result::Result<(), String> {
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct DirConfig {
    pub(crate) path: Option<String>,
}
impl Check for DirConfig {
    fn check(&self) -> std::result::Result<(), String> {
        match &self.path {
            Some(_) => Ok(()),
            None => Err("DirConfig needs .path(...) before .build()".to_owned()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct OpenDir {
    pub(crate) create: bool,
    pub(crate) recursive: bool,
    pub(crate) follow_symlinks: bool,
}
impl Check for OpenDir {}

#[derive(Clone, Debug, Default)]
pub(crate) struct OpenFile {
    pub(crate) read: bool,
    pub(crate) write: bool,
    pub(crate) create: bool,
    pub(crate) permissions: Option<i64>,
    pub(crate) follow_symlinks: bool,
}
impl Check for OpenFile {}

#[derive(Clone, Debug, Default)]
pub(crate) struct ReadLines {
    pub(crate) count: Option<i64>,
    pub(crate) start: Option<u64>,
}
impl Check for ReadLines {}

#[derive(Clone, Debug, Default)]
pub(crate) struct ReadPage {
    pub(crate) num_lines: u64,
}
impl Check for ReadPage {}

#[derive(Clone, Debug)]
pub(crate) struct Write {
    pub(crate) preserve_ownership: bool,
}
impl Check for Write {}
/// As in Rex, a write keeps the file's owner unless told otherwise.
impl Default for Write {
    fn default() -> Self {
        Write {
            preserve_ownership: true,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct CopyFile {
    pub(crate) force: bool,
    pub(crate) preserve: bool,
}
impl Check for CopyFile {}

#[derive(Clone, Debug, Default)]
pub(crate) struct Move {
    pub(crate) backup: bool,
    pub(crate) verbose: bool,
}
impl Check for Move {}

#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteFile {
    pub(crate) force: bool,
}
impl Check for DeleteFile {}

#[derive(Clone, Debug, Default)]
pub(crate) struct DeleteDir {
    pub(crate) force: bool,
    pub(crate) recursive: bool,
}
impl Check for DeleteDir {}

#[derive(Clone, Debug, Default)]
pub(crate) struct ChmodDir {
    pub(crate) permissions: Option<i64>,
    pub(crate) recursive: bool,
}
impl Check for ChmodDir {
    fn check(&self) -> std::result::Result<(), String> {
        match self.permissions {
            Some(_) => Ok(()),
            None => Err("ChmodDirOptions needs .permissions(mode)".to_owned()),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SetOwnership {
    pub(crate) user: Option<String>,
    pub(crate) group: Option<String>,
    pub(crate) recursive: bool,
}
impl Check for SetOwnership {
    fn check(&self) -> std::result::Result<(), String> {
        if self.user.is_none() && self.group.is_none() {
            return Err("SetOwnershipOptions needs .user(name) or .group(name)".to_owned());
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct SetXAttr {
    pub(crate) name: Option<String>,
    pub(crate) selinux_user: Option<String>,
    pub(crate) selinux_role: Option<String>,
    pub(crate) selinux_type: Option<String>,
    pub(crate) selinux_level: Option<String>,
}
impl Check for SetXAttr {}

/// `TruncateOptions` and `FallocateOptions`: a size in a unit.
#[derive(Clone, Debug, Default)]
pub(crate) struct Sized {
    pub(crate) size: Option<i64>,
    pub(crate) unit: SizeUnit,
}
impl Check for Sized {}

impl Sized {
    /// The size in bytes.
    pub(crate) fn bytes(&self) -> Result<u64> {
        let n = self.size.unwrap_or(0);
        u64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(self.unit.bytes()))
            .ok_or_else(|| invalid(format!("a size of {n} {:?} is not a size", self.unit)))
    }
}

/// `FallocateOptions` is a distinct type of the same shape.
#[derive(Clone, Debug, Default)]
pub(crate) struct Allocate(pub(crate) Sized);
impl Check for Allocate {}

#[derive(Clone, Debug, Default)]
pub(crate) struct CreateSymlink {
    pub(crate) force: bool,
}
impl Check for CreateSymlink {}

#[derive(Clone, Debug, Default)]
pub(crate) struct Replacement {
    pub(crate) is_regex: bool,
    pub(crate) replace_all: bool,
}
impl Check for Replacement {}

#[derive(Clone, Debug, Default)]
pub(crate) struct Find {
    pub(crate) name: Option<String>,
    pub(crate) iname: Option<String>,
    pub(crate) regex: Option<String>,
    pub(crate) negate_name: bool,
    pub(crate) size_range: Option<SizeRange>,
    pub(crate) min_depth: Option<i64>,
    pub(crate) max_depth: Option<i64>,
    pub(crate) min_modification_time: Option<i64>,
    pub(crate) max_modification_time: Option<i64>,
    pub(crate) min_creation_time: Option<i64>,
    pub(crate) max_creation_time: Option<i64>,
    pub(crate) follow_symlinks: bool,
}
impl Check for Find {}

#[derive(Clone, Debug, Default)]
pub(crate) struct DiskUsage {
    pub(crate) all_files: bool,
    pub(crate) apparent_size: bool,
    pub(crate) count_hard_links: bool,
    pub(crate) max_depth: Option<i64>,
    pub(crate) one_file_system: bool,
    pub(crate) summarize: bool,
    pub(crate) track_largest_subdir: bool,
}
impl Check for DiskUsage {
    fn check(&self) -> std::result::Result<(), String> {
        if self.summarize && self.all_files {
            // As in Rex: a summary has one line, so there are no files to list.
            return Err(
                "DiskUsageOptions: summarize and all_files cannot be used together".to_owned(),
            );
        }
        Ok(())
    }
}

/// A size unit (`SizeUnit::KIBIBYTES`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum SizeUnit {
    #[default]
    Bytes,
    Kilobytes,
    Kibibytes,
    Megabytes,
    Mebibytes,
    Gigabytes,
    Gibibytes,
}

impl SizeUnit {
    const ALL: &'static [(&'static str, SizeUnit)] = &[
        ("BYTES", SizeUnit::Bytes),
        ("KILOBYTES", SizeUnit::Kilobytes),
        ("KIBIBYTES", SizeUnit::Kibibytes),
        ("MEGABYTES", SizeUnit::Megabytes),
        ("MEBIBYTES", SizeUnit::Mebibytes),
        ("GIGABYTES", SizeUnit::Gigabytes),
        ("GIBIBYTES", SizeUnit::Gibibytes),
    ];

    pub(crate) fn bytes(self) -> u64 {
        match self {
            SizeUnit::Bytes => 1,
            SizeUnit::Kilobytes => 1000,
            SizeUnit::Kibibytes => 1 << 10,
            SizeUnit::Megabytes => 1_000_000,
            SizeUnit::Mebibytes => 1 << 20,
            SizeUnit::Gigabytes => 1_000_000_000,
            SizeUnit::Gibibytes => 1 << 30,
        }
    }
}

/// A range of file sizes for `FindOptions().size_range(...)`, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SizeRange {
    pub(crate) min: Option<u64>,
    pub(crate) max: Option<u64>,
}

fn in_bytes(n: i64, unit: SizeUnit) -> Result<u64> {
    u64::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(unit.bytes()))
        .ok_or_else(|| invalid(format!("{n} is not a size")))
}

/// The first whole second at or after `t`, as a lower time bound of `FindOptions`: Rex
/// compares an entry's time in whole seconds with the bound itself, so a bound part-way
/// through a second leaves that second out (an upper bound is its own second, `epoch_seconds`).
fn first_second_from(t: &DateTime) -> i64 {
    t.epoch_seconds() + i64::from(t.nanosecond > 0)
}

fn positive(n: i64, what: &str) -> Result<u64> {
    u64::try_from(n).map_err(|_| invalid(format!("{what} must not be negative, got {n}")))
}

/// Registers a builder: its constructor `ctor`, both type names, `build()`, and each setter.
macro_rules! builder {
    ($engine:ident, $t:ty, $ctor:literal, $builder_name:literal, $built_name:literal,
     [$( $setter:literal => |$o:ident, $v:ident : $vt:ty| $body:expr ),* $(,)?]) => {{
        $engine.register_type_with_name::<Builder<$t>>($builder_name);
        $engine.register_type_with_name::<Built<$t>>($built_name);
        $engine.register_fn($ctor, || Builder(<$t>::default()));
        $engine.register_fn("build", |b: &mut Builder<$t>| -> Result<Built<$t>> {
            Check::check(&b.0).map_err(invalid)?;
            Ok(Built(b.0.clone()))
        });
        $engine.register_fn("to_string", |_: &mut Builder<$t>| $builder_name.to_owned());
        $engine.register_fn("to_string", |_: &mut Built<$t>| $built_name.to_owned());
        $(
            $engine.register_fn($setter, |b: &mut Builder<$t>, $v: $vt| -> Result<Builder<$t>> {
                let mut $o = b.0.clone();
                $body;
                Ok(Builder($o))
            });
        )*
    }};
}

pub(crate) fn register(engine: &mut Engine) {
    builder!(engine, DirConfig, "DirConfig",
        "rust_safe_io::dir::open_dir::DirConfigBuilder", "rust_safe_io::dir::open_dir::DirConfig", [
        "path" => |o, v: ImmutableString| o.path = Some(v.to_string()),
    ]);
    builder!(engine, OpenDir, "OpenDirOptions",
        "rust_safe_io::options::OpenDirOptionsBuilder", "rust_safe_io::options::OpenDirOptions", [
        "create" => |o, v: bool| o.create = v,
        "recursive" => |o, v: bool| o.recursive = v,
        "follow_symlinks" => |o, v: bool| o.follow_symlinks = v,
    ]);
    builder!(engine, OpenFile, "OpenFileOptions",
        "rust_safe_io::options::OpenFileOptionsBuilder", "rust_safe_io::options::OpenFileOptions", [
        "read" => |o, v: bool| o.read = v,
        "write" => |o, v: bool| o.write = v,
        "create" => |o, v: bool| o.create = v,
        "permissions" => |o, v: i64| o.permissions = Some(v),
        "follow_symlinks" => |o, v: bool| o.follow_symlinks = v,
    ]);
    builder!(engine, ReadLines, "ReadLinesOptions",
        "rust_safe_io::options::ReadLinesOptionsBuilder", "rust_safe_io::options::ReadLinesOptions", [
        "count" => |o, v: i64| o.count = Some(v),
        "start" => |o, v: i64| o.start = Some(positive(v, "start")?),
    ]);
    builder!(engine, ReadPage, "ReadPageOptions",
        "rust_safe_io::options::ReadPageOptionsBuilder", "rust_safe_io::options::ReadPageOptions", [
        "num_lines" => |o, v: i64| o.num_lines = positive(v, "num_lines")?,
    ]);
    builder!(engine, Write, "WriteOptions",
        "rust_safe_io::options::WriteOptionsBuilder", "rust_safe_io::options::WriteOptions", [
        "preserve_ownership" => |o, v: bool| o.preserve_ownership = v,
    ]);
    builder!(engine, CopyFile, "CopyFileOptions",
        "rust_safe_io::options::CopyFileOptionsBuilder", "rust_safe_io::options::CopyFileOptions", [
        "force" => |o, v: bool| o.force = v,
        "preserve" => |o, v: bool| o.preserve = v,
    ]);
    builder!(engine, Move, "MoveOptions",
        "rust_safe_io::options::MoveOptionsBuilder", "rust_safe_io::options::MoveOptions", [
        "backup" => |o, v: bool| o.backup = v,
        "verbose" => |o, v: bool| o.verbose = v,
    ]);
    builder!(engine, DeleteFile, "DeleteFileOptions",
        "rust_safe_io::options::DeleteFileOptionsBuilder", "rust_safe_io::options::DeleteFileOptions", [
        "force" => |o, v: bool| o.force = v,
    ]);
    builder!(engine, DeleteDir, "DeleteDirOptions",
        "rust_safe_io::options::DeleteDirOptionsBuilder", "rust_safe_io::options::DeleteDirOptions", [
        "force" => |o, v: bool| o.force = v,
        "recursive" => |o, v: bool| o.recursive = v,
    ]);
    builder!(engine, ChmodDir, "ChmodDirOptions",
        "rust_safe_io::options::ChmodDirOptionsBuilder", "rust_safe_io::options::ChmodDirOptions", [
        "permissions" => |o, v: i64| o.permissions = Some(v),
        "recursive" => |o, v: bool| o.recursive = v,
    ]);
    builder!(engine, SetOwnership, "SetOwnershipOptions",
        "rust_safe_io::options::SetOwnershipOptionsBuilder", "rust_safe_io::options::SetOwnershipOptions", [
        "user" => |o, v: ImmutableString| o.user = Some(v.to_string()),
        "group" => |o, v: ImmutableString| o.group = Some(v.to_string()),
        "recursive" => |o, v: bool| o.recursive = v,
    ]);
    builder!(engine, SetXAttr, "SetXAttrOptions",
        "rust_safe_io::options::SetXAttrOptionsBuilder", "rust_safe_io::options::SetXAttrOptions", [
        "name" => |o, v: ImmutableString| o.name = Some(v.to_string()),
        "selinux_user" => |o, v: ImmutableString| o.selinux_user = Some(v.to_string()),
        "selinux_role" => |o, v: ImmutableString| o.selinux_role = Some(v.to_string()),
        "selinux_type" => |o, v: ImmutableString| o.selinux_type = Some(v.to_string()),
        "selinux_level" => |o, v: ImmutableString| o.selinux_level = Some(v.to_string()),
    ]);
    builder!(engine, Sized, "TruncateOptions",
        "rust_safe_io::file::unix::linux::truncate::TruncateOptionsBuilder",
        "rust_safe_io::file::unix::linux::truncate::TruncateOptions", [
        "size" => |o, v: i64| o.size = Some(v),
        "format" => |o, v: SizeUnit| o.unit = v,
    ]);
    builder!(engine, Allocate, "FallocateOptions",
        "rust_safe_io::options::DiskAllocationOptionsBuilder", "rust_safe_io::options::DiskAllocationOptions", [
        "length" => |o, v: i64| o.0.size = Some(v),
        "format" => |o, v: SizeUnit| o.0.unit = v,
    ]);
    builder!(engine, CreateSymlink, "CreateSymlinkOptions",
        "rust_safe_io::options::CreateSymlinkOptionsBuilder", "rust_safe_io::options::CreateSymlinkOptions", [
        "force" => |o, v: bool| o.force = v,
    ]);
    builder!(engine, Replacement, "ReplacementOptions",
        "rust_safe_io::options::ReplacementOptionsBuilder", "rust_safe_io::options::ReplacementOptions", [
        "is_regex" => |o, v: bool| o.is_regex = v,
        "replace_all" => |o, v: bool| o.replace_all = v,
    ]);
    builder!(engine, Find, "FindOptions",
        "rust_safe_io::options::FindOptionsBuilder", "rust_safe_io::options::FindOptions", [
        "name" => |o, v: ImmutableString| o.name = Some(v.to_string()),
        "iname" => |o, v: ImmutableString| o.iname = Some(v.to_string()),
        "regex" => |o, v: ImmutableString| o.regex = Some(v.to_string()),
        "negate_name" => |o, v: bool| o.negate_name = v,
        "size_range" => |o, v: SizeRange| o.size_range = Some(v),
        "min_depth" => |o, v: i64| o.min_depth = Some(v),
        "max_depth" => |o, v: i64| o.max_depth = Some(v),
        "min_modification_time" => |o, v: DateTime| o.min_modification_time = Some(first_second_from(&v)),
        "max_modification_time" => |o, v: DateTime| o.max_modification_time = Some(v.epoch_seconds()),
        "min_creation_time" => |o, v: DateTime| o.min_creation_time = Some(first_second_from(&v)),
        "max_creation_time" => |o, v: DateTime| o.max_creation_time = Some(v.epoch_seconds()),
        "follow_symlinks" => |o, v: bool| o.follow_symlinks = v,
    ]);
    builder!(engine, DiskUsage, "DiskUsageOptions",
        "rust_safe_io::options::DiskUsageOptionsBuilder", "rust_safe_io::options::DiskUsageOptions", [
        "all_files" => |o, v: bool| o.all_files = v,
        "apparent_size" => |o, v: bool| o.apparent_size = v,
        "count_hard_links" => |o, v: bool| o.count_hard_links = v,
        "max_depth" => |o, v: i64| o.max_depth = Some(v),
        "one_file_system" => |o, v: bool| o.one_file_system = v,
        "summarize" => |o, v: bool| o.summarize = v,
        "track_largest_subdir" => |o, v: bool| o.track_largest_subdir = v,
    ]);

    engine.register_type_with_name::<SizeUnit>("rust_safe_io::options::SizeUnit");
    let mut units = Module::new();
    for (name, unit) in SizeUnit::ALL {
        units.set_var(*name, *unit);
    }
    engine.register_static_module("SizeUnit", units.into());
    engine.register_fn("to_string", |_: &mut SizeUnit| {
        "rust_safe_io::options::SizeUnit".to_owned()
    });
    engine.register_fn("==", |a: &mut SizeUnit, b: SizeUnit| *a == b);
    engine.register_fn("!=", |a: &mut SizeUnit, b: SizeUnit| *a != b);

    engine.register_type_with_name::<SizeRange>("rust_safe_io::options::SizeRange");
    let mut ranges = Module::new();
    ranges.set_native_fn("min_only", |min: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: Some(in_bytes(min, unit)?),
            max: None,
        })
    });
    ranges.set_native_fn("max_only", |max: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: None,
            max: Some(in_bytes(max, unit)?),
        })
    });
    ranges.set_native_fn("between", |min: i64, max: i64, unit: SizeUnit| {
        Ok(SizeRange {
            min: Some(in_bytes(min, unit)?),
            max: Some(in_bytes(max, unit)?),
        })
    });
    engine.register_static_module("SizeRange", ranges.into());
    engine.register_fn("to_string", |_: &mut SizeRange| {
        "rust_safe_io::options::SizeRange".to_owned()
    });
}
