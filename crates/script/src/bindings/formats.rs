//! Reading files in other formats through a handle, as Rex's handle API has it: gzip
//! (`file.read_gzip_lines`, `search_gzip`, `search_gzip_exists`, `gzip_info`,
//! `compress_gzip`), archives (`file.extract_archive(dir, ...)`), ELF binaries
//! (`file.elf_info()`, `file.extract_strings()`), X.509 certificates (`file.verify_cert`,
//! `verify_cert_chain`) and core dumps (`CoreDump(exe, core).backtrace()`, `get_variables`).
//! Each asks the gate what Rex asks (see `tollgate_host::fs::formats`); the option builders
//! carry Rex's type names.

use rhai::{Array, Dynamic, Engine, EvalAltResult, ImmutableString, Map};
use tollgate_host::fs::formats::{self as host_formats, ExtractOptions, LineRange, SearchGzip};

use super::entries::clamp;
use super::handle_options::{self as opts, Builder, Built, Check};
use super::handles::{Dir, File, Match};
use super::objects::{object, Kind};
use super::sdk_host::Sdk;
use super::{host_error, invalid};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// The result object types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[
    GzipInfo::KIND,
    ElfInfo::KIND,
    CoreDump::KIND,
    TracedProcess::KIND,
    TracedThread::KIND,
    Frame::KIND,
];

object! {
    /// What `file.gzip_info()` reads from a gzip file's size and trailer.
    pub(crate) struct GzipInfo as "rust_safe_io::file::gzip::GzipInfo" {
        compressed_size_bytes: i64,
        uncompressed_size_bytes: i64,
        compression_ratio: f64,
    }
}

object! {
    /// What `file.elf_info()` finds in an ELF binary or core dump.
    pub(crate) struct ElfInfo as "rust_safe_io::file::unix::linux::elf_info::ElfInfo" {
        execfn: Option<String>,
        platform: Option<String>,
        interpreter: Option<String>,
        is_64bit: bool,
    }
}

object! {
    /// A core dump and the executable it is of; nothing is read until `backtrace()` or
    /// `get_variables(...)`.
    pub(crate) struct CoreDump as "rust_safe_io::core_dump_analysis::core_dump::CoreDump" {
        exe_path: String,
        core_dump_path: String,
    }
}

object! {
    /// The threads of a dumped process.
    pub(crate) struct TracedProcess as "rust_safe_io::core_dump_analysis::TracedProcess" {
        pid: Option<i64>,
        threads: Array,
    }
}

object! {
    /// One thread and its stack, innermost frame first.
    pub(crate) struct TracedThread as "rust_safe_io::core_dump_analysis::TracedThread" {
        id: i64,
        tid: Option<i64>,
        frames: Array,
    }
}

object! {
    /// One stack frame.
    pub(crate) struct Frame as "rust_safe_io::core_dump_analysis::Frame" {
        frame_number: i64,
        function_name: String,
        instruction_ptr: Option<String>,
        source: Option<String>,
        line_number: Option<i64>,
    }
}

super::objects::display_as_type_name!(
    GzipInfo,
    ElfInfo,
    CoreDump,
    TracedProcess,
    TracedThread,
    Frame
);

/// `SearchGzipOptions()`: Rex's defaults (every match, case-sensitive, no exclusion).
#[derive(Clone, Debug, Default)]
pub(crate) struct SearchGzipOpts(SearchGzip);
impl Check for SearchGzipOpts {}

/// `CompressGzipOptions()`: level 6 unless set.
#[derive(Clone, Debug)]
pub(crate) struct CompressGzipOpts {
    level: i64,
}
impl Default for CompressGzipOpts {
    fn default() -> Self {
        CompressGzipOpts { level: 6 }
    }
}
impl Check for CompressGzipOpts {
    fn check(&self) -> std::result::Result<(), String> {
        if (1..=9).contains(&self.level) {
            Ok(())
        } else {
            Err(format!(
                "the compression level must be from 1 to 9, got {}",
                self.level
            ))
        }
    }
}

/// `ExtractArchiveOptions()`: permissions and times kept, ownership not, as in Rex.
#[derive(Clone, Debug, Default)]
pub(crate) struct ExtractArchiveOpts(ExtractOptions);
impl Check for ExtractArchiveOpts {}

/// Registers a builder's constructor, type names, `build()` and `to_string()`s; setters are
/// registered by the caller.
fn builder<T: Check + Clone + Default + 'static>(
    engine: &mut Engine,
    ctor: &'static str,
    builder_name: &'static str,
    built_name: &'static str,
) {
    engine.register_type_with_name::<Builder<T>>(builder_name);
    engine.register_type_with_name::<Built<T>>(built_name);
    engine.register_fn(ctor, || Builder(T::default()));
    engine.register_fn("build", |b: &mut Builder<T>| -> Result<Built<T>> {
        Check::check(&b.0).map_err(invalid)?;
        Ok(Built(b.0.clone()))
    });
    engine.register_fn("to_string", move |_: &mut Builder<T>| {
        builder_name.to_owned()
    });
    engine.register_fn("to_string", move |_: &mut Built<T>| built_name.to_owned());
}

