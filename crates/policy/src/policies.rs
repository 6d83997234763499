//! Loading a host owner's policy file: parse, refuse templates, validate against the schema,
//! name every policy, and index the set for fast decisions.
//!
//! A run's start-up does only what the run needs before its first decision. A text that this
//! build validated before, as the host's validation cache records (see [`crate::validated`]),
//! is not validated again, and is parsed and indexed on first use, or on a thread while the
//! script starts ([`Policies::compile_in_background`]): a script that makes no request never
//! waits for a parse.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use cedar_policy::{PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;
use sha2::{Digest, Sha256};

use crate::action::Action;
use crate::error::{Lines, PolicyError, SourceLocation};
use crate::index::{PathScopes, PolicyIndex};
use crate::path::AbsPath;
// Re-exported for the modules that take both; the schema is its own module.
pub(crate) use crate::schema::Schema;
use crate::validated::ValidationCache;

/// A validated policy set and where it came from; parsed and indexed once, when first needed.
/// Cheap to clone: clones share the text and the parsed set.
#[derive(Clone)]
pub struct Policies {
    file: Arc<str>,
    text: Arc<str>,
    sha256: [u8; 32],
    /// The schema the set is indexed with (its action groups); parsed when the set is.
    schema: Schema,
    compiled: Arc<OnceLock<Result<Compiled, String>>>,
    /// Where permits could apply, per action in [`Action::ALL`] order, as the validation
    /// cache recorded it for this text; `None` when it is read off the compiled set.
    known_scopes: Option<Arc<Vec<PathScopes>>>,
}

/// The parsed, indexed set.
pub(crate) struct Compiled {
    pub(crate) set: PolicySet,
    pub(crate) index: PolicyIndex,
    names: OnceLock<HashMap<PolicyId, String>>,
}

impl Policies {
    /// Reads and validates a policy file.
    pub fn load(path: &Path, schema: &Schema) -> Result<Policies, PolicyError> {
        let (file, text) = read(path)?;
        Policies::parse(&file, &text, schema)
    }

    /// Parses the built-in schema and reads and validates a policy file at the same time:
    /// each parse is most of a short run's start-up, and they meet only at validation.
    pub fn load_with_schema(path: &Path) -> Result<(Schema, Policies), PolicyError> {
        Policies::load_validated(path, None)
    }

    /// [`Policies::load_with_schema`] for a run: a text the host's validation cache says this
    /// build validated is not validated again, and its parse waits for the first decision;
    /// a text validated here is recorded there.
    pub fn load_for_run(path: &Path) -> Result<(Schema, Policies), PolicyError> {
        Policies::load_validated(path, ValidationCache::system().as_ref())
    }

    fn load_validated(
        path: &Path,
        cache: Option<&ValidationCache>,
    ) -> Result<(Schema, Policies), PolicyError> {
        let (file, text) = read(path)?;
        let sha256 = sha256_of(&text);
        if let Some(scopes) = cache.and_then(|cache| cache.lookup(&sha256)) {
            // Validated before: the schema and the set are parsed when first needed.
            let schema = Schema::lazy();
            let policies = Policies {
                file: file.into(),
                text: text.into(),
                sha256,
                schema: schema.clone(),
                compiled: Arc::new(OnceLock::new()),
                known_scopes: Some(Arc::new(scopes)),
            };
            return Ok((schema, policies));
        }
        let schema = std::thread::spawn(Schema::tollgate);
        let set = parse_set(&file, &text);
        let schema = schema
            .join()
            .map_err(|_| PolicyError::Schema("the schema parser panicked".to_owned()))??;
        let policies = Policies::validated(set?, &file, &text, &schema)?;
        if let Some(cache) = cache {
            cache.store(&policies.sha256, &policies.scopes_per_action());
        }
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
        let lines = Lines::of(file, text);
        let mut problems = validation_problems(&set, &lines, schema);
        problems.extend(path_problems(&set, &lines));
        if !problems.is_empty() {
            // In file order, whichever check found them.
            problems.sort_by_key(|(loc, _)| {
                loc.as_ref().map_or((usize::MAX, 0), |l| (l.line, l.column))
            });
            return Err(PolicyError::Invalid { problems });
        }
        Ok(Policies::compiled_from(set, file, text, schema))
    }

