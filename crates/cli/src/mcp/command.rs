//! The requests a command would make, named from the one table of what each SDK function
//! asks (`tollgate_policy::sdk_actions::TABLE`) and the command's arguments.
//!
//! The table says, for each ask, its actions, its entity type and which entity: a fixed one
//! (`/proc/meminfo`), the only one of its type, or a role ("the file", "the file's
//! directory"). A role is read here against the parameters of the function's first call
//! form (`cat(path)`, `cp(source, destination)`): it names a parameter by what it is ("the
//! file" and "the directory" are the path; "the source" is `source`), or the directory a
//! parameter's path is in ("the file's directory"). Nothing here says what a function asks;
//! a role this cannot read (each entry a walk reaches, a live process) is reported as
//! unresolved, with the table's words for it, rather than guessed. A test holds the requests
//! named here to those a real run of the command records.

use tollgate_policy::sdk_actions::{self, Ask, Entity, Which};
use tollgate_policy::{AbsPath, Action, Context, Resource};

/// One request the command would make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The table's words for it, e.g. `open + read on file_system::File (the file)`.
    pub ask: String,
    /// `None`: on every call. Otherwise the case in which it is asked.
    pub when: Option<String>,
    pub actions: &'static [Action],
    pub resource: Resource,
    /// A move's destination; empty for every other request.
    pub context: Context,
}

/// Why an ask's entity is not named.
enum Miss {
    /// It depends on what is on the host or running, which this does not look at.
    Host(String),
    /// The argument cannot name it (a relative path, a port that is not a number): the
    /// command would be refused too.
    Invalid(String),
}

/// One ask whose entity could not be named from the arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unresolved {
    pub ask: String,
    /// `None`: on every call; otherwise the case in which it is asked.
    pub when: Option<String>,
    pub why: String,
}

/// Every request `command` with `args` would make, in the table's order, and the asks whose
/// entities cannot be named without looking at the host. An error says why the command or
/// its arguments are not ones to ask about.
pub fn requests(command: &str, args: &[String]) -> Result<(Vec<Planned>, Vec<Unresolved>), String> {
    let Some(function) = tollgate_script::sdk::SDK.iter().find(|f| f.name == command) else {
        return Err(format!(
            "{command:?} is not a function of the SDK; describe_sdk lists them"
        ));
    };
    if command.contains('.') {
        return Err(format!(
            "{command} is a method: what it asks depends on the object it is called on, so ask its requests one by one with {{action, resource}} (describe_sdk says which)"
        ));
    }
    let call = function.calls.first().copied().unwrap_or_default();
    let params = parameters(call);
    if params.len() != args.len() {
        return Err(format!(
            "{call} takes {} argument{}, and {} {} given; flags are not taken",
            params.len(),
            if params.len() == 1 { "" } else { "s" },
            args.len(),
            if args.len() == 1 { "was" } else { "were" },
        ));
    }
    let arguments = Arguments { params, args };
    let mut planned = Vec::new();
    let mut unresolved = Vec::new();
    for ask in sdk_actions::asks(command) {
        let context = match arguments.context(ask) {
            Ok(c) => c,
            Err(Miss::Invalid(why)) => return Err(why),
            Err(Miss::Host(why)) => {
                unresolved.push(Unresolved {
                    ask: ask.describe(),
                    when: ask.when.map(str::to_owned),
                    why,
                });
                continue;
            }
        };
        match arguments.entities(ask) {
            Ok(found) => planned.extend(found.into_iter().map(|(resource, case)| Planned {
                ask: ask.describe(),
                when: join_cases(ask.when, case),
                actions: ask.actions,
                resource,
                context: context.clone(),
            })),
            Err(Miss::Invalid(why)) => return Err(format!("{command}: {why}")),
            Err(Miss::Host(why)) => unresolved.push(Unresolved {
                ask: ask.describe(),
                when: ask.when.map(str::to_owned),
                why,
            }),
        }
    }
    Ok((planned, unresolved))
}

