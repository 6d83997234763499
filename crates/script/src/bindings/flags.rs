//! Flag modules: `ls::all`, `tail::n(20)`, ... A flag is a value of the module named after its
//! command, passed in an array as the command's first argument.

use rhai::{Dynamic, Engine, EvalAltResult, Module, Position};

/// One flag value. `args` holds the numbers of a flag that takes them (`tail::range(a, b)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub command: &'static str,
    pub name: &'static str,
    pub args: [i64; 2],
}

/// Plain flags: (module, canonical name, aliases).
const SWITCHES: &[(&str, &str, &[&str])] = &[
    ("cat", "number", &["n"]),
    ("ls", "all", &["a"]),
    ("ls", "long", &["l"]),
    ("ls", "recursive", &["R"]),
    ("grep", "ignore_case", &["i"]),
    ("grep", "count", &["c"]),
    ("grep", "invert", &["v"]),
    ("grep", "line_number", &["n"]),
    ("wc", "lines", &["l"]),
    ("wc", "words", &["w"]),
    ("wc", "bytes", &["c"]),
    ("sed", "regex", &[]),
    ("sed", "all", &["g"]),
    ("sed", "in_place", &["i"]),
    ("write", "append", &["a"]),
    ("write", "replace", &["r"]),
    ("mkdir", "parents", &["p"]),
    ("cp", "force", &["f"]),
    ("cp", "preserve", &["p"]),
    ("mv", "backup", &["b"]),
    ("mv", "verbose", &["v"]),
    ("rm", "force", &["f"]),
    ("rm", "recursive", &["r"]),
    ("glob", "recursive", &["r"]),
    ("du", "summarize", &["s"]),
    ("du", "all_files", &["a"]),
    ("du", "apparent_size", &[]),
    ("kill", "TERM", &[]),
    ("kill", "KILL", &[]),
    ("kill", "HUP", &[]),
    ("kill", "INT", &[]),
    ("kill", "QUIT", &[]),
    ("kill", "USR1", &[]),
    ("kill", "USR2", &[]),
    ("kill", "STOP", &[]),
    ("kill", "CONT", &[]),
];

/// Flags that take one number: (module, canonical name, aliases).
const WITH_NUMBER: &[(&str, &str, &[&str])] = &[
    ("grep", "max_count", &["m"]),
    ("tail", "n", &[]),
    ("tail", "from", &[]),
    ("du", "max_depth", &["d"]),
    ("seq", "step", &[]),
];

/// The flags of module `command` as a script writes them, aliases in parentheses:
/// `ls::all (ls::a)`, `tail::n(k)`. From the same tables the engine registers.
pub(crate) fn names(command: &str) -> Vec<String> {
    let show = |name: &str, aliases: &[&str], args: &str| {
        let mut s = format!("{command}::{name}{args}");
        if !aliases.is_empty() {
            let aliases: Vec<String> = aliases
                .iter()
                .map(|a| format!("{command}::{a}{args}"))
                .collect();
            s.push_str(&format!(" ({})", aliases.join(", ")));
        }
        s
    };
    let mut out: Vec<String> = SWITCHES
        .iter()
        .filter(|(c, _, _)| *c == command)
        .map(|(_, n, a)| show(n, a, ""))
        .collect();
    out.extend(
        WITH_NUMBER
            .iter()
            .filter(|(c, _, _)| *c == command)
            .map(|(_, n, a)| show(n, a, "(k)")),
    );
    if command == "tail" {
        out.push(show("range", &[], "(first, last)"));
    }
    out
}

/// Registers every flag module as a static module of the engine.
pub(crate) fn register(engine: &mut Engine) {
    let mut modules: Vec<(&'static str, Module)> = Vec::new();
    let mut module_for = |name: &'static str| -> usize {
        match modules.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                modules.push((name, Module::new()));
                modules.len() - 1
            }
        }
    };
    let mut entries: Vec<(usize, &'static str, &'static str, bool)> = Vec::new();
    for (cmd, name, aliases) in SWITCHES {
        let m = module_for(cmd);
        for alias in std::iter::once(name).chain(aliases.iter()) {
            entries.push((m, alias, name, false));
        }
    }
    for (cmd, name, aliases) in WITH_NUMBER {
        let m = module_for(cmd);
        for alias in std::iter::once(name).chain(aliases.iter()) {
            entries.push((m, alias, name, true));
        }
    }
    let tail = module_for("tail");
    for (m, alias, name, takes_number) in entries {
        let command = modules[m].0;
        let module = &mut modules[m].1;
        if takes_number {
            module.set_native_fn(alias, move |k: i64| {
                Ok(Flag {
                    command,
                    name,
                    args: [k, 0],
                })
            });
        } else {
            module.set_var(
                alias,
                Flag {
                    command,
                    name,
                    args: [0, 0],
                },
            );
        }
    }
    modules[tail].1.set_native_fn("range", |a: i64, b: i64| {
        Ok(Flag {
            command: "tail",
            name: "range",
            args: [a, b],
        })
    });
    for (name, module) in modules {
        engine.register_static_module(name, module.into());
    }
    engine.register_type_with_name::<Flag>("Flag");
    engine.register_fn("to_string", |f: &mut Flag| {
        format!("{}::{}", f.command, f.name)
    });
}

/// The flags of `command` found in `values`; anything else is an error naming the module.
pub(crate) fn parse(command: &str, values: &rhai::Array) -> Result<Vec<Flag>, Box<EvalAltResult>> {
    values
        .iter()
        .map(|v| match v.clone().try_cast::<Flag>() {
            Some(f) if f.command == command => Ok(f),
            Some(f) => Err(bad_flag(command, &format!("{}::{}", f.command, f.name))),
            None => Err(bad_flag(command, v.type_name())),
        })
        .collect()
}

fn bad_flag(command: &str, got: &str) -> Box<EvalAltResult> {
    let msg = format!(
        "{command} takes flags from the {command} module (e.g. [{command}::...]); got {got}"
    );
    EvalAltResult::ErrorRuntime(
        Dynamic::from_map(super::error_map(
            tollgate_host::ErrorKind::InvalidInput,
            &msg,
            "IoErrorKind",
        )),
        Position::NONE,
    )
    .into()
}

/// Whether a flag named `name` is set.
pub(crate) fn has(flags: &[Flag], name: &str) -> bool {
    flags.iter().any(|f| f.name == name)
}

/// The numbers of the last flag named `name`.
pub(crate) fn value(flags: &[Flag], name: &str) -> Option<[i64; 2]> {
    flags.iter().rev().find(|f| f.name == name).map(|f| f.args)
}
