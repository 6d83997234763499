//! A solver's counterexample made into a request Tollgate's gate would make, and decided by
//! that gate: the caller (principal, the user behind an agent, purpose, ticket), the action,
//! the resource, the context, and the host data the decision read (the user's groups and
//! directory attributes, the resource's labels), written as the host's directory and labels
//! files would give them. A model the gate cannot be made to ask, or decides otherwise, is
//! not shown as a refutation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cedar_policy::EntityUid;
use cedar_policy_symcc::Env as Model;
use serde_json::{json, Map, Value};
use tollgate_policy::execute::{ExecuteContext, Identity};
use tollgate_policy::{
    AbsPath, Action, Caller, Context, Decision, Directory, Gate, LabelRules, Policies, Principal,
    ProcessInfo, Recorder, Resource, Schema, UNLABELLED,
};

/// A request the gate can be asked, with the host data it is decided under.
#[derive(Clone)]
pub struct Witness {
    pub caller: Caller,
    pub action: Action,
    pub resource: Resource,
    pub context: Context,
    /// For `execute`: what the binary is asked to run with.
    pub execute: Option<ExecuteContext>,
    /// The user behind the request (the principal, or the one an agent acts for).
    user: String,
    /// Every group the user is in, with the groups each is in.
    groups: BTreeMap<String, BTreeSet<String>>,
    user_groups: BTreeSet<String>,
    /// The user's directory attributes (Cedar tags).
    attributes: BTreeMap<String, String>,
    /// Where the directory says the user is ("" for nowhere said).
    user_jurisdiction: String,
    /// Label rules, one per path whose labels the request reads.
    label_rules: Vec<Value>,
    classifications: BTreeSet<String>,
}

/// The entities of a model, by `type::"id"`.
struct Store {
    by_uid: BTreeMap<(String, String), Value>,
}

impl Store {
    fn of(model: &Model) -> Result<Store, String> {
        let all = model
            .entities
            .to_json_value()
            .map_err(|e| format!("the counterexample's entities: {e}"))?;
        let mut by_uid = BTreeMap::new();
        for e in all.as_array().into_iter().flatten() {
            let ty = e["uid"]["type"].as_str().unwrap_or_default().to_owned();
            let id = e["uid"]["id"].as_str().unwrap_or_default().to_owned();
            by_uid.insert((ty, id), e.clone());
        }
        Ok(Store { by_uid })
    }

    fn get(&self, uid: &EntityUid) -> Option<&Value> {
        self.by_uid
            .get(&(uid.type_name().to_string(), uid.id().unescaped().to_owned()))
    }

    fn attr(&self, uid: &EntityUid, name: &str) -> Option<&Value> {
        self.get(uid).and_then(|e| e["attrs"].get(name))
    }

    fn string(&self, uid: &EntityUid, name: &str) -> Result<String, String> {
        self.attr(uid, name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| format!("the counterexample gives {uid} no string {name}"))
    }
}

