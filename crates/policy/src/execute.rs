//! The context of `file_system::Action::"execute"`: the arguments, environment, user and group
//! a binary would run with, in the shape COMPAT.md gives (entities with tags, so a policy can
//! say `context.arguments.getTag("-p") == "tcp"`).
//!
//! A tag holds one value, but a command line may repeat a key (`-p tcp -p udp`). Showing the
//! policy only one of the values would let the other through unchecked, so a request with
//! repeated keys is asked once per combination of their values ([`ExecuteContext::views`]),
//! and every one must be permitted.

use std::collections::{BTreeMap, HashSet};

use cedar_policy::{EntityId, EntityTypeName, EntityUid, RestrictedExpression};
use cedar_policy_core::ast::{self, PartialValue};
use smol_str::SmolStr;

/// The most combinations of repeated keys' values one execute request is checked in.
pub const MAX_VIEWS: usize = 64;

/// A user or group the binary runs as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    pub name: String,
    pub id: u32,
}

/// What a script asks to run a binary with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteContext {
    /// In order: `(key, Some(value))` is a named argument (`--port 80`), `(word, None)` a
    /// flag (`-v`) or positional value (`input.txt`).
    pub arguments: Vec<(String, Option<String>)>,
    pub environment: Vec<(String, String)>,
    pub user: Identity,
    pub group: Identity,
}

/// One reading of an [`ExecuteContext`] with a single value per tag: what one Cedar request
/// sees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteView {
    argument_tags: BTreeMap<String, String>,
    keys: Vec<String>,
    flags: Vec<String>,
    positional_values: Vec<String>,
    environment_tags: BTreeMap<String, String>,
    user: Identity,
    group: Identity,
}

/// Tag name → every distinct value it takes, in first-seen order.
type MultiTags = BTreeMap<String, Vec<String>>;

fn add(tags: &mut MultiTags, name: &str, value: &str) {
    let values = tags.entry(name.to_owned()).or_default();
    if !values.iter().any(|v| v == value) {
        values.push(value.to_owned());
    }
}

impl ExecuteContext {
    /// Every combination of the values of repeated tags, one view each; an error when there
    /// would be more than [`MAX_VIEWS`].
    pub fn views(&self) -> Result<Vec<ExecuteView>, String> {
        let mut argument_tags = MultiTags::new();
        let (mut keys, mut flags, mut positional_values) = (Vec::new(), Vec::new(), Vec::new());
        let mut position = 0;
        for (key, value) in &self.arguments {
            match value {
                Some(value) => {
                    add(&mut argument_tags, key, value);
                    keys.push(key.clone());
                }
                None => {
                    add(&mut argument_tags, &format!("$ARG{position}"), key);
                    add(&mut argument_tags, key, "true");
                    position += 1;
                    if key.starts_with('-') {
                        flags.push(key.clone());
                    } else {
                        positional_values.push(key.clone());
                    }
                }
            }
        }
        let mut environment_tags = MultiTags::new();
        for (name, value) in &self.environment {
            add(&mut environment_tags, name, value);
        }
        let count = argument_tags
            .values()
            .chain(environment_tags.values())
            .try_fold(1usize, |n, values| n.checked_mul(values.len()))
            .filter(|&n| n <= MAX_VIEWS)
            .ok_or_else(|| {
                format!(
                    "the repeated arguments and environment variables make more than \
                     {MAX_VIEWS} combinations of values to check; repeat fewer keys"
                )
            })?;
        let base = ExecuteView {
            argument_tags: BTreeMap::new(),
            keys,
            flags,
            positional_values,
            environment_tags: BTreeMap::new(),
            user: self.user.clone(),
            group: self.group.clone(),
        };
        let mut views = vec![base; count];
        // Mixed-radix counting over the repeated tags: view i takes, for each tag, the value
        // at digit i of that tag's radix.
        let mut stride = 1;
        for (environment, tags) in [(false, &argument_tags), (true, &environment_tags)] {
            for (name, values) in tags {
                for (i, view) in views.iter_mut().enumerate() {
                    let value = values[(i / stride) % values.len()].clone();
                    let target = if environment {
                        &mut view.environment_tags
                    } else {
                        &mut view.argument_tags
                    };
                    target.insert(name.clone(), value);
                }
                stride *= values.len();
            }
        }
        Ok(views)
    }
}

fn type_name(name: &str) -> EntityTypeName {
    // Literals that parse; the unit test `view_builds_entities` would fail first.
    name.parse().unwrap_or_else(|_| unreachable!())
}

fn uid(ty: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(type_name(ty), EntityId::new(id))
}

fn string_set(values: &[String]) -> PartialValue {
    PartialValue::Value(ast::Value::set(
        values.iter().map(|v| ast::Value::from(v.as_str())),
        None,
    ))
}

fn tags(map: &BTreeMap<String, String>) -> Vec<(SmolStr, PartialValue)> {
    map.iter()
        .map(|(k, v)| {
            (
                SmolStr::new(k),
                PartialValue::Value(ast::Value::from(v.as_str())),
            )
        })
        .collect()
}

