//! Loading a host owner's policy file: parse, refuse templates, validate against the schema,
//! name every policy, and index the set for fast decisions.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

use cedar_policy::{PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use crate::error::{PolicyError, SourceLocation};
use crate::index::PolicyIndex;
// Re-exported for the modules that take both; the schema is its own module.
use crate::path::AbsPath;
pub(crate) use crate::schema::Schema;

/// A validated, indexed policy set and where it came from.
pub struct Policies {
    pub(crate) set: PolicySet,
    pub(crate) index: PolicyIndex,
    file: String,
    text: String,
    names: OnceLock<HashMap<PolicyId, String>>,
}

impl Policies {
    /// Reads and validates a policy file.
    pub fn load(path: &Path, schema: &Schema) -> Result<Policies, PolicyError> {
        let (file, text) = read(path)?;
        Policies::parse(&file, &text, schema)
    }

    /// Parses the built-in schema and reads a policy file at the same time: each parse is
    /// most of a short run's start-up, and they meet only at validation.
    pub fn load_with_schema(path: &Path) -> Result<(Schema, Policies), PolicyError> {
        let schema = std::thread::spawn(Schema::tollgate);
        let parsed = read(path).and_then(|(file, text)| {
            let set = parse_set(&file, &text)?;
            Ok((file, text, set))
        });
        let schema = schema
            .join()
            .map_err(|_| PolicyError::Schema("the schema parser panicked".to_owned()))??;
        let (file, text, set) = parsed?;
        let policies = Policies::validated(set, &file, &text, &schema)?;
        Ok((schema, policies))
    }

    /// Parses and validates policy text; `file` names it in errors and policy ids.
    pub fn parse(file: &str, text: &str, schema: &Schema) -> Result<Policies, PolicyError> {
        let set = parse_set(file, text)?;
        Policies::validated(set, file, text, schema)
    }

    fn validated(
        set: PolicySet,
        file: &str,
        text: &str,
        schema: &Schema,
    ) -> Result<Policies, PolicyError> {
        let result = Validator::new(schema.cedar.clone()).validate(&set, ValidationMode::Strict);
        let mut problems: Vec<Problem> = result
            .validation_errors()
            .map(|e| diagnostic_problem(file, text, e))
            .collect();
        problems.extend(path_problems(&set, file, text));
        if !problems.is_empty() {
            // In file order, whichever check found them.
            problems.sort_by_key(|(loc, _)| {
                loc.as_ref().map_or((usize::MAX, 0), |l| (l.line, l.column))
            });
            return Err(PolicyError::Invalid { problems });
        }
        let index = PolicyIndex::build(&set, schema);
        Ok(Policies {
            set,
            index,
            file: file.to_owned(),
            text: text.to_owned(),
            names: OnceLock::new(),
        })
    }

    /// Parses and indexes policy text without validating it: tests of the index feed it
    /// conditions the schema would refuse, to see they change no decision either.
    #[cfg(test)]
    pub(crate) fn unvalidated(text: &str, schema: &Schema) -> Policies {
        let set = parse_set("test.cedar", text).expect("the test's policies parse");
        let index = PolicyIndex::build(&set, schema);
        Policies {
            set,
            index,
            file: "test.cedar".to_owned(),
            text: text.to_owned(),
            names: OnceLock::new(),
        }
    }

    /// The number of policies in the set.
    pub fn len(&self) -> usize {
        self.set.policies().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text the policies were parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The name a person uses for a policy: its `@id` annotation, else `file:line`.
    pub fn name(&self, id: &PolicyId) -> String {
        let names = self.names.get_or_init(|| self.compute_names());
        names
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("{}:{}", self.file, id))
    }

    fn compute_names(&self) -> HashMap<PolicyId, String> {
        // The public API gives no source positions for policies, so ask the parser once.
        // It assigns ids in the same order as `PolicySet::from_str`.
        let mut lines: HashMap<String, usize> = HashMap::new();
        if let Ok(core) = cedar_policy_core::parser::parse_policyset(&self.text) {
            for p in core.policies() {
                if let Some(loc) = p.loc() {
                    let at = SourceLocation::at(&self.file, &self.text, loc.span.offset());
                    lines.insert(p.id().to_string(), at.line);
                }
            }
        }
        self.set
            .policies()
            .map(|p| {
                let name = match p.annotation("id") {
                    Some(id) => id.to_owned(),
                    None => match lines.get(&p.id().to_string()) {
                        Some(line) => format!("{}:{}", self.file, line),
                        None => format!("{}:{}", self.file, p.id()),
                    },
                };
                (p.id().clone(), name)
            })
            .collect()
    }
}

fn read(path: &Path) -> Result<(String, String), PolicyError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        file: file.clone(),
        source,
    })?;
    Ok((file, text))
}