fn uid_of(v: &Value) -> Option<(String, String)> {
    let e = v.get("__entity").unwrap_or(v);
    Some((
        e.get("type")?.as_str()?.to_owned(),
        e.get("id")?.as_str()?.to_owned(),
    ))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// Escapes a literal path for a labels-file glob.
fn glob_literal(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Witness {
    /// The request `model` describes, as the gate would make it; `Err` says why the gate
    /// can never make it.
    pub(crate) fn realize(model: &Model) -> Result<Witness, String> {
        let store = Store::of(model)?;
        let request = &model.request;
        let (Some(principal), Some(action), Some(resource)) =
            (request.principal(), request.action(), request.resource())
        else {
            return Err("the counterexample leaves part of the request unknown".to_owned());
        };
        let context = match request.context() {
            Some(c) => c
                .to_json_value()
                .map_err(|e| format!("the counterexample's context: {e}"))?,
            None => Value::Null,
        };
        let action = Action::from_uid(&action.to_string()).map_err(|e| e.to_string())?;
        let name = principal.id().unescaped().to_owned();
        let (principal, user_uid) = match principal.type_name().to_string().as_str() {
            "User" => (Principal::User(name), principal.clone()),
            "Agent" => {
                let (_, user) = store
                    .attr(principal, "on_behalf_of")
                    .and_then(uid_of)
                    .ok_or("the counterexample's agent acts for no user")?;
                let user_uid = EntityUid::from_type_name_and_id(
                    "User".parse().map_err(|_| "User is a type name")?,
                    cedar_policy::EntityId::new(&user),
                );
                (
                    Principal::Agent {
                        agent: name,
                        on_behalf_of: user,
                    },
                    user_uid,
                )
            }
            other => return Err(format!("{other} is not a principal type of Tollgate")),
        };
        let text = |key: &str| context[key].as_str().unwrap_or_default().to_owned();
        let caller = Caller {
            principal,
            purpose: text("purpose"),
            ticket: text("ticket"),
            delegation: None,
        };
        let mut w = Witness {
            caller,
            action,
            resource: Resource::Sysinfo,
            context: Context::Empty,
            execute: None,
            user: user_uid.id().unescaped().to_owned(),
            groups: BTreeMap::new(),
            user_groups: BTreeSet::new(),
            attributes: BTreeMap::new(),
            user_jurisdiction: String::new(),
            label_rules: Vec::new(),
            classifications: BTreeSet::new(),
        };
        w.realize_user(&store, model, &user_uid);
        w.resource = w.realize_resource(&store, resource)?;
        w.context = w.realize_context(&store, &context, action)?;
        Ok(w)
    }

    fn realize_user(&mut self, store: &Store, model: &Model, user: &EntityUid) {
        if let Some(tags) = store.get(user).and_then(|e| e["tags"].as_object()) {
            for (k, v) in tags {
                if let Some(v) = v.as_str() {
                    self.attributes.insert(k.clone(), v.to_owned());
                }
            }
        }
        let groups_of = |uid: &EntityUid| -> BTreeSet<String> {
            model
                .entities
                .ancestors(uid)
                .into_iter()
                .flatten()
                .filter(|a| a.type_name().to_string() == "Group")
                .map(|a| a.id().unescaped().to_owned())
                .collect()
        };
        self.user_jurisdiction = store
            .attr(user, "jurisdiction")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.user_groups = groups_of(user);
        for g in self.user_groups.clone() {
            let uid = EntityUid::from_type_name_and_id(
                // A fixed, valid type name.
                "Group".parse().unwrap_or_else(|_| unreachable!()),
                cedar_policy::EntityId::new(&g),
            );
            let above = groups_of(&uid);
            for a in &above {
                self.groups.entry(a.clone()).or_default();
            }
            self.groups.entry(g).or_default().extend(above);
        }
    }

    fn path(&self, raw: &str) -> Result<AbsPath, String> {
        match AbsPath::parse(raw) {
            Ok(p) if p.as_str() == raw => Ok(p),
            _ => Err(format!(
                "the counterexample's path {raw:?} is not a normalized absolute path"
            )),
        }
    }

    /// A labels rule giving `path` the `labels` the model gave it, if it needs one. A value
    /// a labels file cannot hold (a retention that is not an ISO 8601 duration, say) is left
    /// out: the gate's decision then says whether the question turned on it.
    fn label(&mut self, path: &AbsPath, labels: Option<&Value>) -> Result<(), String> {
        let Some(labels) = labels else {
            return Ok(());
        };
        let text = |key: &str| labels[key].as_str().unwrap_or_default();
        let classification = labels["classification"].as_str().unwrap_or(UNLABELLED);
        let mut rule = Map::new();
        if classification != UNLABELLED {
            if classification.is_empty() {
                return Err("the counterexample's classification is empty".to_owned());
            }
            rule.insert("classification".into(), json!(classification));
        }
        let categories = strings(&labels["categories"]);
        if !categories.is_empty() {
            rule.insert("categories".into(), json!(categories));
        }
        for key in ["jurisdiction", "retention"] {
            if !text(key).is_empty() {
                rule.insert(key.into(), json!(text(key)));
            }
        }
        if labels["legal_hold"].as_bool() == Some(true) {
            rule.insert("legal_hold".into(), json!(true));
        }
        if labels["erasure_requested"].as_bool() == Some(true) {
            rule.insert(
                "erasure_requested".into(),
                json!({"id": text("erasure_request"), "date": text("erasure_date")}),
            );
        }
        if rule.is_empty() {
            return Ok(());
        }
        rule.insert("paths".into(), json!([glob_literal(path.as_str())]));
        let parses = |rule: &Map<String, Value>| {
            let mut file = json!({ "rules": [rule] });
            if let Some(c) = rule.get("classification") {
                file["classifications"] = json!([c]);
            }
            LabelRules::parse(&file.to_string()).is_ok()
        };
        for key in [
            "retention",
            "erasure_requested",
            "jurisdiction",
            "categories",
        ] {
            if parses(&rule) {
                break;
            }
            rule.remove(key);
        }
        if !parses(&rule) || rule.len() < 2 {
            return Ok(());
        }
        if let Some(c) = rule.get("classification").and_then(Value::as_str) {
            self.classifications.insert(c.to_owned());
        }
        self.label_rules.push(Value::Object(rule));
        Ok(())
    }

    fn realize_resource(&mut self, store: &Store, uid: &EntityUid) -> Result<Resource, String> {
        let ty = uid.type_name().to_string();
        Ok(match ty.as_str() {
            "file_system::File" | "file_system::Dir" => {
                let path = self.path(&store.string(uid, "path")?)?;
                self.label(&path, store.attr(uid, "labels"))?;
                if ty == "file_system::File" {
                    Resource::File(path)
                } else {
                    Resource::Dir(path)
                }
            }
            "process_system::Process" => {
                let id = uid.id().unescaped();
                let pid = id
                    .parse::<u32>()
                    .map_err(|_| format!("the counterexample's process id {id:?} is not a pid"))?;
                Resource::Process(ProcessInfo::new(
                    pid,
                    store.string(uid, "name")?,
                    store.string(uid, "username")?,
                    store.string(uid, "command")?,
                ))
            }
            "sysinfo::Hostname" => Resource::Hostname(store.string(uid, "hostname")?),
            "systemd::Service" => Resource::Service(store.string(uid, "name")?),
            "network::url" => Resource::Url(store.string(uid, "url")?),
            // The entities of one fixed id (the system information, the service manager, the
            // run's answer): the gate asks about that id whatever the model named.
            _ => Resource::from_uid(&uid.to_string())
                .map_err(|e| format!("the gate never asks about this resource: {e}"))?,
        })
    }

    fn realize_context(
        &mut self,
        store: &Store,
        context: &Value,
        action: Action,
    ) -> Result<Context, String> {
        Ok(match action {
            Action::FsMove => {
                let dest = &context["destination"];
                let raw = dest["path"].as_str().unwrap_or_default();
                let destination = self.path(raw)?;
                self.label(&destination, dest.get("labels"))?;
                Context::Move { destination }
            }
            Action::FsExecute => {
                let exec = execute_context(store, context)?;
                let mut views = exec.views()?;
                if views.len() != 1 {
                    return Err("the counterexample's arguments repeat a key".to_owned());
                }
                self.execute = Some(exec);
                Context::Execute(Box::new(views.remove(0)))
            }
            Action::OutputRelease => Context::Release {
                redacted: context["redacted"].as_bool().unwrap_or(false),
            },
            _ => Context::Empty,
        })
    }

    fn directory_json(&self) -> Value {
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .map(|(g, above)| (g.clone(), json!({ "groups": above })))
            .collect();
        let mut users = Map::new();
        if !self.user_groups.is_empty()
            || !self.attributes.is_empty()
            || !self.user_jurisdiction.is_empty()
        {
            let mut user = json!({ "groups": self.user_groups, "attributes": self.attributes });
            if !self.user_jurisdiction.is_empty() {
                user["jurisdiction"] = json!(self.user_jurisdiction);
            }
            users.insert(self.user.clone(), user);
        }
        json!({ "users": users, "groups": groups })
    }

    fn labels_json(&self) -> Option<Value> {
        // A rule left with its paths alone sets nothing: the path is unlabelled.
        let rules: Vec<&Value> = self
            .label_rules
            .iter()
            .filter(|r| r.as_object().is_some_and(|o| o.len() > 1))
            .collect();
        if rules.is_empty() {
            return None;
        }
        let mut file = Map::new();
        if !self.classifications.is_empty() {
            file.insert("classifications".into(), json!(self.classifications));
        }
        file.insert("rules".into(), json!(rules));
        Some(Value::Object(file))
    }

    /// How the gate decides this request under `policies`.
    pub(crate) fn decide(&self, schema: &Schema, policies: &Policies) -> Result<Decision, String> {
        let gate = self.gate(schema, policies)?;
        Ok(gate
            .probe(self.action, &self.resource, &self.context)
            .decision)
    }

    /// An offline gate for this request's caller, with the host data it was given.
    fn gate(&self, schema: &Schema, policies: &Policies) -> Result<Gate, String> {
        let directory =
            Directory::parse(&self.directory_json().to_string()).map_err(|e| e.to_string())?;
        let labels = match self.labels_json() {
            Some(l) => LabelRules::parse(&l.to_string()).map_err(|e| e.to_string())?,
            None => LabelRules::default(),
        };
        let gate = Gate::for_caller(
            schema.clone(),
            policies.clone(),
            self.caller.clone(),
            &directory,
            // A question about a policy runs nothing: there is nothing to record, and the
            // host's kill switch is not consulted.
            Recorder::Unaudited,
            Arc::default(),
        )
        .with_labels(Arc::new(labels));
        Ok(gate)
    }

    /// Whether a permit of `policies` matches this request, the entities built as the gate
    /// builds them: what a statement says of a request, apart from what the gate adds (its
    /// default for the run's answer, its own refusals).
    pub(crate) fn matches(&self, schema: &Schema, policies: &Policies) -> Result<bool, String> {
        let gate = self.gate(schema, policies)?;
        let e = gate.explain(self.action, &self.resource, &self.context);
        Ok(e.bearings.iter().any(|b| b.permit && b.applies))
    }

    /// The simplest request like this one that `still` holds of (the model gives every
    /// attribute some value, most of which the question does not turn on): each label,
    /// group, directory attribute, the purpose and the ticket is dropped in turn, and
    /// stays dropped if `still` holds without it.
    pub(crate) fn simplify(mut self, still: impl Fn(&Witness) -> bool) -> Witness {
        let attempt = |w: &mut Witness, change: &dyn Fn(&mut Witness) -> bool| {
            let mut candidate = w.clone();
            if change(&mut candidate) && still(&candidate) {
                *w = candidate;
            }
        };
        for rule in (0..self.label_rules.len()).rev() {
            attempt(&mut self, &|w| {
                w.label_rules.remove(rule);
                true
            });
        }
        for rule in 0..self.label_rules.len() {
            for key in [
                "classification",
                "jurisdiction",
                "retention",
                "legal_hold",
                "erasure_requested",
            ] {
                attempt(&mut self, &|w| w.drop_label(rule, key));
            }
            let categories = strings(&self.label_rules[rule]["categories"]);
            for c in categories {
                attempt(&mut self, &|w| {
                    let Some(list) = w.label_rules[rule]["categories"].as_array_mut() else {
                        return false;
                    };
                    list.retain(|v| v.as_str() != Some(c.as_str()));
                    true
                });
            }
        }
        attempt(&mut self, &|w| {
            w.user_groups.clear();
            w.groups.clear();
            true
        });
        for g in self.user_groups.clone() {
            attempt(&mut self, &|w| w.user_groups.remove(&g));
        }
        attempt(&mut self, &|w| {
            let changed = !w.attributes.is_empty();
            w.attributes.clear();
            changed
        });
        for a in self.attributes.keys().cloned().collect::<Vec<_>>() {
            attempt(&mut self, &|w| w.attributes.remove(&a).is_some());
        }
        attempt(&mut self, &|w| {
            !std::mem::take(&mut w.user_jurisdiction).is_empty()
        });
        attempt(&mut self, &|w| {
            !std::mem::take(&mut w.caller.purpose).is_empty()
        });
        attempt(&mut self, &|w| {
            !std::mem::take(&mut w.caller.ticket).is_empty()
        });
        self
    }

    /// Drops `key` from label rule `rule`; false if it had none. A rule left with only its
    /// paths sets no label and goes.
    fn drop_label(&mut self, rule: usize, key: &str) -> bool {
        let Some(r) = self.label_rules[rule].as_object_mut() else {
            return false;
        };
        if r.remove(key).is_none() {
            return false;
        }
        if key == "classification" {
            let used: BTreeSet<String> = self
                .label_rules
                .iter()
                .filter_map(|r| r["classification"].as_str().map(str::to_owned))
                .collect();
            self.classifications.retain(|c| used.contains(c));
        }
        true
    }

    /// The request as JSON: a `policy test` case (without `expect`) and the host data it
    /// was decided under.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("principal".into(), json!(self.caller.principal_uid()));
        if let Some(user) = self.caller.on_behalf_of() {
            out.insert("on_behalf_of".into(), json!(user));
        }
        out.insert("purpose".into(), json!(self.caller.purpose));
        out.insert("ticket".into(), json!(self.caller.ticket));
        out.insert("action".into(), json!(self.action.to_string()));
        out.insert("resource".into(), json!(self.resource.to_string()));
        if let Context::Move { destination } = &self.context {
            out.insert("destination".into(), json!(destination.as_str()));
        }
        if let Resource::Process(p) = &self.resource {
            out.insert(
                "process".into(),
                json!({"name": p.name, "username": p.username, "command": p.command}),
            );
        }
        if let Some(exec) = &self.execute {
            out.insert(
                "execute".into(),
                json!({
                    "arguments": exec.arguments,
                    "environment": exec.environment,
                    "user": {"name": exec.user.name, "id": exec.user.id},
                    "group": {"name": exec.group.name, "id": exec.group.id},
                }),
            );
        }
        let directory = self.directory_json();
        if directory["users"]
            .as_object()
            .is_some_and(|u| !u.is_empty())
        {
            out.insert("directory".into(), directory);
        }
        if let Some(labels) = self.labels_json() {
            out.insert("labels".into(), labels);
        }
        Value::Object(out)
    }

    /// The request for people, one line each (the caller escapes them for the terminal).
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "request: {} {} on {}",
            self.caller.principal_uid(),
            self.action,
            self.resource
        )];
        if let Some(user) = self.caller.on_behalf_of() {
            out.push(format!("on behalf of User::{user:?}"));
        }
        out.push(format!(
            "purpose {:?}, ticket {:?}",
            self.caller.purpose, self.caller.ticket
        ));
        if let Context::Move { destination } = &self.context {
            out.push(format!("destination {:?}", destination.as_str()));
        }
        if let Resource::Process(p) = &self.resource {
            out.push(format!(
                "process name {:?}, username {:?}, command {:?}",
                p.name, p.username, p.command
            ));
        }
        if let Some(exec) = &self.execute {
            out.push(format!(
                "arguments {:?}, environment {:?}, user {} ({}), group {} ({})",
                exec.arguments,
                exec.environment,
                exec.user.name,
                exec.user.id,
                exec.group.name,
                exec.group.id
            ));
        }
        if !self.user_groups.is_empty() {
            let groups: Vec<&str> = self.user_groups.iter().map(String::as_str).collect();
            out.push(format!(
                "User::{:?} in groups {}",
                self.user,
                groups.join(", ")
            ));
        }
        if !self.user_jurisdiction.is_empty() {
            out.push(format!(
                "User::{:?} in jurisdiction {:?}",
                self.user, self.user_jurisdiction
            ));
        }
        if !self.attributes.is_empty() {
            out.push(format!(
                "User::{:?} attributes {}",
                self.user,
                json!(self.attributes)
            ));
        }
        for rule in self.label_rules.iter().filter_map(Value::as_object) {
            let mut labels = rule.clone();
            if labels.len() < 2 {
                continue;
            }
            let paths = labels.remove("paths").unwrap_or_default();
            out.push(format!(
                "labels of {}: {}",
                strings(&paths).join(", "),
                Value::Object(labels)
            ));
        }
        out
    }
}