/// The one entity an ask is about whatever the arguments (`/proc/meminfo`,
/// `sysinfo::Sysinfo`), if it is about one.
pub fn fixed_entity(ask: &Ask) -> Option<Resource> {
    let none = Arguments {
        params: Vec::new(),
        args: &[],
    };
    match ask.which {
        Which::Only | Which::Id(_) => match none.entities(ask) {
            Ok(found) => found.into_iter().next().map(|(resource, _)| resource),
            Err(_) => None,
        },
        Which::Role(_) => None,
    }
}

/// The parameter names of a call form, flags and option maps left out:
/// `grep(pattern, path)` gives `[pattern, path]`.
fn parameters(call: &str) -> Vec<&str> {
    let (Some(open), Some(close)) = (call.find('('), call.rfind(')')) else {
        return Vec::new();
    };
    call[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty() && !p.starts_with('[') && !p.starts_with('#'))
        .collect()
}

/// The case of an ask, and the case this adds (a path that may be a file or a directory).
fn join_cases(table: Option<&str>, found: Option<&str>) -> Option<String> {
    match (table, found) {
        (None, None) => None,
        (Some(c), None) | (None, Some(c)) => Some(c.to_owned()),
        (Some(a), Some(b)) => Some(format!("{a}, {b}")),
    }
}

/// What a role is of.
enum Subject {
    /// The parameter's value.
    Itself(&'static str),
    /// The directory the parameter's path is in.
    Directory(&'static str),
}

/// The roles this reads, by how they begin, and what each is of. `path` stands for the
/// function's path parameter, whatever its name (`path`, `dir`).
const ROLES: &[(&str, &[Subject])] = &[
    ("the file's directory", &[Subject::Directory("path")]),
    ("the path's directory", &[Subject::Directory("path")]),
    ("the parent directory", &[Subject::Directory("path")]),
    (
        "the source's and the destination's directories",
        &[
            Subject::Directory("source"),
            Subject::Directory("destination"),
        ],
    ),
    ("the file", &[Subject::Itself("path")]),
    ("the path", &[Subject::Itself("path")]),
    ("the new directory", &[Subject::Itself("path")]),
    ("the directory", &[Subject::Itself("path")]),
    ("the source", &[Subject::Itself("source")]),
    (
        "the existing destination",
        &[Subject::Itself("destination")],
    ),
    ("the destination", &[Subject::Itself("destination")]),
    ("the unit", &[Subject::Itself("unit")]),
    ("the name, in lower case", &[Subject::Itself("name")]),
    ("the canonical URL", &[Subject::Itself("url")]),
    ("tcp://<host>:<port>", &[Subject::Itself("host")]),
];

struct Arguments<'a> {
    params: Vec<&'a str>,
    args: &'a [String],
}

impl Arguments<'_> {
    /// The argument given for `param`; `path` is the function's path parameter.
    fn get(&self, param: &str) -> Option<&str> {
        let names: &[&str] = if param == "path" {
            &["path", "dir"]
        } else {
            std::slice::from_ref(&param)
        };
        self.params
            .iter()
            .position(|p| names.contains(p))
            .map(|i| self.args[i].as_str())
    }

    /// The context of `ask`'s requests: for a move of the source, its destination, which
    /// the policy may look at.
    fn context(&self, ask: &Ask) -> Result<Context, Miss> {
        if !ask.actions.contains(&Action::FsMove) {
            return Ok(Context::Empty);
        }
        match (ask.which, self.get("destination")) {
            (Which::Role(role), Some(destination)) if role.starts_with("the source") => {
                Ok(Context::Move {
                    destination: path(destination)?,
                })
            }
            _ => Err(Miss::Host(
                "a move whose destination depends on what is there already".to_owned(),
            )),
        }
    }

