//! File commands, bound by table: each command is one entry that turns script values into a
//! host call and the result back into script values. Every command also accepts a flag array
//! as its first argument (`ls([ls::all], "/var/log")`).

use super::objects::Kind;
use super::sdk_host::Sdk;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map, NativeCallContext};
use tollgate_host::fs::text::{self, GrepOptions, GrepOutput, SedOptions, TailLines};
use tollgate_host::fs::{CpOptions, DuOptions, Entry, LsOptions, MvOptions, RmOptions, WriteMode};
use tollgate_host::Host;
use tollgate_policy::AbsPath;

use super::entries::DirEntry;
use super::flags::{self, Flag};
use super::{host_error, invalid};

type Result<T> = std::result::Result<T, Box<EvalAltResult>>;

/// A command taking one string after its flags.
type Cmd1 = fn(&Host, &[Flag], &str) -> Result<Dynamic>;
/// A command taking two strings after its flags.
type Cmd2 = fn(&Host, &[Flag], &str, &str) -> Result<Dynamic>;
/// A command taking three strings after its flags.
type Cmd3 = fn(&Host, &[Flag], &str, &str, &str) -> Result<Dynamic>;

const ONE: &[(&str, Cmd1)] = &[
    ("cat", cat),
    ("ls", ls),
    ("tail", tail),
    ("wc", wc),
    ("touch", touch),
    ("mkdir", mkdir),
    ("rm", rm),
    ("du", du),
    ("stat", stat),
];

const TWO: &[(&str, Cmd2)] = &[
    ("grep", grep),
    ("write", write),
    ("cp", cp),
    ("find_files", find_files),
    ("awk_filter", |h, _, pattern, path| {
        lines(text::awk_filter(
            &mut h.open_text(path).map_err(host_error)?,
            pattern,
            &h.text_ctx(),
        ))
    }),
];

const THREE: &[(&str, Cmd3)] = &[("sed", sed)];

/// The command names whose flags live in a module of another name.
fn flag_module(command: &str) -> &str {
    match command {
        "find_files" => "glob",
        other => other,
    }
}

pub(crate) fn register(engine: &mut Engine, host: Sdk) {
    for &(name, f) in ONE {
        let module = flag_module(name);
        let h = host.clone();
        engine.register_fn(name, move |a: &str| f(&h.call(name), &[], a));
        let h = host.clone();
        engine.register_fn(name, move |fl: Array, a: &str| {
            f(&h.call(name), &flags::parse(module, &fl)?, a)
        });
    }
    for &(name, f) in TWO {
        let module = flag_module(name);
        let h = host.clone();
        engine.register_fn(name, move |a: &str, b: &str| f(&h.call(name), &[], a, b));
        let h = host.clone();
        engine.register_fn(name, move |fl: Array, a: &str, b: &str| {
            f(&h.call(name), &flags::parse(module, &fl)?, a, b)
        });
    }
    for &(name, f) in THREE {
        let h = host.clone();
        engine.register_fn(name, move |a: &str, b: &str, c: &str| {
            f(&h.call(name), &[], a, b, c)
        });
        let h = host.clone();
        engine.register_fn(name, move |fl: Array, a: &str, b: &str, c: &str| {
            f(&h.call(name), &flags::parse(name, &fl)?, a, b, c)
        });
    }
    register_mv(engine, &host);
    register_awk_fields(engine, &host);
    engine.register_fn("awk_split", |t: &str, delim: &str| {
        strings(text::awk_split(t, delim))
    });
    engine.register_fn("seq", |a: i64, b: i64| seq(&[], a, b));
    engine.register_fn("seq", |fl: Array, a: i64, b: i64| {
        seq(&flags::parse("seq", &fl)?, a, b)
    });
}

/// `mv`, which with `mv::verbose` logs what it moved (as Rex does) and returns `()`.
fn register_mv(engine: &mut Engine, host: &Sdk) {
    let mv = |ctx: &NativeCallContext, h: &Host, fl: &[Flag], src: &str, dst: &str| {
        let opts = MvOptions {
            backup: flags::has(fl, "backup"),
        };
        let line = h.mv(src, dst, opts).map_err(host_error)?;
        if flags::has(fl, "verbose") {
            ctx.call_native_fn::<()>("info", (line,))?;
        }
        Ok::<_, Box<EvalAltResult>>(())
    };
    let h = host.clone();
    engine.register_fn("mv", move |ctx: NativeCallContext, src: &str, dst: &str| {
        let h = h.call("mv");
        mv(&ctx, &h, &[], src, dst)
    });
    let h = host.clone();
    engine.register_fn(
        "mv",
        move |ctx: NativeCallContext, fl: Array, src: &str, dst: &str| {
            let h = h.call("mv");
            mv(&ctx, &h, &flags::parse("mv", &fl)?, src, dst)
        },
    );
}

