//! What a request is about: the resource entity (with its parents) and the action's context.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use cedar_policy_core::ast::{self, PartialValue};
use smol_str::SmolStr;

use crate::error::PolicyError;
use crate::execute::ExecuteView;
use crate::identity::Caller;
use crate::labels::{LabelRules, Labels};
use crate::path::AbsPath;

/// A resource a host operation wants to touch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    File(AbsPath),
    Dir(AbsPath),
    /// `process_system::Process`, id = pid as text.
    Process(ProcessInfo),
    /// `sysinfo::Sysinfo`: memory, load, uptime, kernel messages, processor count.
    Sysinfo,
    /// `sysinfo::Uname`: kernel name, release, machine, host name.
    Uname,
    /// `sysinfo::Hostname`, id and `hostname` = the name to resolve.
    Hostname(String),
    /// `systemd::Service`, id and `name` = the unit name (e.g. `nginx.service`).
    Service(String),
    /// `systemd::Systemd`: the service manager itself (daemon_reload).
    Systemd,
    /// `network::url`, id and `url` = the canonical URL (scheme, lower-case host, explicit
    /// port, path, and the query if any; never user-info or a fragment); the caller
    /// canonicalizes.
    Url(String),
    /// `output::Result::"run"`: the run's answer to its caller, released through one
    /// decision (`output::Action::"release"`).
    Output,
}

/// The attributes a policy sees of a process.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProcessInfo {
    pub pid: u32,
    pub id: String,
    pub name: String,
    pub username: String,
    pub command: String,
}

impl ProcessInfo {
    pub fn new(pid: u32, name: String, username: String, command: String) -> ProcessInfo {
        ProcessInfo {
            pid,
            id: pid.to_string(),
            name,
            username,
            command,
        }
    }
}

/// The context of a request. Every action has an empty context except those listed here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Context {
    Empty,
    /// `file_system::Action::"move"`: where the resource goes.
    Move {
        destination: AbsPath,
    },
    /// `file_system::Action::"execute"`: one view of the arguments, environment, user and
    /// group (see [`crate::execute`]).
    Execute(Box<ExecuteView>),
    /// `output::Action::"release"`: whether the host redacts the answer.
    Release {
        redacted: bool,
    },
}

struct TypeNames {
    file: EntityTypeName,
    dir: EntityTypeName,
    process: EntityTypeName,
    sysinfo: EntityTypeName,
    uname: EntityTypeName,
    hostname: EntityTypeName,
    service: EntityTypeName,
    systemd: EntityTypeName,
    url: EntityTypeName,
    output: EntityTypeName,
}

fn type_names() -> &'static TypeNames {
    static NAMES: OnceLock<TypeNames> = OnceLock::new();
    // Each is a literal that parses; the unit test `type_names_parse` guards them.
    let parse = |s: &str| EntityTypeName::from_str(s).unwrap_or_else(|_| unreachable!());
    NAMES.get_or_init(|| TypeNames {
        file: parse("file_system::File"),
        dir: parse("file_system::Dir"),
        process: parse("process_system::Process"),
        sysinfo: parse("sysinfo::Sysinfo"),
        uname: parse("sysinfo::Uname"),
        hostname: parse("sysinfo::Hostname"),
        service: parse("systemd::Service"),
        systemd: parse("systemd::Systemd"),
        url: parse("network::url"),
        output: parse("output::Result"),
    })
}

fn string(v: &str) -> PartialValue {
    PartialValue::Value(ast::Value::from(v))
}

impl Resource {
    /// The resource a Cedar uid names, e.g. `file_system::File::"/var/log/x"`. A process is
    /// refused: its decision depends on the live process's name, user and command, which a
    /// uid does not carry.
    pub fn from_uid(text: &str) -> Result<Resource, PolicyError> {
        let unknown = |why: String| PolicyError::UnknownName(why);
        let uid = EntityUid::from_str(text.trim()).map_err(|e| {
            unknown(format!(
                "{text} is not a Cedar entity uid ({e}); write it as type::\"id\", e.g. file_system::File::\"/var/log/syslog\""
            ))
        })?;
        let id = uid.id().unescaped().to_owned();
        let path = || AbsPath::parse(&id).map_err(|e| unknown(format!("{text}: {e}")));
        let ty = uid.type_name().to_string();
        Ok(match ty.as_str() {
            "file_system::File" => Resource::File(path()?),
            "file_system::Dir" => Resource::Dir(path()?),
            "sysinfo::Sysinfo" => Resource::Sysinfo,
            "sysinfo::Uname" => Resource::Uname,
            "sysinfo::Hostname" => Resource::Hostname(id),
            "systemd::Service" => Resource::Service(id),
            "systemd::Systemd" => Resource::Systemd,
            "network::url" => Resource::Url(id),
            "output::Result" => Resource::Output,
            "process_system::Process" => {
                return Err(unknown(format!(
                    "{text}: a process cannot be probed by uid, because policies see its name, user and command; run a script that calls ps or kill instead"
                )))
            }
            other => {
                return Err(unknown(format!(
                    "{other} is not a resource type of the schema; use one of file_system::File, file_system::Dir, sysinfo::Sysinfo, sysinfo::Uname, sysinfo::Hostname, systemd::Service, systemd::Systemd, network::url, output::Result"
                )))
            }
        })
    }