/// Parses policy text into a set of static policies.
fn parse_set(file: &str, text: &str) -> Result<PolicySet, PolicyError> {
    let set = PolicySet::from_str(text).map_err(|errs| PolicyError::Invalid {
        problems: errs
            .iter()
            .map(|e| diagnostic_problem(file, text, e))
            .collect(),
    })?;
    if set.templates().next().is_some() {
        let msg = "policy templates are not supported: write a static policy (no ?principal or ?resource slots)";
        return Err(PolicyError::Invalid {
            problems: vec![(None, msg.to_owned())],
        });
    }
    Ok(set)
}

/// One problem of a policy file, where it is when that is known.
type Problem = (Option<SourceLocation>, String);

/// Every `file_system::File` or `file_system::Dir` literal, in a scope or a condition, whose id
/// is not a normalized absolute path. The host names files only by normalized paths
/// ([`AbsPath`]), so `Dir::"/d/secret/"` would never match anything, and a `forbid` written
/// that way would silently forbid nothing.
fn path_problems(set: &PolicySet, file: &str, text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    for policy in set.policies() {
        let core: &cedar_policy_core::ast::Policy = policy.as_ref();
        // The condition holds the scope constraints as expressions too, so one walk sees
        // `resource in Dir::"..."` in the scope, in `when`/`unless`, and inside sets.
        for expr in core.condition().subexpressions() {
            let cedar_policy_core::ast::ExprKind::Lit(cedar_policy_core::ast::Literal::EntityUID(
                uid,
            )) = expr.expr_kind()
            else {
                continue;
            };
            let ty = uid.entity_type().to_string();
            if ty != "file_system::File" && ty != "file_system::Dir" {
                continue;
            }
            let id: &str = uid.eid().as_ref();
            let why = match AbsPath::parse(id) {
                Ok(normal) if normal.as_str() == id => continue,
                Ok(normal) => format!(
                    "{ty}::{id:?} can never match: File and Dir ids are normalized absolute paths (no trailing '/', no '//', '.' or '..'); write {ty}::{:?}",
                    normal.as_str()
                ),
                Err(e) => format!("{ty}::{id:?} can never match: {e}"),
            };
            let loc = uid
                .loc()
                .or_else(|| expr.source_loc())
                .or_else(|| core.loc())
                .map(|l| SourceLocation::at(file, text, l.span.offset()));
            out.push((loc, why));
        }
    }
    out
}