/// The awk commands that take a field number and a delimiter.
fn register_awk_fields(engine: &mut Engine, host: &Sdk) {
    let h = host.clone();
    engine.register_fn("awk_field", move |n: i64, delim: &str, path: &str| {
        let h = h.call("awk_field");
        let mut f = h.open_text(path).map_err(host_error)?;
        lines(text::awk_field(&mut f, field(n)?, delim, &h.text_ctx()))
    });
    let h = host.clone();
    engine.register_fn(
        "awk_filter_field",
        move |n: i64, delim: &str, pattern: &str, path: &str| {
            let h = h.call("awk_filter_field");
            let mut f = h.open_text(path).map_err(host_error)?;
            lines(text::awk_filter_field(
                &mut f,
                field(n)?,
                delim,
                pattern,
                &h.text_ctx(),
            ))
        },
    );
    let h = host.clone();
    engine.register_fn(
        "awk_filter_range",
        move |start: i64, end: i64, path: &str| { let h = h.call("awk_filter_range"); 
            // Refused before the file is opened, as in Rex.
            let (first, last) = match (u64::try_from(start), u64::try_from(end)) {
                (Ok(first @ 1..), Ok(last)) if last >= first => (first, last),
                _ => {
                    return Err(invalid(format!(
                        "awk_filter_range: invalid range {start}..{end}; lines are numbered from 1 and the range must not end before it starts"
                    )))
                }
            };
            let mut f = h.open_text(path).map_err(host_error)?;
            lines(text::awk_filter_range(&mut f, first, last, &h.text_ctx()))
        },
    );
    let h = host.clone();
    engine.register_fn("awk_sum", move |n: i64, delim: &str, path: &str| {
        let h = h.call("awk_sum");
        let mut f = h.open_text(path).map_err(host_error)?;
        text::awk_sum(&mut f, field(n)?, delim, &h.text_ctx()).map_err(host_error)
    });
    let h = host.clone();
    engine.register_fn(
        "awk_count_unique",
        move |n: i64, delim: &str, path: &str| -> Result<Dynamic> {
            let h = h.call("awk_count_unique");
            let mut f = h.open_text(path).map_err(host_error)?;
            let counts = text::awk_count_unique(&mut f, field(n)?, delim, &h.text_ctx())
                .map_err(host_error)?;
            let map: Map = counts
                .into_iter()
                .map(|(k, v)| (k.into(), Dynamic::from(v)))
                .collect();
            Ok(Dynamic::from_map(map))
        },
    );
}

/// A field number as the awk commands take it: 1 or more, as in Rex (there is no `$0`).
fn field(n: i64) -> Result<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n >= 1)
        .ok_or_else(|| invalid(format!("awk: field numbers start at 1, got {n}")))
}

fn strings(items: Vec<String>) -> Dynamic {
    Dynamic::from_array(items.into_iter().map(Dynamic::from).collect())
}

fn lines(r: tollgate_host::HostResult<Vec<String>>) -> Result<Dynamic> {
    r.map(strings).map_err(host_error)
}

fn cat(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    let mut f = h.open_text(path).map_err(host_error)?;
    let number = flags::has(fl, "number");
    text::cat(&mut f, number, &h.text_ctx())
        .map(Dynamic::from)
        .map_err(host_error)
}

fn grep(h: &Host, fl: &[Flag], pattern: &str, path: &str) -> Result<Dynamic> {
    let opts = GrepOptions {
        ignore_case: flags::has(fl, "ignore_case"),
        count: flags::has(fl, "count"),
        invert: flags::has(fl, "invert"),
        line_number: flags::has(fl, "line_number"),
        max_count: flags::value(fl, "max_count").map(|[k, _]| k.max(0) as u64),
    };
    let mut f = h.open_text(path).map_err(host_error)?;
    match text::grep(&mut f, pattern, &opts, &h.text_ctx()).map_err(host_error)? {
        GrepOutput::Lines(l) => Ok(strings(l)),
        // Rex returns the count as the only line of the result; scripts written for it index
        // and parse that line, so the shape is kept.
        GrepOutput::Count(n) => Ok(strings(vec![n.to_string()])),
    }
}