/// Registers a setter that returns a new builder.
fn setter<T: Clone + 'static, V: Clone + 'static>(
    engine: &mut Engine,
    name: &'static str,
    set: fn(&mut T, V) -> Result<()>,
) {
    engine.register_fn(
        name,
        move |b: &mut Builder<T>, v: V| -> Result<Builder<T>> {
            let mut o = b.0.clone();
            set(&mut o, v)?;
            Ok(Builder(o))
        },
    );
}

fn register_builders(engine: &mut Engine) {
    builder::<SearchGzipOpts>(
        engine,
        "SearchGzipOptions",
        "rust_safe_io::options::SearchGzipOptionsBuilder",
        "rust_safe_io::options::SearchGzipOptions",
    );
    setter(
        engine,
        "exclude_pattern",
        |o: &mut SearchGzipOpts, v: ImmutableString| {
            o.0.exclude_pattern = Some(v.to_string());
            Ok(())
        },
    );
    setter(
        engine,
        "case_insensitive",
        |o: &mut SearchGzipOpts, v: bool| {
            o.0.case_insensitive = v;
            Ok(())
        },
    );
    setter(engine, "max_results", |o: &mut SearchGzipOpts, v: i64| {
        o.0.max_results = v;
        Ok(())
    });
    builder::<CompressGzipOpts>(
        engine,
        "CompressGzipOptions",
        "rust_safe_io::options::CompressGzipOptionsBuilder",
        "rust_safe_io::options::CompressGzipOptions",
    );
    setter(engine, "level", |o: &mut CompressGzipOpts, v: i64| {
        o.level = v;
        Ok(())
    });
    builder::<ExtractArchiveOpts>(
        engine,
        "ExtractArchiveOptions",
        "rust_safe_io::options::ExtractArchiveOptionsBuilder",
        "rust_safe_io::options::ExtractArchiveOptions",
    );
    setter(
        engine,
        "preserve_permissions",
        |o: &mut ExtractArchiveOpts, v: bool| {
            o.0.preserve_permissions = v;
            Ok(())
        },
    );
    setter(
        engine,
        "preserve_ownership",
        |o: &mut ExtractArchiveOpts, v: bool| {
            o.0.preserve_ownership = v;
            Ok(())
        },
    );
    setter(
        engine,
        "preserve_timestamps",
        |o: &mut ExtractArchiveOpts, v: bool| {
            o.0.preserve_timestamps = v;
            Ok(())
        },
    );
}

fn strings(lines: Vec<String>) -> Array {
    lines.into_iter().map(Dynamic::from).collect()
}