    fn compiled_from(set: PolicySet, file: &str, text: &str, schema: &Schema) -> Policies {
        // Only a parsed schema validates, so this is the set's index.
        let uids = schema
            .built()
            .map_or_else(|_| Arc::default(), |b| b.action_uids.clone());
        let index = PolicyIndex::build(&set, &uids);
        let compiled = Compiled {
            set,
            index,
            names: OnceLock::new(),
        };
        Policies {
            file: file.into(),
            text: text.into(),
            sha256: sha256_of(text),
            schema: schema.clone(),
            compiled: Arc::new(OnceLock::from(Ok(compiled))),
            known_scopes: None,
        }
    }

    /// Parses and indexes policy text without validating it: tests of the index feed it
    /// conditions the schema would refuse, to see they change no decision either.
    #[cfg(test)]
    pub(crate) fn unvalidated(text: &str, schema: &Schema) -> Policies {
        let set = parse_set("test.cedar", text).expect("the test's policies parse");
        Policies::compiled_from(set, "test.cedar", text, schema)
    }

    /// The parsed, indexed set, parsed now if it was not yet. The text was validated, so
    /// this fails only if it changed meaning under us; the caller then denies.
    pub(crate) fn compiled(&self) -> Result<&Compiled, &str> {
        self.compiled
            .get_or_init(|| compile(&self.file, &self.text, &self.schema))
            .as_ref()
            .map_err(String::as_str)
    }

    /// Parses and indexes the set now, if that is still to do.
    pub fn compile(&self) -> Result<(), String> {
        self.compiled().map(|_| ()).map_err(str::to_owned)
    }

    /// Parses and indexes the set on a thread of its own, if that is still to do, so that
    /// the first decision finds it ready. Start it only where a thread may be started (the
    /// worker does, once it is confined).
    pub fn compile_in_background(&self) {
        if self.compiled.get().is_some() {
            return;
        }
        let (file, text, schema, compiled) = (
            Arc::clone(&self.file),
            Arc::clone(&self.text),
            self.schema.clone(),
            Arc::clone(&self.compiled),
        );
        let spawned = std::thread::Builder::new()
            .name("policies".to_owned())
            .spawn(move || {
                compiled.get_or_init(|| compile(&file, &text, &schema));
            });
        // Without the thread, the first decision parses.
        drop(spawned);
    }

    /// Where the permits for `actions` could apply (see [`PathScopes`]).
    pub(crate) fn permit_scopes(&self, actions: &[Action]) -> PathScopes {
        match &self.known_scopes {
            Some(known) => PathScopes::merge(actions.iter().map(|a| &known[a.index()])),
            // A set that does not compile permits nothing.
            None => self
                .compiled()
                .map_or(PathScopes::nowhere(), |c| c.index.permit_scopes(actions)),
        }
    }

    /// [`Policies::permit_scopes`] for each action, what the validation cache keeps.
    fn scopes_per_action(&self) -> Vec<PathScopes> {
        Action::ALL
            .iter()
            .map(|a| self.permit_scopes(std::slice::from_ref(a)))
            .collect()
    }