/// `tail`: the flags combine as in Rex. `range(a, b)` is a start `a` and a count `b - a + 1`;
/// `n(k)` then sets the count (k < 0: the last -k lines, ending at the start if one is given;
/// k > 0: the first k from the start) and `from(s)` the start. Nothing: the last 10 lines.
fn tail(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    let (mut count, mut start) = (None, None);
    if let Some([a, b]) = flags::value(fl, "range") {
        let n = b
            .checked_sub(a)
            .and_then(|d| d.checked_add(1))
            .ok_or_else(|| invalid(format!("tail::range({a}, {b}) is out of range")))?;
        (count, start) = (Some(n), Some(a));
    }
    if let Some([k, _]) = flags::value(fl, "n") {
        count = Some(k);
    }
    if let Some([s, _]) = flags::value(fl, "from") {
        start = Some(s);
    }
    let start =
        match start {
            Some(0) => return Err(invalid(
                "tail: the line to start from must be 1 or more (lines are numbered from 1), got 0",
            )),
            // A negative start is past every line, as Rex reads it.
            Some(s) => Some(u64::try_from(s).unwrap_or(u64::MAX)),
            None => None,
        };
    let mut f = h.open_text(path).map_err(host_error)?;
    lines(text::tail(
        &mut f,
        TailLines { count, start },
        &h.text_ctx(),
    ))
}

fn wc(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    let mut f = h.open_text(path).map_err(host_error)?;
    let counts = text::wc(&mut f, &h.text_ctx()).map_err(host_error)?;
    let all = !(flags::has(fl, "lines") || flags::has(fl, "words") || flags::has(fl, "bytes"));
    let mut m = Map::new();
    for (name, value) in [
        ("lines", counts.lines),
        ("words", counts.words),
        ("bytes", counts.bytes),
    ] {
        if all || flags::has(fl, name) {
            m.insert(name.into(), Dynamic::from(value as i64));
        }
    }
    Ok(Dynamic::from_map(m))
}

fn sed(h: &Host, fl: &[Flag], pattern: &str, replacement: &str, path: &str) -> Result<Dynamic> {
    let opts = SedOptions {
        regex: flags::has(fl, "regex"),
        all: flags::has(fl, "all"),
    };
    let in_place = flags::has(fl, "in_place");
    // Written back, a redacted text would replace the file's values with placeholders: an
    // edit in place works on the bytes, so it needs `read`.
    let mut f = if in_place {
        h.open_read(path)
    } else {
        h.open_text(path)
    }
    .map_err(host_error)?;
    let out = text::sed(&mut f, pattern, replacement, &opts, &h.text_ctx()).map_err(host_error)?;
    if in_place {
        h.overwrite(path, &out).map_err(host_error)?;
    }
    Ok(Dynamic::from(out))
}

/// `stat`'s map of one entry.
fn entry_map(e: &Entry) -> Dynamic {
    super::map([
        ("name", Dynamic::from(e.name.clone())),
        ("path", Dynamic::from(e.path.to_string())),
        ("type", Dynamic::from(e.kind.as_str().to_owned())),
        ("size", Dynamic::from(e.size as i64)),
        ("mode", Dynamic::from(format!("{:o}", e.mode & 0o7777))),
        ("permissions", Dynamic::from(permissions(e))),
        ("uid", Dynamic::from(i64::from(e.uid))),
        ("gid", Dynamic::from(i64::from(e.gid))),
        ("nlink", Dynamic::from(e.nlink as i64)),
        ("inode", Dynamic::from(e.inode as i64)),
        ("mtime", Dynamic::from(e.mtime)),
    ])
}

