//! What the tools take and give: each tool's argument type (its input schema too, through
//! schemars) and each tool's output schema, which its `structuredContent` follows.
//!
//! Argument types refuse fields they do not have: a misspelt argument is a malformed call
//! (`-32602`), not one quietly ignored.

use std::borrow::Cow;
use std::sync::Arc;

use rmcp::model::JsonObject;
use rmcp::schemars::{self, JsonSchema, Schema, SchemaGenerator};
use serde::Deserialize;
use serde_json::{json, Map, Value};

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunScript {
    /// The Rhai script. Its final value is the output; describe_sdk lists the functions.
    pub script: String,
    /// Script variables, each a typed value as in a `--args` file:
    /// {"path": {"stringValue": "/var/log/syslog"}, "n": {"integerValue": 20}}.
    #[serde(default)]
    #[schemars(schema_with = "typed_arguments")]
    pub args: Option<Map<String, Value>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DescribeSdk {
    /// Only the functions each of whose requests some policy could permit for this
    /// server's principal.
    #[serde(default)]
    pub allowed_only: Option<bool>,
}

/// No arguments.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPermissions {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposePolicy {
    /// One Cedar permit statement, e.g. permit(principal, action == file_system::Action::"stat", resource in file_system::Dir::"/var/log/app");
    pub statement: String,
    /// Why the task needs it: which request was denied and what for. The host owner reads
    /// it before approving.
    pub justification: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckAccess {
    /// One request, with resource: a Cedar action uid, e.g. file_system::Action::"read".
    #[serde(default)]
    pub action: Option<String>,
    /// One request, with action: a Cedar resource uid, e.g.
    /// file_system::File::"/var/log/syslog".
    #[serde(default)]
    pub resource: Option<String>,
    /// A command, with args: an SDK function that describe_sdk lists, e.g. cat.
    #[serde(default)]
    pub command: Option<String>,
    /// The command's arguments, as in its first call form in describe_sdk: cat(path) takes
    /// ["/var/log/app/x.log"], grep(pattern, path) ["ERROR", "/var/log/app/x.log"]. An
    /// integer for a number (connect's port).
    #[serde(default)]
    pub args: Option<Vec<CommandArgument>>,
}

/// One argument of a command.
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CommandArgument {
    Text(String),
    Integer(i64),
}

impl CommandArgument {
    pub fn text(&self) -> String {
        match self {
            CommandArgument::Text(t) => t.clone(),
            CommandArgument::Integer(n) => n.to_string(),
        }
    }
}

/// Rex's typed JSON of one value (`crates/script/src/args.rs` reads it): an object of exactly
/// one of these keys.
struct TypedValue;

impl JsonSchema for TypedValue {
    fn schema_name() -> Cow<'static, str> {
        "TypedValue".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let itself = Value::from(generator.subschema_for::<TypedValue>());
        let one = |key: &str, value: Value| {
            json!({
                "type": "object",
                "properties": {key: value},
                "required": [key],
                "additionalProperties": false,
            })
        };
        let variants = vec![
            one("stringValue", json!({"type": "string"})),
            one(
                "integerValue",
                json!({"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX}),
            ),
            one("longValue", json!({"type": "integer"})),
            one("doubleValue", json!({"type": "number"})),
            one("booleanValue", json!({"type": "boolean"})),
            one(
                "listValue",
                json!({"type": "array", "items": itself.clone()}),
            ),
            one(
                "mapValue",
                json!({"type": "object", "additionalProperties": itself}),
            ),
        ];
        schema(json!({
            "description": "One typed value: {\"stringValue\": \"text\"}, {\"integerValue\": 7} (32-bit), {\"longValue\": 9000000000}, {\"doubleValue\": 1.5}, {\"booleanValue\": true}, {\"listValue\": [typed values]} or {\"mapValue\": {\"key\": typed value}}.",
            "oneOf": variants,
        }))
    }
}

/// `args`: an optional object of script variables, each a [`TypedValue`].
fn typed_arguments(generator: &mut SchemaGenerator) -> Schema {
    let value = Value::from(generator.subschema_for::<TypedValue>());
    schema(json!({
        "type": ["object", "null"],
        "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "additionalProperties": value,
    }))
}

/// `value`, an object literal, as a schema.
fn schema(value: Value) -> Schema {
    Schema::from(object(value))
}

/// `value`, an object literal (each schema here is one), as a JSON object.
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => unreachable!("each schema here is written as an object"),
    }
}

fn output(value: Value) -> Arc<JsonObject> {
    Arc::new(object(value))
}

/// An output schema: an object with `properties`, which on success has `required`, and on
/// failure (a tool error) has `error` instead: `{"error": {"error_type", "message"}}`. Clients
/// check error results against the schema too.
fn answer_or_error(mut properties: Map<String, Value>, required: &[&str]) -> Arc<JsonObject> {
    properties
        .entry("error")
        .or_insert_with(|| json!({"description": "On failure: error_type and message.", "anyOf": [denial(), {"type": "null"}]}));
    output(json!({
        "type": "object",
        "properties": properties,
        "anyOf": [
            {"required": required},
            {"required": ["error"], "properties": {"error": denial()}},
        ],
    }))
}

fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}