fn register_gzip(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "read_gzip_lines",
        with_host!(host, move |f: &mut File, o: Built<opts::ReadLines>| {
            let host = host.call("RcFileHandle.read_gzip_lines");
            let range = LineRange {
                count: o.0.count,
                start: o.0.start,
            };
            host.read_gzip_lines(&f.0.borrow(), range)
                .map(strings)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "search_gzip",
        with_host!(
            host,
            move |f: &mut File, pattern: &str, o: Built<SearchGzipOpts>| {
                let host = host.call("RcFileHandle.search_gzip");
                let found = host
                    .search_gzip(&f.0.borrow(), pattern, &o.0 .0)
                    .map_err(host_error)?;
                Ok::<Array, Box<EvalAltResult>>(
                    found
                        .into_iter()
                        .map(|m| {
                            Dynamic::from(Match {
                                line_number: clamp(m.line_number),
                                line_content: m.line_content,
                            })
                        })
                        .collect(),
                )
            }
        ),
    );
    engine.register_fn(
        "search_gzip_exists",
        with_host!(
            host,
            move |f: &mut File, pattern: &str, o: Built<SearchGzipOpts>| {
                let host = host.call("RcFileHandle.search_gzip_exists");
                host.search_gzip_exists(&f.0.borrow(), pattern, &o.0 .0)
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "gzip_info",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.gzip_info");
            let i = host.gzip_info(&f.0.borrow()).map_err(host_error)?;
            Ok::<_, Box<EvalAltResult>>(GzipInfo {
                compressed_size_bytes: clamp(i.compressed_size_bytes),
                uncompressed_size_bytes: clamp(i.uncompressed_size_bytes),
                compression_ratio: i.compression_ratio,
            })
        }),
    );
    engine.register_fn(
        "compress_gzip",
        with_host!(
            host,
            move |f: &mut File, dest: File, o: Built<CompressGzipOpts>| {
                let host = host.call("RcFileHandle.compress_gzip");
                // Checked by build(); a level outside 1..=9 cannot reach here.
                let level = u32::try_from(o.0.level).map_err(|_| invalid("bad level"))?;
                host.compress_gzip(&f.0.borrow(), &dest.0.borrow(), level)
                    .map_err(host_error)
            }
        ),
    );
}

fn register_binaries(engine: &mut Engine, host: &Sdk) {
    engine.register_fn(
        "elf_info",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.elf_info");
            let i = host.elf_info(&f.0.borrow()).map_err(host_error)?;
            Ok::<_, Box<EvalAltResult>>(ElfInfo {
                execfn: i.execfn,
                platform: i.platform,
                interpreter: i.interpreter,
                is_64bit: i.is_64bit,
            })
        }),
    );
    engine.register_fn(
        "extract_strings",
        with_host!(host, move |f: &mut File| {
            let host = host.call("RcFileHandle.extract_strings");
            host.extract_strings(&f.0.borrow())
                .map(strings)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "extract_archive",
        with_host!(
            host,
            move |f: &mut File, dest: Dir, o: Built<ExtractArchiveOpts>| {
                let host = host.call("RcFileHandle.extract_archive");
                host.extract_archive(&f.0.borrow(), &dest.0, o.0 .0)
                    .map_err(host_error)
            }
        ),
    );
    engine.register_fn(
        "verify_cert",
        with_host!(host, move |f: &mut File, root: File| {
            let host = host.call("RcFileHandle.verify_cert");
            host.verify_cert_chain(&f.0.borrow(), &root.0.borrow(), &[])
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "verify_cert_chain",
        with_host!(host, move |f: &mut File,
                               root: File,
                               intermediates: Array| {
            let host = host.call("RcFileHandle.verify_cert_chain");
            let handles = intermediates
                .into_iter()
                .map(|v| {
                    v.try_cast::<File>().ok_or_else(|| {
                        invalid("verify_cert_chain takes an array of file handles (RcFileHandle)")
                    })
                })
                .collect::<Result<Vec<File>>>()?;
            let borrowed: Vec<_> = handles.iter().map(|h| h.0.borrow()).collect();
            let refs: Vec<&tollgate_host::fs::FileHandle> = borrowed.iter().map(|b| &**b).collect();
            host.verify_cert_chain(&f.0.borrow(), &root.0.borrow(), &refs)
                .map_err(host_error)
        }),
    );
}

/// Rex's result type from the host's.
pub(crate) fn traced_process(p: host_formats::TracedProcess) -> TracedProcess {
    let threads = p.threads.into_iter().map(|t| {
        let frames = t.frames.into_iter().map(|f| {
            Dynamic::from(Frame {
                frame_number: i64::from(f.frame_number),
                function_name: f.function_name,
                instruction_ptr: f.instruction_ptr,
                source: f.source,
                line_number: f.line_number.map(i64::from),
            })
        });
        Dynamic::from(TracedThread {
            id: i64::from(t.id),
            tid: t.tid.map(i64::from),
            frames: frames.collect(),
        })
    });
    TracedProcess {
        pid: p.pid.map(i64::from),
        threads: threads.collect(),
    }
}

fn number(n: i64, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| invalid(format!("{what} must be from 0 to {}, got {n}", u32::MAX)))
}

fn names(variables: Array) -> Vec<String> {
    variables.into_iter().map(|v| v.to_string()).collect()
}

fn values(map: std::collections::BTreeMap<String, String>) -> Map {
    map.into_iter()
        .map(|(k, v)| (k.into(), Dynamic::from(v)))
        .collect()
}

fn register_core_dumps(engine: &mut Engine, host: &Sdk) {
    engine.register_fn("CoreDump", |exe: &str, core: &str| CoreDump {
        exe_path: exe.to_owned(),
        core_dump_path: core.to_owned(),
    });
    engine.register_fn(
        "backtrace",
        with_host!(host, move |c: &mut CoreDump| {
            let host = host.call("CoreDump.backtrace");
            host.core_backtrace(&c.exe_path, &c.core_dump_path)
                .map(traced_process)
                .map_err(host_error)
        }),
    );
    engine.register_fn(
        "get_variables",
        with_host!(host, move |c: &mut CoreDump,
                               frame: i64,
                               variables: Array| {
            let host = host.call("CoreDump.get_variables");
            let frame = number(frame, "the frame number")?;
            host.core_variables(
                &c.exe_path,
                &c.core_dump_path,
                None,
                frame,
                &names(variables),
            )
            .map(values)
            .map_err(host_error)
        }),
    );
    engine.register_fn(
        "get_variables",
        with_host!(host, move |c: &mut CoreDump,
                               thread: i64,
                               frame: i64,
                               variables: Array| {
            let host = host.call("CoreDump.get_variables");
            let thread = number(thread, "the thread id")?;
            let frame = number(frame, "the frame number")?;
            host.core_variables(
                &c.exe_path,
                &c.core_dump_path,
                Some(thread),
                frame,
                &names(variables),
            )
            .map(values)
            .map_err(host_error)
        }),
    );
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    register_builders(engine);
    register_gzip(engine, &host);
    register_binaries(engine, &host);
    register_core_dumps(engine, &host);
}