    /// The entities `ask` is about, each with the case that adds (if any).
    fn entities(&self, ask: &Ask) -> Result<Vec<(Resource, Option<&'static str>)>, Miss> {
        match ask.which {
            Which::Only => match ask.entity {
                Entity::Sysinfo => Ok(vec![(Resource::Sysinfo, None)]),
                Entity::Systemd => Ok(vec![(Resource::Systemd, None)]),
                other => Err(Miss::Host(format!(
                    "{} has no single entity",
                    other.type_name()
                ))),
            },
            Which::Id(id) => typed(ask.entity, id),
            Which::Role(role) => {
                let Some((_, subjects)) = ROLES.iter().find(|(start, _)| role.starts_with(start))
                else {
                    return Err(Miss::Host(format!(
                        "it is asked of {role}, which depends on what is on the host or running; check_access does not look, so ask those with {{action, resource}} once you know them"
                    )));
                };
                let mut out = Vec::new();
                for subject in subjects.iter() {
                    out.extend(self.subject(ask, subject)?);
                }
                Ok(out)
            }
        }
    }

    fn subject(
        &self,
        ask: &Ask,
        subject: &Subject,
    ) -> Result<Vec<(Resource, Option<&'static str>)>, Miss> {
        let (Subject::Itself(param) | Subject::Directory(param)) = subject;
        let value = self.get(param).ok_or_else(|| {
            Miss::Host(format!("the function has no {param} parameter to name it"))
        })?;
        match (ask.entity, subject) {
            (Entity::Service, _) => Ok(vec![(Resource::Service(value.to_owned()), None)]),
            (Entity::Hostname, _) => Ok(vec![(Resource::Hostname(value.to_lowercase()), None)]),
            (Entity::Url, _) if *param == "host" => {
                let port = self
                    .get("port")
                    .and_then(|p| p.parse::<i64>().ok())
                    .ok_or_else(|| Miss::Invalid("the port is not a number".to_owned()))?;
                let endpoint = tollgate_host::net::tcp_endpoint(value, port)
                    .map_err(|e| Miss::Invalid(e.to_string()))?;
                Ok(vec![(Resource::Url(endpoint.url().to_owned()), None)])
            }
            (Entity::Url, _) => {
                let url = tollgate_host::net::HttpUrl::parse(value)
                    .map_err(|e| Miss::Invalid(e.to_string()))?;
                Ok(vec![(Resource::Url(url.canonical().to_owned()), None)])
            }
            (entity, Subject::Directory(_)) => {
                let path = path(value)?;
                let dir = path
                    .parent()
                    .ok_or_else(|| Miss::Host(format!("{path} has no directory above it")))?;
                typed(entity, dir.as_str())
            }
            (entity, Subject::Itself(_)) => typed(entity, value),
        }
    }
}

fn path(value: &str) -> Result<AbsPath, Miss> {
    AbsPath::parse(value).map_err(|e| Miss::Invalid(format!("{value:?}: {e}")))
}

