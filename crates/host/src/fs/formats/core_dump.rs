//! `CoreDump(exe, core).backtrace()` and `.get_variables(...)`: a core dump read with gdb,
//! as Rex does it.
//!
//! gdb runs as any binary a script runs (see [`crate::exec`]): `execute` on
//! `/usr/bin/gdb` with the arguments as its context, in the child sandbox, with a time limit
//! and its output held to the string limit. It reads the core and the executable itself, so
//! `read` on both is asked first, and gdb is started without init files and without
//! debuginfod (which would reach the network). A core dump needs no ptrace: this works in the
//! confined worker. The expressions a script asks gdb to print are restricted to variable
//! paths (`name`, `s.field`, `p->next`, `a[3]`, `*p`): gdb's expression language can call
//! functions and run shell commands (`$_shell`), which a script must not reach through it.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

use crate::error::{HostError, HostResult};
use crate::exec::ExecuteOptions;
use crate::Host;

/// Where Rex looks for gdb, and so where a policy names it.
pub const GDB: &str = "/usr/bin/gdb";

/// How long gdb may take over one core dump (less if the run has less time left).
const GDB_TIMEOUT: Duration = Duration::from_secs(120);

/// The threads of a dumped (or traced) process, with their stacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedProcess {
    /// The process id, when gdb names the first thread's LWP.
    pub pid: Option<u32>,
    pub threads: Vec<TracedThread>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracedThread {
    /// gdb's thread number, from 1.
    pub id: u32,
    /// The kernel's thread id (LWP), when gdb names it.
    pub tid: Option<u32>,
    pub frames: Vec<Frame>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub frame_number: u32,
    /// `??` where gdb does not know it.
    pub function_name: String,
    /// `0x...`; gdb leaves it out for frame 0 when it sits at a line's start.
    pub instruction_ptr: Option<String>,
    /// The source file (`at file:line`) or the library (`from lib.so`).
    pub source: Option<String>,
    pub line_number: Option<u32>,
}

impl Host {
    /// Every thread's backtrace in `core`, a dump of `exe`. Needs `read` on both (and `open`
    /// on their directories), and `execute` on `/usr/bin/gdb`.
    pub fn core_backtrace(&self, exe: &str, core: &str) -> HostResult<TracedProcess> {
        let out = self.gdb(exe, core, &["thread apply all bt".to_owned()])?;
        if out.contains("not in executable format") {
            return Err(HostError::InvalidInput(format!(
                "{exe} is not an executable gdb can read"
            )));
        }
        parse_backtrace(&out).ok_or_else(|| {
            HostError::InvalidInput(format!(
                "gdb found no stack in {core} for {exe}; is it a core dump of that executable?"
            ))
        })
    }

    /// The values of `names` (variable paths) in frame `frame` of thread `thread` (gdb's
    /// current thread when `None`), as gdb prints them; names gdb does not know are left
    /// out. Needs what [`Host::core_backtrace`] needs.
    pub fn core_variables(
        &self,
        exe: &str,
        core: &str,
        thread: Option<u32>,
        frame: u32,
        names: &[String],
    ) -> HostResult<BTreeMap<String, String>> {
        let path = variable_path();
        let mut commands = Vec::new();
        if let Some(t) = thread {
            commands.push(format!("thread {t}"));
        }
        commands.push(format!("frame {frame}"));
        for (i, name) in names.iter().enumerate() {
            if !path.is_match(name) {
                return Err(HostError::InvalidInput(format!(
                    "{name:?} is not a variable path (name, s.field, p->next, a[3], *p); \
                     gdb expressions beyond these are not accepted"
                )));
            }
            commands.push(format!("echo {MARK}{i}\\n"));
            commands.push(format!("print {name}"));
        }
        let (stdout, stderr) = self.gdb_streams(exe, core, &commands)?;
        // gdb goes on after a command fails: without this, a thread or frame the dump does
        // not have would silently give the values of the one gdb had selected.
        // Only the `thread` and `frame` commands print these (a variable that is not there is
        // "No symbol ..."); gdb 13 says "Unknown thread N.", older ones "Invalid thread ID".
        let failed = |prefixes: &[&str]| {
            stderr
                .lines()
                .any(|l| prefixes.iter().any(|p| l.trim_start().starts_with(p)))
        };
        let missing = if thread.is_some() && failed(&["Unknown thread", "Invalid thread ID"]) {
            thread.map(|t| format!("thread {t}"))
        } else if failed(&["No frame at level"]) {
            Some(format!("frame {frame}"))
        } else {
            None
        };
        if let Some(what) = missing {
            return Err(HostError::InvalidInput(format!(
                "{core} has no {what}; see backtrace() for its threads and frames"
            )));
        }
        Ok(parse_variables(&(stdout + &stderr), names))
    }

    fn gdb(&self, exe: &str, core: &str, commands: &[String]) -> HostResult<String> {
        let (stdout, stderr) = self.gdb_streams(exe, core, commands)?;
        Ok(stdout + &stderr)
    }