/// The command line and environment an execute model describes, as a script would pass
/// them: its named arguments (`keys`, with their tags as values), then its words in the
/// order of their `$ARG0`, `$ARG1`, ... tags; its environment variables (`names`, with
/// their tags). Whether the gate sees the same is for the gate's decision to show.
fn execute_context(store: &Store, context: &Value) -> Result<ExecuteContext, String> {
    let entity = |key: &str| {
        uid_of(&context[key])
            .and_then(|uid| store.by_uid.get(&uid))
            .ok_or_else(|| format!("the counterexample's execute context has no {key}"))
    };
    let tag = |e: &Value, name: &str| e["tags"][name].as_str().map(str::to_owned);
    let arguments_entity = entity("arguments")?;
    let mut arguments = Vec::new();
    for key in strings(&arguments_entity["attrs"]["keys"]) {
        let value = tag(arguments_entity, &key)
            .ok_or_else(|| format!("the counterexample's argument {key:?} has no value"))?;
        arguments.push((key, Some(value)));
    }
    for i in 0.. {
        match tag(arguments_entity, &format!("$ARG{i}")) {
            Some(word) => arguments.push((word, None)),
            None => break,
        }
    }
    let environment_entity = entity("environment")?;
    let environment = strings(&environment_entity["attrs"]["names"])
        .into_iter()
        .map(|name| {
            let value = tag(environment_entity, &name).unwrap_or_default();
            (name, value)
        })
        .collect();
    let identity = |record: &str, name: &str, id: &str| -> Result<Identity, String> {
        let r = &context[record];
        Ok(Identity {
            name: r[name].as_str().unwrap_or_default().to_owned(),
            id: r[id]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| format!("the counterexample's {record}.{id} is not a u32"))?,
        })
    };
    Ok(ExecuteContext {
        arguments,
        environment,
        user: identity("user", "username", "uid")?,
        group: identity("group", "groupname", "gid")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_take_paths_literally() {
        assert_eq!(glob_literal("/a*b/[c]?"), "/a\\*b/\\[c\\]\\?");
    }
}