impl ExecuteView {
    const ARGUMENTS: (&'static str, &'static str) = ("file_system::Arguments", "arguments");
    const ENVIRONMENT: (&'static str, &'static str) = ("file_system::Environment", "environment");

    /// The Arguments and Environment entities the context refers to.
    pub(crate) fn entities(&self) -> [ast::Entity; 2] {
        let (aty, aid) = Self::ARGUMENTS;
        let (ety, eid) = Self::ENVIRONMENT;
        let names: Vec<String> = self.environment_tags.keys().cloned().collect();
        [
            ast::Entity::new_with_attr_partial_value(
                uid(aty, aid).into(),
                [
                    (SmolStr::new_static("keys"), string_set(&self.keys)),
                    (SmolStr::new_static("flags"), string_set(&self.flags)),
                    (
                        SmolStr::new_static("positional_values"),
                        string_set(&self.positional_values),
                    ),
                ],
                HashSet::new(),
                HashSet::new(),
                tags(&self.argument_tags),
            ),
            ast::Entity::new_with_attr_partial_value(
                uid(ety, eid).into(),
                [(SmolStr::new_static("names"), string_set(&names))],
                HashSet::new(),
                HashSet::new(),
                tags(&self.environment_tags),
            ),
        ]
    }

    /// The context's pairs, before the run's purpose and ticket are added.
    pub(crate) fn pairs(&self) -> Vec<(String, RestrictedExpression)> {
        let (aty, aid) = Self::ARGUMENTS;
        let (ety, eid) = Self::ENVIRONMENT;
        let identity = |name_key: &str, id_key: &str, who: &Identity| {
            RestrictedExpression::new_record([
                (
                    name_key.to_owned(),
                    RestrictedExpression::new_string(who.name.clone()),
                ),
                (
                    id_key.to_owned(),
                    RestrictedExpression::new_long(who.id.into()),
                ),
            ])
            // Two distinct keys with literal values.
            .unwrap_or_else(|_| unreachable!())
        };
        vec![
            (
                "arguments".to_owned(),
                RestrictedExpression::new_entity_uid(uid(aty, aid)),
            ),
            (
                "environment".to_owned(),
                RestrictedExpression::new_entity_uid(uid(ety, eid)),
            ),
            ("user".to_owned(), identity("username", "uid", &self.user)),
            (
                "group".to_owned(),
                identity("groupname", "gid", &self.group),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(arguments: &[(&str, Option<&str>)]) -> ExecuteContext {
        ExecuteContext {
            arguments: arguments
                .iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
                .collect(),
            environment: vec![("LANG".into(), "C".into())],
            user: Identity {
                name: "root".into(),
                id: 0,
            },
            group: Identity {
                name: "root".into(),
                id: 0,
            },
        }
    }

    #[test]
    fn named_flags_and_positional_arguments_become_tags() {
        let views = context(&[("-p", Some("tcp")), ("-v", None), ("in.txt", None)])
            .views()
            .unwrap();
        assert_eq!(views.len(), 1);
        let v = &views[0];
        assert_eq!(v.argument_tags["-p"], "tcp");
        assert_eq!(v.argument_tags["$ARG0"], "-v");
        assert_eq!(v.argument_tags["$ARG1"], "in.txt");
        assert_eq!(v.argument_tags["in.txt"], "true");
        assert_eq!(v.keys, ["-p"]);
        assert_eq!(v.flags, ["-v"]);
        assert_eq!(v.positional_values, ["in.txt"]);
        assert_eq!(v.environment_tags["LANG"], "C");
    }

    #[test]
    fn repeated_keys_give_one_view_per_combination() {
        let views = context(&[
            ("-p", Some("tcp")),
            ("-j", Some("ACCEPT")),
            ("-p", Some("udp")),
            ("-j", Some("DROP")),
            ("-p", Some("tcp")),
        ])
        .views()
        .unwrap();
        let mut seen: Vec<(String, String)> = views
            .iter()
            .map(|v| (v.argument_tags["-p"].clone(), v.argument_tags["-j"].clone()))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            [
                ("tcp".into(), "ACCEPT".into()),
                ("tcp".into(), "DROP".into()),
                ("udp".into(), "ACCEPT".into()),
                ("udp".into(), "DROP".into()),
            ]
        );
    }

    #[test]
    fn too_many_combinations_are_refused() {
        let args: Vec<(String, Option<String>)> = (0..7)
            .map(|i| ("-x".to_owned(), Some(i.to_string())))
            .chain((0..10).map(|i| ("-y".to_owned(), Some(i.to_string()))))
            .collect();
        let mut c = context(&[]);
        c.arguments = args;
        assert!(c.views().unwrap_err().contains("more than 64"));
    }

    #[test]
    fn view_builds_entities() {
        let views = context(&[("-p", Some("tcp"))]).views().unwrap();
        let [args, env] = views[0].entities();
        assert_eq!(
            args.uid().to_string(),
            r#"file_system::Arguments::"arguments""#
        );
        assert_eq!(
            env.uid().to_string(),
            r#"file_system::Environment::"environment""#
        );
        assert!(args.get_tag("-p").is_some());
        let _ = views[0].pairs();
    }
}