    /// gdb's standard output and standard error, apart.
    fn gdb_streams(
        &self,
        exe: &str,
        core: &str,
        commands: &[String],
    ) -> HostResult<(String, String)> {
        // gdb opens both files itself: the script must be allowed to read them.
        drop(self.open_read(exe)?);
        drop(self.open_read(core)?);
        let mut arguments = vec![
            ("-nx".to_owned(), None),
            ("-batch".to_owned(), None),
            (
                "-iex".to_owned(),
                Some("set debuginfod enabled off".to_owned()),
            ),
            // Nothing the dump or the binary names (scripts, init files beside them) runs.
            ("-iex".to_owned(), Some("set auto-load off".to_owned())),
        ];
        for c in commands {
            arguments.push(("-ex".to_owned(), Some(c.clone())));
        }
        arguments.push((crate::fs::parse_path(exe)?.to_string(), None));
        arguments.push((crate::fs::parse_path(core)?.to_string(), None));
        let options = ExecuteOptions {
            arguments,
            // The run's own time limit bounds this further.
            timeout: GDB_TIMEOUT,
            max_output_bytes: self.limits.max_string_bytes,
            ..ExecuteOptions::default()
        };
        let result = self.execute(GDB, &options).map_err(|e| match e {
            HostError::NotFound { .. } => HostError::NotFound {
                path: format!("{GDB} (gdb is needed to read core dumps; install it)"),
            },
            other => other,
        })?;
        if result.truncated {
            return Err(HostError::TooLarge {
                what: "gdb's output".to_owned(),
                limit: format!("{} bytes (max_string_bytes)", self.limits.max_string_bytes),
            });
        }
        Ok((result.stdout, result.stderr))
    }
}

/// Marks where each printed variable's output starts.
const MARK: &str = "@@tollgate-variable ";

fn variable_path() -> Regex {
    // A constant pattern: it compiles, as the tests show.
    Regex::new(r"^\**&?[A-Za-z_][A-Za-z0-9_]*(?:(?:\.|->)[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*$")
        .unwrap_or_else(|_| unreachable!("a constant pattern"))
}

fn parse_variables(out: &str, names: &[String]) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    let mut current: Option<&String> = None;
    for line in out.lines() {
        if let Some(i) = line.strip_prefix(MARK) {
            current = i.trim().parse::<usize>().ok().and_then(|i| names.get(i));
            continue;
        }
        if let Some(name) = current {
            // `$1 = 42`: gdb's value history number, then the value.
            if let Some((lhs, value)) = line.split_once(" = ") {
                if lhs.starts_with('$') && lhs[1..].chars().all(|c| c.is_ascii_digit()) {
                    values.insert(name.clone(), value.trim().to_owned());
                    current = None;
                }
            }
        }
    }
    values
}

/// The threads and frames of gdb's `thread apply all bt`; `None` when there are none.
pub(crate) fn parse_backtrace(out: &str) -> Option<TracedProcess> {
    let mut threads: Vec<TracedThread> = Vec::new();
    // Frames gdb prints before the first thread header (where it stopped) repeat the
    // current thread's frame 0; they count only when no thread header follows.
    let mut loose: BTreeMap<u32, Frame> = BTreeMap::new();
    for line in out.lines().map(str::trim) {
        if let Some((id, tid)) = thread_header(line) {
            threads.push(TracedThread {
                id,
                tid,
                frames: Vec::new(),
            });
        } else if let Some(frame) = frame_line(line) {
            match threads.last_mut() {
                Some(t) => {
                    if !t
                        .frames
                        .iter()
                        .any(|f| f.frame_number == frame.frame_number)
                    {
                        t.frames.push(frame);
                    }
                }
                None => {
                    loose.insert(frame.frame_number, frame);
                }
            }
        }
    }
    threads.retain(|t| !t.frames.is_empty());
    if threads.is_empty() && !loose.is_empty() {
        threads.push(TracedThread {
            id: 1,
            tid: None,
            frames: loose.into_values().collect(),
        });
    }
    if threads.is_empty() {
        return None;
    }
    threads.sort_by_key(|t| t.id);
    let pid = threads.iter().find(|t| t.id == 1).and_then(|t| t.tid);
    Some(TracedProcess { pid, threads })
}