    /// The number of policies in the set.
    pub fn len(&self) -> usize {
        self.compiled().map_or(0, |c| c.set.policies().count())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The text the policies were parsed from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The SHA-256 of the text, in hex: what a run's records name the policy by.
    pub fn sha256_hex(&self) -> String {
        self.sha256.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The name a person uses for a policy: its `@id` annotation, else `file:line`.
    pub fn name(&self, id: &PolicyId) -> String {
        let found = self.compiled().ok().and_then(|c| {
            c.names
                .get_or_init(|| names(&c.set, &self.file, &self.text))
                .get(id)
                .cloned()
        });
        found.unwrap_or_else(|| format!("{}:{}", self.file, id))
    }
}

/// Parses and indexes text that was validated before, and the schema with it.
fn compile(file: &str, text: &str, schema: &Schema) -> Result<Compiled, String> {
    let uids = &schema.built()?.action_uids;
    let set = parse_set(file, text).map_err(|e| {
        format!("the policy, validated before, no longer parses, so everything is denied: {e}")
    })?;
    let index = PolicyIndex::build(&set, uids);
    Ok(Compiled {
        set,
        index,
        names: OnceLock::new(),
    })
}

/// Each policy's `@id`, else `file:line`, the line read off the policy's place in the text.
fn names(set: &PolicySet, file: &str, text: &str) -> HashMap<PolicyId, String> {
    let lines = Lines::of(file, text);
    set.policies()
        .map(|p| {
            let core: &cedar_policy_core::ast::Policy = p.as_ref();
            let name = match (p.annotation("id"), core.loc()) {
                (Some(id), _) => id.to_owned(),
                (None, Some(loc)) => format!("{file}:{}", lines.at(loc.span.offset()).line),
                (None, None) => format!("{file}:{}", p.id()),
            };
            (p.id().clone(), name)
        })
        .collect()
}

fn sha256_of(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
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
    let set = PolicySet::from_str(text).map_err(|errs| {
        let lines = Lines::of(file, text);
        PolicyError::Invalid {
            problems: errs.iter().map(|e| diagnostic_problem(&lines, e)).collect(),
        }
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

/// The schema validator's problems. Policies are validated one by one, so the set is split
/// in two halves validated side by side: validation is most of a large policy's start-up.
fn validation_problems(set: &PolicySet, lines: &Lines<'_>, schema: &Schema) -> Vec<Problem> {
    let schema = match schema.built() {
        Ok(built) => built,
        Err(e) => return vec![(None, e.to_owned())],
    };
    let validate = |part: &PolicySet| -> Vec<Problem> {
        Validator::new(schema.cedar.clone())
            .validate(part, ValidationMode::Strict)
            .validation_errors()
            .map(|e| diagnostic_problem(lines, e))
            .collect()
    };
    let all: Vec<_> = set.policies().cloned().collect();
    if all.len() < 64 {
        return validate(set);
    }
    let (first, second) = all.split_at(all.len() / 2);
    let half = |part: &[cedar_policy::Policy]| {
        // Parts of one valid set: their ids are distinct.
        PolicySet::from_policies(part.iter().cloned()).unwrap_or_else(|_| unreachable!())
    };
    let (first, second) = (half(first), half(second));
    std::thread::scope(|s| {
        let other = s.spawn(|| validate(&second));
        let mut problems = validate(&first);
        match other.join() {
            Ok(more) => problems.extend(more),
            // Fail closed: a validator that did not finish did not find the set valid.
            Err(_) => problems.push((None, "the policy validator panicked".to_owned())),
        }
        problems
    })
}

/// Every `file_system::File` or `file_system::Dir` literal, in a scope or a condition, whose id
/// is not a normalized absolute path. The host names files only by normalized paths
/// ([`AbsPath`]), so `Dir::"/d/secret/"` would never match anything, and a `forbid` written
/// that way would silently forbid nothing.
fn path_problems(set: &PolicySet, lines: &Lines<'_>) -> Vec<Problem> {
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
                .map(|l| lines.at(l.span.offset()));
            out.push((loc, why));
        }
    }
    out
}

fn diagnostic_problem(lines: &Lines<'_>, e: &dyn Diagnostic) -> Problem {
    let loc = e
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| lines.at(l.offset()));
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
        let mut names: Vec<String> = p
            .compiled()
            .unwrap()
            .set
            .policies()
            .map(|x| p.name(x.id()))
            .collect();
        names.sort();
        assert_eq!(names, ["ops.cedar:4", "read-logs"]);
    }
}
