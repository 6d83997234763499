//! Flag modules: `ls::all`, `tail::n(20)`, ... A flag is a value of the module named after its
//! command, passed in an array as the command's first argument. As in Rex, each module's flags
//! have a type of their own, named after it (`type_of(ls::all)` is `"LsFlag"`), and a flag of
//! another module is refused.

use rhai::{Dynamic, Engine, EvalAltResult, Module, Position};

/// One flag value. `args` holds the numbers of a flag that takes them (`tail::range(a, b)`).
#[derive(Clone, Debug, PartialEq)]
pub struct Flag {
    pub command: &'static str,
    pub name: &'static str,
    pub args: [i64; 2],
}

/// Declares the script type of each module's flags: a wrapper of [`Flag`] per module, so that
/// the engine reports each under its own name.
macro_rules! flag_types {
    ($($module:literal => $ty:ident),* $(,)?) => {
        $(
            #[doc = concat!("A flag of the `", $module, "` module, as scripts see it.")]
            #[derive(Clone, Debug)]
            struct $ty(Flag);
        )*

        /// The flag as a script value of its module's type.
        fn typed(flag: Flag) -> Dynamic {
            match flag.command {
                $($module => Dynamic::from($ty(flag)),)*
                // Every module of the tables below is listed above (a test checks).
                _ => Dynamic::from(flag),
            }
        }

        /// The flag a script value holds, of whichever module.
        fn untyped(value: &Dynamic) -> Option<Flag> {
            $(
                if let Some(f) = value.read_lock::<$ty>() {
                    return Some(f.0.clone());
                }
            )*
            value.read_lock::<Flag>().map(|f| f.clone())
        }

        fn register_types(engine: &mut Engine) {
            $(engine.register_type_with_name::<$ty>(stringify!($ty));)*
        }

        /// The modules that have a flag type.
        #[cfg(test)]
        const TYPED: &[&str] = &[$($module),*];
    };
}

flag_types! {
    "cat" => CatFlag,
    "ls" => LsFlag,
    "grep" => GrepFlag,
    "tail" => TailFlag,
    "wc" => WcFlag,
    "sed" => SedFlag,
    "write" => WriteFlag,
    "mkdir" => MkdirFlag,
    "cp" => CpFlag,
    "mv" => MvFlag,
    "rm" => RmFlag,
    "glob" => GlobFlag,
    "du" => DuFlag,
    "seq" => SeqFlag,
    // Tollgate's own: Rex's `kill` takes no flags.
    "kill" => KillFlag,
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
                Ok(typed(Flag {
                    command,
                    name,
                    args: [k, 0],
                }))
            });
        } else {
            module.set_var(
                alias,
                typed(Flag {
                    command,
                    name,
                    args: [0, 0],
                }),
            );
        }
    }
    modules[tail].1.set_native_fn("range", |a: i64, b: i64| {
        Ok(typed(Flag {
            command: "tail",
            name: "range",
            args: [a, b],
        }))
    });
    for (name, module) in modules {
        engine.register_static_module(name, module.into());
    }
    // As in Rex, a flag has no `to_string` of its own: it prints as its type's name.
    register_types(engine);
}

/// The flags of `command` found in `values`; anything else is an error naming the module.
pub(crate) fn parse(command: &str, values: &rhai::Array) -> Result<Vec<Flag>, Box<EvalAltResult>> {
    values
        .iter()
        .map(|v| match untyped(v) {
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

/// The numbers of the first flag named `name`: as in Rex, a repeated flag does not override
/// the one before it.
pub(crate) fn value(flags: &[Flag], name: &str) -> Option<[i64; 2]> {
    flags.iter().find(|f| f.name == name).map(|f| f.args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_module_has_a_type_of_its_own() {
        for (module, _, _) in SWITCHES.iter().chain(WITH_NUMBER) {
            assert!(TYPED.contains(module), "{module} has no flag type");
        }
    }
}