/// `Thread 2 (Thread 0x7f.. (LWP 123)):`, `Thread 1 (LWP 123):`, `Thread 1 (process 9):`.
fn thread_header(line: &str) -> Option<(u32, Option<u32>)> {
    let rest = line.strip_prefix("Thread ")?;
    let (id, rest) = rest.split_once(' ')?;
    let id = id.parse().ok()?;
    if !rest.starts_with('(') || !rest.ends_with("):") {
        return None;
    }
    let tid = ["LWP ", "process "].iter().find_map(|key| {
        let after = &rest[rest.find(key)? + key.len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    });
    Some((id, tid))
}

/// `#1  0x000055.. in main () at crash.c:3`, `#0  main () at crash.c:3`,
/// `#2  0x7f.. in __libc_start_call_main () from /lib/libc.so.6`.
fn frame_line(line: &str) -> Option<Frame> {
    let rest = line.strip_prefix('#')?;
    let digits_end = rest.find(|c: char| !c.is_ascii_digit())?;
    let frame_number = rest[..digits_end].parse().ok()?;
    let mut rest = rest[digits_end..].trim_start();
    let mut instruction_ptr = None;
    if rest.starts_with("0x") {
        let (ptr, after) = rest.split_once(" in ")?;
        instruction_ptr = Some(ptr.to_owned());
        rest = after;
    }
    let (call, source, line_number) = if let Some((call, at)) = rest.rsplit_once(" at ") {
        match at.rsplit_once(':') {
            Some((file, n)) => (call, Some(file.to_owned()), n.trim().parse().ok()),
            None => (call, Some(at.to_owned()), None),
        }
    } else if let Some((call, lib)) = rest.rsplit_once(" from ") {
        (call, Some(lib.to_owned()), None)
    } else {
        (rest, None, None)
    };
    // The arguments follow the name after a space: `name (a=1, b=2)`.
    let function_name = call.split_once(" (").map_or(call, |(name, _)| name).trim();
    Some(Frame {
        frame_number,
        function_name: function_name.to_owned(),
        instruction_ptr,
        source,
        line_number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BT: &str = "[New LWP 15768]\n\
        Core was generated by `./crash'.\n\
        #0  0x0000557f1511513f in crash (p=0x0) at crash.c:2\n\
        2\tint crash(int *p){ int local = 42; *p = local; return local; }\n\
        \n\
        Thread 2 (Thread 0x7f31e5dff6c0 (LWP 15770)):\n\
        #0  0x00007f31e60d5f16 in __futex_abstimed_wait_common () from /lib/x86_64-linux-gnu/libc.so.6\n\
        #1  worker (arg=0x0) at crash.c:9\n\
        \n\
        Thread 1 (Thread 0x7f31e6200740 (LWP 15768)):\n\
        #0  0x0000557f1511513f in crash (p=0x0) at crash.c:2\n\
        #1  0x0000557f15115162 in main () at crash.c:3\n";

    #[test]
    fn parses_every_thread_with_its_frames_and_the_pid_of_thread_one() {
        let p = parse_backtrace(BT).expect("threads");
        assert_eq!(p.pid, Some(15768));
        assert_eq!(p.threads.len(), 2);
        assert_eq!(p.threads[0].id, 1);
        assert_eq!(
            p.threads[0].frames[1],
            Frame {
                frame_number: 1,
                function_name: "main".into(),
                instruction_ptr: Some("0x0000557f15115162".into()),
                source: Some("crash.c".into()),
                line_number: Some(3),
            }
        );
        let worker = &p.threads[1];
        assert_eq!((worker.id, worker.tid), (2, Some(15770)));
        assert_eq!(
            worker.frames[0].source.as_deref(),
            Some("/lib/x86_64-linux-gnu/libc.so.6")
        );
        assert_eq!(worker.frames[1].instruction_ptr, None);
        assert_eq!(worker.frames[1].function_name, "worker");
    }

    #[test]
    fn frames_without_thread_headers_are_thread_one() {
        let p = parse_backtrace("#0  main () at a.c:1\n#1  0x1 in start ()\n").expect("frames");
        assert_eq!(p.threads.len(), 1);
        assert_eq!(p.threads[0].frames.len(), 2);
        assert_eq!(p.pid, None);
        assert!(parse_backtrace("No stack.\n").is_none());
    }

    #[test]
    fn variable_paths_accept_fields_and_indexes_but_no_calls_or_convenience_functions() {
        let path = variable_path();
        for ok in ["local", "s.field", "p->next->value", "a[3]", "*p", "&x"] {
            assert!(path.is_match(ok), "{ok}");
        }
        for bad in [
            "$_shell(\"id\")",
            "f()",
            "x = 1",
            "a[i]",
            "x\nshell id",
            "",
            "1+1",
        ] {
            assert!(!path.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn variables_missing_in_gdb_output_are_left_out() {
        let names = vec!["local".to_owned(), "nosuch".to_owned(), "p".to_owned()];
        let out = "#0  crash (p=0x0) at crash.c:2\n@@tollgate-variable 0\n$1 = 42\n\
                   @@tollgate-variable 1\n@@tollgate-variable 2\n$2 = (int *) 0x0\n\
                   No symbol \"nosuch\" in current context.\n";
        let values = parse_variables(out, &names);
        assert_eq!(values.get("local").map(String::as_str), Some("42"));
        assert_eq!(values.get("p").map(String::as_str), Some("(int *) 0x0"));
        assert!(!values.contains_key("nosuch"));
    }
}