/// The resource of type `entity` with id `id`; a path that may be either a file or a
/// directory is both, each in its case.
fn typed(entity: Entity, id: &str) -> Result<Vec<(Resource, Option<&'static str>)>, Miss> {
    Ok(match entity {
        Entity::File => vec![(Resource::File(path(id)?), None)],
        Entity::Dir => vec![(Resource::Dir(path(id)?), None)],
        Entity::FileOrDir => vec![
            (Resource::File(path(id)?), Some("if the path is a file")),
            (Resource::Dir(path(id)?), Some("if the path is a directory")),
        ],
        other => {
            return Err(Miss::Host(format!(
                "{} is not named by a path",
                other.type_name()
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(planned: &[Planned]) -> Vec<(Vec<&str>, String, Option<&str>)> {
        planned
            .iter()
            .map(|p| {
                (
                    p.actions.iter().map(|a| a.name()).collect(),
                    p.resource.to_string(),
                    p.when.as_deref(),
                )
            })
            .collect()
    }

    #[test]
    fn names_the_directory_and_the_file_a_reading_command_asks_about() {
        let (planned, unresolved) =
            requests("grep", &["ERROR".into(), "/var/log/app/x.log".into()]).unwrap();
        assert!(unresolved.is_empty());
        let ids = ids(&planned);
        assert_eq!(ids[0].0, ["open"]);
        assert_eq!(ids[0].1, r#"file_system::Dir::"/var/log/app""#);
        assert_eq!(ids[1].0, ["open", "read"]);
        assert_eq!(ids[1].1, r#"file_system::File::"/var/log/app/x.log""#);
        assert_eq!(ids[1].2, None);
        // Asked only where read is denied.
        assert_eq!(ids[2].0, ["open", "redacted_read"]);
        assert!(ids[2].2.unwrap().contains("read is denied"));
    }

    #[test]
    fn a_path_that_may_be_either_is_asked_both_ways_each_in_its_case() {
        let (planned, _) = requests("rm", &["/tmp/x".into()]).unwrap();
        let ids = ids(&planned);
        assert_eq!(
            ids[0],
            (vec!["open"], r#"file_system::Dir::"/tmp""#.into(), None)
        );
        assert_eq!(ids[1].1, r#"file_system::File::"/tmp/x""#);
        assert_eq!(ids[1].2, Some("if the path is a file"));
        assert_eq!(ids[2].1, r#"file_system::Dir::"/tmp/x""#);
    }

    #[test]
    fn fixed_entities_and_names_need_no_path() {
        let (planned, _) = requests("free", &[]).unwrap();
        assert_eq!(ids(&planned)[0].1, r#"file_system::File::"/proc/meminfo""#);
        let (planned, _) = requests("resolve", &["Example.COM".into()]).unwrap();
        assert_eq!(ids(&planned)[0].1, r#"sysinfo::Hostname::"example.com""#);
        let (planned, _) = requests("connect", &["Example.com".into(), "443".into()]).unwrap();
        assert_eq!(
            ids(&planned)[0].1,
            r#"network::url::"tcp://example.com:443""#
        );
        let (planned, _) = requests("uname", &[]).unwrap();
        assert_eq!(ids(&planned)[0].1, r#"sysinfo::Sysinfo::"sysinfo""#);
    }

    #[test]
    fn what_depends_on_the_host_is_unresolved_not_guessed() {
        let (planned, unresolved) = requests("du", &["/var/log".into()]).unwrap();
        // The directory itself is named; each file below it is not.
        assert_eq!(ids(&planned)[0].1, r#"file_system::Dir::"/var/log""#);
        assert_eq!(unresolved.len(), 1, "{unresolved:?}");
        assert!(unresolved[0].ask.contains("each file and symlink below it"));
        let (planned, unresolved) = requests("ps", &[]).unwrap();
        assert!(planned.is_empty());
        assert!(!unresolved.is_empty());
    }

    #[test]
    fn refuses_what_is_not_a_command_or_not_its_arguments() {
        assert!(requests("slurp", &[])
            .unwrap_err()
            .contains("not a function"));
        assert!(requests("RcFileHandle.read", &[])
            .unwrap_err()
            .contains("is a method"));
        let e = requests("cat", &[]).unwrap_err();
        assert!(e.contains("cat(path) takes 1 argument"), "{e}");
        let e = requests("cat", &["relative/path".into()]).unwrap_err();
        assert!(e.contains("relative/path"), "{e}");
    }

    #[test]
    fn every_file_command_with_a_path_names_its_requests() {
        // The functions whose every ask is about their path or its directory: none of the
        // asks they make on every call may be left unresolved.
        for (command, args) in [
            ("cat", vec!["/a/b"]),
            ("tail", vec!["/a/b"]),
            ("wc", vec!["/a/b"]),
            ("sed", vec!["x", "y", "/a/b"]),
            ("awk_filter", vec!["x", "/a/b"]),
            ("awk_sum", vec!["1", ",", "/a/b"]),
            ("ls", vec!["/a"]),
            ("find_files", vec!["*.log", "/a"]),
            ("stat", vec!["/a/b"]),
            ("write", vec!["/a/b", "text"]),
            ("touch", vec!["/a/b"]),
            ("mkdir", vec!["/a/b"]),
            ("cp", vec!["/a/b", "/c/d"]),
            ("mv", vec!["/a/b", "/c/d"]),
            ("rm", vec!["/a/b"]),
            ("service_status", vec!["nginx.service"]),
            ("curl", vec!["https://example.com/x"]),
        ] {
            let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
            let (planned, unresolved) = requests(command, &args).unwrap();
            assert!(
                unresolved.iter().all(|u| u.when.is_some()),
                "{command}: {unresolved:?}"
            );
            assert!(!planned.is_empty(), "{command}");
        }
    }
}