/// A denial as a run's error and `check_access` give it.
fn denial() -> Value {
    json!({
        "type": "object",
        "properties": {
            "error_type": {"type": "string"},
            "message": {"type": "string"},
            "principal": {"type": "string"},
            "action": {"type": "string"},
            "resource": {"type": "string"},
            "reason": {"type": "string"},
            "policies": strings(),
            "would_permit": {"type": "string"},
        },
    })
}

pub fn run_script_output() -> Arc<JsonObject> {
    output(json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["SUCCESS", "ERROR"]},
            "output": {"description": "The script's final value as JSON (null for ()), cut to fit when truncated is true."},
            "truncated": {"type": "boolean", "description": "Whether output or logs were cut to fit this tool's limits (64 KiB of JSON for output, 16 KiB for logs)."},
            "output_bytes": {"type": "integer", "description": "When output was cut: the size of its whole JSON."},
            "logs": {"type": "array", "items": {"type": "object"}},
            "error": {
                "description": "On failure: error_type and message; for a denial also the call (principal, action, resource), reason and policies.",
                "anyOf": [denial(), {"type": "null"}],
            },
            "alarms": {"type": "array"},
            "metrics": {"type": "array"},
            "redactions": {"type": "object"},
        },
        "required": ["status", "truncated"],
    }))
}

pub fn describe_sdk_output() -> Arc<JsonObject> {
    answer_or_error(
        object(json!({
            "language": {"type": "string"},
            "errors": {"type": "string"},
            "output": {"type": "string"},
            "arguments": {"type": "string"},
            "functions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "calls": strings(),
                        "flags": strings(),
                        "returns": {"type": "string"},
                        "actions": strings(),
                        "asks": strings(),
                        "summary": {"type": "string"},
                    },
                    "required": ["name", "calls", "actions", "asks"],
                },
            },
            "allowed_only": {"type": "boolean"},
            "principal": {"type": "string"},
            "left_out": {"type": "integer", "description": "With allowed_only: how many functions were left out."},
        })),
        &["functions"],
    )
}

pub fn propose_policy_output() -> Arc<JsonObject> {
    let proof = json!({
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "claim": {"type": "string"},
            "result": {"enum": ["proved", "refuted", "unknown"]},
            "counterexample": {"type": "object"},
            "decision": {"type": "object"},
            "reason": {"type": "string"},
        },
        "required": ["id", "result"],
    });
    answer_or_error(
        object(json!({
            "status": {"enum": ["pending", "refused"]},
            "proposal": {"type": "integer"},
            "statement": {"type": "string"},
            "message": {"type": "string"},
            "proofs": {"type": "array", "items": proof},
        })),
        &["status", "message"],
    )
}

pub fn list_permissions_output() -> Arc<JsonObject> {
    let statement = json!({
        "type": "object",
        "properties": {
            "policy": {"type": "string"},
            "actions": strings(),
            "principal": {"type": "string"},
            "resource": {"type": "string"},
            "condition": {"type": ["string", "null"]},
            "everywhere": {"type": "boolean"},
            "cut_by": strings(),
        },
        "required": ["policy", "actions", "principal", "resource", "condition"],
    });
    answer_or_error(
        object(json!({
            "principal": {"type": "string"},
            "on_behalf_of": {"type": ["string", "null"]},
            "purpose": {"type": "string"},
            "permitted": {"type": "array", "items": statement},
            "forbidden": {"type": "array", "items": statement},
            "frozen": {"type": "boolean"},
            "always_denied": {"type": "string"},
        })),
        &["principal", "permitted", "forbidden", "frozen"],
    )
}

pub fn check_access_output() -> Arc<JsonObject> {
    let involved = json!({
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "policy": {"type": "string"},
                "effect": {"type": "string", "enum": ["permit", "forbid"]},
                "applies": {"type": "boolean"},
                "errors": strings(),
            },
        },
    });
    let answer = json!({
        "action": {"type": "string"},
        "resource": {"type": "string"},
        "decision": {"type": "string", "enum": ["permit", "deny"]},
        "policies": strings(),
        "reason": {"type": ["string", "null"]},
        "would_permit": {"type": ["string", "null"]},
        "involved": involved,
        "labels": {"type": ["object", "null"]},
    });
    let mut request = object(answer.clone());
    request.insert("ask".into(), json!({"type": "string"}));
    request.insert("when".into(), json!({"type": ["string", "null"]}));
    let mut properties = object(answer);
    properties.insert(
        "decision".into(),
        json!({"type": "string", "enum": ["permit", "deny", "undecided"],
               "description": "For a command: deny if a request it makes on every call is denied, permit if every one is permitted, undecided if one could not be named (see unresolved)."}),
    );
    properties.insert("principal".into(), json!({"type": "string"}));
    properties.insert("command".into(), json!({"type": "string"}));
    properties.insert("args".into(), strings());
    properties.insert(
        "requests".into(),
        json!({"type": "array", "items": {"type": "object", "properties": request}}),
    );
    properties.insert(
        "denied".into(),
        json!({"description": "For a command: what it would be told, as a run is.",
               "anyOf": [denial(), {"type": "null"}]}),
    );
    properties.insert(
        "unresolved".into(),
        json!({"type": "array", "items": {"type": "object", "properties": {
            "ask": {"type": "string"}, "when": {"type": ["string", "null"]}, "why": {"type": "string"}}}}),
    );
    answer_or_error(properties, &["decision", "principal"])
}