    /// The Cedar entity type, e.g. `file_system::File`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Resource::File(_) => "file_system::File",
            Resource::Dir(_) => "file_system::Dir",
            Resource::Process(_) => "process_system::Process",
            Resource::Sysinfo => "sysinfo::Sysinfo",
            Resource::Uname => "sysinfo::Uname",
            Resource::Hostname(_) => "sysinfo::Hostname",
            Resource::Service(_) => "systemd::Service",
            Resource::Systemd => "systemd::Systemd",
            Resource::Url(_) => "network::url",
            Resource::Output => "output::Result",
        }
    }

    /// The entity id (for files and dirs, the absolute path; for a process, its pid).
    pub fn id(&self) -> &str {
        match self {
            Resource::File(p) | Resource::Dir(p) => p.as_str(),
            Resource::Process(p) => &p.id,
            Resource::Sysinfo => "sysinfo",
            Resource::Uname => "uname",
            Resource::Hostname(h) | Resource::Service(h) | Resource::Url(h) => h,
            Resource::Systemd => "systemd",
            Resource::Output => "run",
        }
    }

    /// The path of a File or Dir resource.
    pub fn path(&self) -> Option<&AbsPath> {
        match self {
            Resource::File(p) | Resource::Dir(p) => Some(p),
            _ => None,
        }
    }

    pub(crate) fn uid(&self) -> EntityUid {
        let names = type_names();
        let ty = match self {
            Resource::File(_) => &names.file,
            Resource::Dir(_) => &names.dir,
            Resource::Process(_) => &names.process,
            Resource::Sysinfo => &names.sysinfo,
            Resource::Uname => &names.uname,
            Resource::Hostname(_) => &names.hostname,
            Resource::Service(_) => &names.service,
            Resource::Systemd => &names.systemd,
            Resource::Url(_) => &names.url,
            Resource::Output => &names.output,
        };
        EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(self.id()))
    }

    /// The uids this resource is `in`: itself first, then its ancestors, as (type, id) pairs.
    /// The policy index uses these to find the policies whose resource scope can match.
    pub(crate) fn scope_keys(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let own = std::iter::once((self.type_name(), self.id()));
        let ancestors = self
            .path()
            .into_iter()
            .flat_map(|p| p.ancestors())
            .map(|a| ("file_system::Dir", a));
        own.chain(ancestors)
    }

    /// The resource entity, with its `path` and `labels` attributes (files and dirs), or its
    /// `url` and `jurisdiction` (an endpoint, whose labels give that), and every ancestor Dir
    /// as a parent.
    ///
    /// The ancestors are given directly, already transitively closed, so the entity store
    /// needs no closure computation (it dominated the cost of a decision). Policies cannot
    /// read an ancestor's attributes, only test membership with `in`, so the ancestors' own
    /// entities are not needed.
    pub(crate) fn entity(&self, labels: &Labels) -> ast::Entity {
        let names = type_names();
        let mut parents: HashSet<ast::EntityUID> = HashSet::new();
        let attrs: Vec<(SmolStr, PartialValue)> = match self {
            Resource::File(path) | Resource::Dir(path) => {
                parents.extend(path.ancestors().map(|dir| {
                    EntityUid::from_type_name_and_id(names.dir.clone(), EntityId::new(dir)).into()
                }));
                vec![
                    (SmolStr::new_static("path"), string(path.as_str())),
                    labels.attribute(),
                ]
            }
            Resource::Process(p) => vec![
                (SmolStr::new_static("name"), string(&p.name)),
                (SmolStr::new_static("username"), string(&p.username)),
                (SmolStr::new_static("command"), string(&p.command)),
            ],
            Resource::Hostname(h) => vec![(SmolStr::new_static("hostname"), string(h))],
            Resource::Service(name) => vec![(SmolStr::new_static("name"), string(name))],
            // `labels` of an endpoint are what its URL rule gives (see `LabelRules`).
            Resource::Url(url) => vec![
                (SmolStr::new_static("url"), string(url)),
                (
                    SmolStr::new_static("jurisdiction"),
                    string(labels.jurisdiction.as_deref().unwrap_or_default()),
                ),
            ],
            Resource::Sysinfo | Resource::Uname | Resource::Systemd | Resource::Output => {
                Vec::new()
            }
        };
        ast::Entity::new_with_attr_partial_value(
            self.uid().into(),
            attrs,
            HashSet::new(),
            parents,
            [],
        )
    }
}