fn diagnostic_problem(file: &str, text: &str, e: &dyn Diagnostic) -> Problem {
    let loc = e
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| SourceLocation::at(file, text, l.offset()));
    let mut msg = e.to_string();
    if let Some(help) = e.help() {
        msg.push_str(&format!(" (help: {help})"));
    }
    (loc, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::tollgate().unwrap()
    }

    fn problems(text: &str) -> Vec<(Option<SourceLocation>, String)> {
        match Policies::parse("p.cedar", text, &schema()) {
            Err(PolicyError::Invalid { problems }) => problems,
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("policy was accepted"),
        }
    }

    #[test]
    fn misspelt_action_is_a_validation_error_with_line_and_column() {
        let p = problems(
            "permit(principal, action, resource);\n\npermit(principal, action == file_system::Action::\"raed\", resource);",
        );
        let (loc, msg) = &p[0];
        let loc = loc.as_ref().expect("location");
        assert_eq!((loc.line, loc.column > 1), (3, true), "{msg}");
        assert!(msg.contains("raed"), "{msg}");
    }

    #[test]
    fn misspelt_entity_type_is_a_validation_error() {
        let p =
            problems("permit(principal, action, resource in file_system::Directory::\"/var\");");
        assert!(p[0].1.contains("Directory"), "{:?}", p);
        assert_eq!(p[0].0.as_ref().unwrap().line, 1);
    }

    #[test]
    fn syntax_error_names_line_and_column() {
        let p = problems("permit(principal, action, resource)\nforbid(");
        assert!(p[0].0.is_some(), "{p:?}");
    }

    #[test]
    fn templates_are_refused() {
        let p = problems("permit(principal == ?principal, action, resource);");
        assert!(p[0].1.contains("templates"));
    }

    /// Each spelling of a path that the host never uses, with the id to write instead (or
    /// what the message says instead of one).
    const UNNORMALIZED: &[(&str, &str)] = &[
        ("/d/secret/", "write file_system::Dir::\"/d/secret\""),
        ("/d//secret", "write file_system::Dir::\"/d/secret\""),
        ("/d/./secret", "write file_system::Dir::\"/d/secret\""),
        ("/d/x/../secret", "write file_system::Dir::\"/d/secret\""),
        ("/d/secret/.", "write file_system::Dir::\"/d/secret\""),
        ("/d/secret/x/..", "write file_system::Dir::\"/d/secret\""),
        ("//", "write file_system::Dir::\"/\""),
        ("d/secret", "is relative"),
        ("", "is empty"),
        ("/d/\0secret", "NUL"),
    ];

    /// The one problem of `text`, as `line:column` and message.
    fn one_problem(text: &str) -> (String, String) {
        let p = problems(text);
        assert_eq!(p.len(), 1, "{p:?}");
        let loc = p[0].0.as_ref().expect("a location");
        (format!("{}:{}", loc.line, loc.column), p[0].1.clone())
    }

    #[test]
    fn unnormalized_dir_in_the_resource_scope_is_an_error_at_the_literal() {
        for (id, says) in UNNORMALIZED {
            for scope in [
                "resource in",
                "resource ==",
                "resource is file_system::File in",
            ] {
                let text = format!(
                    "permit(principal, action, resource);\nforbid(principal, action,\n  {scope} file_system::Dir::\"{id}\");"
                );
                let (at, msg) = one_problem(&text);
                assert_eq!(at, format!("3:{}", scope.len() + 4), "{text}: {msg}");
                assert!(msg.contains("can never match"), "{msg}");
                assert!(msg.contains(says), "{id}: {msg}");
            }
        }
    }

    #[test]
    fn unnormalized_file_or_dir_in_a_condition_is_an_error_at_the_literal() {
        for (id, says) in UNNORMALIZED {
            let file_says = says.replace("::Dir::", "::File::");
            for (cond, ty) in [
                ("resource == file_system::File::", "File"),
                ("resource in file_system::Dir::", "Dir"),
                (
                    "resource in [file_system::Dir::\"/ok\", file_system::Dir::",
                    "Dir",
                ),
            ] {
                let close = if cond.contains('[') { "]" } else { "" };
                let text = format!(
                    "forbid(principal, action, resource)\nwhen {{ {cond}\"{id}\"{close} }};"
                );
                let (at, msg) = one_problem(&text);
                let column = cond.len() - format!("file_system::{ty}::").len() + 8;
                assert_eq!(at, format!("2:{column}"), "{text}: {msg}");
                let says = if ty == "File" { &file_says } else { *says };
                assert!(msg.contains(says), "{id}: {msg}");
            }
        }
    }

    #[test]
    fn unnormalized_ids_are_reported_with_schema_errors_in_file_order() {
        let p = problems(
            "forbid(principal, action == file_system::Action::\"raed\", resource);\nforbid(principal, action, resource in file_system::Dir::\"/a/\");\nforbid(principal, action, resource in file_system::Dir::\"/b/\");",
        );
        let lines: Vec<usize> = p.iter().map(|(l, _)| l.as_ref().unwrap().line).collect();
        assert_eq!(lines, [1, 2, 3], "{p:?}");
    }

    #[test]
    fn normalized_ids_and_the_root_are_accepted() {
        let text = "forbid(principal, action, resource in file_system::Dir::\"/\");\n\
            forbid(principal, action, resource == file_system::File::\"/etc/shadow\")\n\
            when { resource in [file_system::Dir::\"/etc\", file_system::Dir::\"/var/lib/x..y/.z\"] };\n\
            permit(principal, action, resource is file_system::File) when { resource.path == \"/d/secret/\" };";
        Policies::parse("p.cedar", text, &schema()).unwrap();
    }

    #[test]
    fn policies_are_named_by_id_annotation_or_line() {
        let text = "@id(\"read-logs\")\npermit(principal, action, resource);\n\nforbid(principal, action, resource in file_system::Dir::\"/etc\");\n";
        let p = Policies::parse("ops.cedar", text, &schema()).unwrap();
        let mut names: Vec<String> = p.set.policies().map(|x| p.name(x.id())).collect();
        names.sort();
        assert_eq!(names, ["ops.cedar:4", "read-logs"]);
    }
}