/// `-rw-r--r--` style.
fn permissions(e: &Entry) -> String {
    let kind = match e.kind.as_str() {
        "dir" => 'd',
        "symlink" => 'l',
        "file" => '-',
        _ => '?',
    };
    let mut s = String::with_capacity(10);
    s.push(kind);
    for shift in [6, 3, 0] {
        let bits = (e.mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// `ls`: a map from each entry's name to its `DirEntry`, as Rex returns it. `ls::long` and
/// `ls::recursive` change nothing, as in Rex, which accepts both: `entry.metadata()` has the
/// details, and `DirConfig().path(p).build().open(...).find(...)` walks a tree.
fn ls(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    let opts = LsOptions {
        all: flags::has(fl, "all"),
        long: flags::has(fl, "long"),
        recursive: false,
    };
    let entries = h.ls(path, opts).map_err(host_error)?;
    // `ls` parsed it already, so this does not fail.
    let dir = AbsPath::parse(path).map_err(|e| invalid(e.to_string()))?;
    let map: Map = entries
        .iter()
        .map(|e| {
            let entry = DirEntry::listed(e, &dir);
            (e.name.as_str().into(), Dynamic::from(entry))
        })
        .collect();
    Ok(Dynamic::from_map(map))
}

fn stat(h: &Host, _: &[Flag], path: &str) -> Result<Dynamic> {
    h.stat(path).map(|e| entry_map(&e)).map_err(host_error)
}

fn find_files(h: &Host, fl: &[Flag], glob: &str, dir: &str) -> Result<Dynamic> {
    let found = h
        .find_files(glob, dir, flags::has(fl, "recursive"))
        .map_err(host_error)?;
    Ok(strings(found))
}

fn du(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    let max_depth = match flags::value(fl, "max_depth") {
        Some([d, _]) => Some(
            usize::try_from(d)
                .map_err(|_| invalid(format!("du::max_depth must be 0 or more, got {d}")))?,
        ),
        None => None,
    };
    let opts = DuOptions {
        summarize: flags::has(fl, "summarize"),
        all_files: flags::has(fl, "all_files"),
        apparent_size: flags::has(fl, "apparent_size"),
        max_depth,
    };
    let report = h.du(path, opts).map_err(host_error)?;
    let entries: Array = report
        .entries
        .iter()
        .map(|e| {
            super::map([
                ("path", Dynamic::from(e.path.to_string())),
                ("size_bytes", Dynamic::from(e.size_bytes as i64)),
                ("inode_count", Dynamic::from(e.inode_count as i64)),
            ])
        })
        .collect();
    let mut m = Map::new();
    m.insert("entries".into(), Dynamic::from_array(entries));
    m.insert(
        "total_size_bytes".into(),
        Dynamic::from(report.total_size_bytes as i64),
    );
    m.insert(
        "total_inode_count".into(),
        Dynamic::from(report.total_inode_count as i64),
    );
    Ok(Dynamic::from_map(m))
}

fn write(h: &Host, fl: &[Flag], path: &str, content: &str) -> Result<Dynamic> {
    let mode = if flags::has(fl, "replace") {
        WriteMode::Replace
    } else {
        WriteMode::Append
    };
    h.write(path, content, mode).map_err(host_error)?;
    Ok(Dynamic::UNIT)
}

fn touch(h: &Host, _: &[Flag], path: &str) -> Result<Dynamic> {
    h.touch(path).map_err(host_error)?;
    Ok(Dynamic::UNIT)
}

fn mkdir(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    h.mkdir(path, flags::has(fl, "parents"))
        .map_err(host_error)?;
    Ok(Dynamic::UNIT)
}

fn cp(h: &Host, fl: &[Flag], src: &str, dst: &str) -> Result<Dynamic> {
    let opts = CpOptions {
        force: flags::has(fl, "force"),
        preserve: flags::has(fl, "preserve"),
    };
    h.cp(src, dst, opts).map_err(host_error)?;
    Ok(Dynamic::UNIT)
}

fn rm(h: &Host, fl: &[Flag], path: &str) -> Result<Dynamic> {
    // `rm::force` is accepted and changes nothing: as in Rex's `rm`, a missing path fails
    // with or without it (Rex opens the path first). Rex's `force` then only excuses an entry
    // removed by someone else between that open and its own removal; Tollgate reports that
    // race as the error it is.
    let opts = RmOptions {
        force: false,
        recursive: flags::has(fl, "recursive"),
    };
    h.rm(path, opts).map_err(host_error)?;
    Ok(Dynamic::UNIT)
}

/// `seq(a, b)`: a..=b by `seq::step(n)` (default 1, so `seq(5, 1)` is empty; counting down
/// takes a negative step).
fn seq(fl: &[Flag], a: i64, b: i64) -> Result<Dynamic> {
    let step = flags::value(fl, "step").map_or(1, |[s, _]| s);
    if step == 0 {
        return Err(invalid("seq::step must not be 0"));
    }
    let count = if (step > 0 && a > b) || (step < 0 && a < b) {
        0
    } else {
        (b.abs_diff(a) / step.unsigned_abs()) + 1
    };
    if count > 1_000_000 {
        return Err(invalid(format!(
            "seq would produce {count} numbers; at most 1000000 are allowed"
        )));
    }
    let items: Array = (0..count as i64)
        .map(|i| Dynamic::from(a + i * step))
        .collect();
    Ok(Dynamic::from_array(items))
}