impl Context {
    /// Entities the context refers to, which the request must carry.
    pub(crate) fn entities(&self) -> Vec<ast::Entity> {
        match self {
            Context::Execute(view) => view.entities().into(),
            Context::Empty | Context::Move { .. } | Context::Release { .. } => Vec::new(),
        }
    }

    /// The Cedar context: this request's own pairs, then the run's purpose and ticket, and
    /// `taint`, what the run has read so far. `labels` gives the labels of a path (a move's
    /// destination has them too).
    pub(crate) fn to_cedar(
        &self,
        caller: &Caller,
        labels: &LabelRules,
        taint: RestrictedExpression,
    ) -> cedar_policy::Context {
        let mut pairs = match self {
            Context::Empty => Vec::new(),
            Context::Release { redacted } => vec![(
                "redacted".to_owned(),
                RestrictedExpression::new_bool(*redacted),
            )],
            Context::Execute(view) => view.pairs(),
            Context::Move { destination } => {
                let parent = destination.parent().unwrap_or_else(AbsPath::root);
                let record = RestrictedExpression::new_record([
                    (
                        "path".to_owned(),
                        RestrictedExpression::new_string(destination.to_string()),
                    ),
                    (
                        "name".to_owned(),
                        RestrictedExpression::new_string(destination.file_name().to_owned()),
                    ),
                    (
                        "parent_path".to_owned(),
                        RestrictedExpression::new_string(parent.to_string()),
                    ),
                    (
                        "labels".to_owned(),
                        labels
                            .labels_of(destination)
                            .as_deref()
                            .unwrap_or(Labels::unlabelled())
                            .expression(),
                    ),
                ]);
                // Record keys are distinct and values are literals, so this succeeds.
                let record = record.unwrap_or_else(|_| unreachable!());
                vec![("destination".to_owned(), record)]
            }
        };
        pairs.extend(caller.context_pairs());
        pairs.push(("taint".to_owned(), taint));
        // No request's own pairs are named purpose, ticket or taint, so the keys are distinct.
        cedar_policy::Context::from_pairs(pairs).unwrap_or_else(|_| unreachable!())
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}::\"{}\"",
            self.type_name(),
            self.id().escape_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_parse() {
        let n = type_names();
        assert_eq!(n.file.to_string(), "file_system::File");
        assert_eq!(n.dir.to_string(), "file_system::Dir");
        assert_eq!(n.process.to_string(), "process_system::Process");
        assert_eq!(n.sysinfo.to_string(), "sysinfo::Sysinfo");
        assert_eq!(n.uname.to_string(), "sysinfo::Uname");
        assert_eq!(n.hostname.to_string(), "sysinfo::Hostname");
        assert_eq!(n.service.to_string(), "systemd::Service");
        assert_eq!(n.systemd.to_string(), "systemd::Systemd");
        assert_eq!(n.url.to_string(), "network::url");
    }

    #[test]
    fn resources_parse_back_from_their_uid() {
        for r in [
            Resource::File(AbsPath::parse("/var/log/a \"b\".log").unwrap()),
            Resource::Dir(AbsPath::parse("/var/log").unwrap()),
            Resource::Sysinfo,
            Resource::Hostname("example.com".into()),
            Resource::Service("nginx.service".into()),
            Resource::Url("https://example.com:443/".into()),
        ] {
            assert_eq!(Resource::from_uid(&r.to_string()).unwrap(), r);
        }
    }

    #[test]
    fn refuses_to_parse_processes_relative_paths_and_unknown_types() {
        for (text, why) in [
            (r#"process_system::Process::"1""#, "cannot be probed"),
            (r#"file_system::File::"var/log""#, "var/log"),
            (r#"file_system::Disk::"/""#, "not a resource type"),
            ("/var/log", "not a Cedar entity uid"),
        ] {
            let e = Resource::from_uid(text).unwrap_err().to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn file_entity_has_every_ancestor_as_parent() {
        let r = Resource::File(AbsPath::parse("/var/log/a.log").unwrap());
        let e = r.entity(Labels::unlabelled());
        let mut parents: Vec<String> = e
            .ancestors()
            .map(|p| p.eid().escaped().to_string())
            .collect();
        parents.sort();
        assert_eq!(parents, ["/", "/var", "/var/log"]);
        assert!(e.get("path").is_some());
    }
}
