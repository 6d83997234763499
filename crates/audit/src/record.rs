//! Audit records: what is written, one canonical JSON object per line.
//!
//! Canonical means: object keys sorted, no whitespace, serde_json's number and string
//! encoding. The exact bytes of a line are what the Merkle tree hashes, so a record is
//! serialized once, by [`Record::to_line`], and never re-encoded by a reader. Readers ignore
//! fields they do not know, so later versions can add fields.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Record {
    /// Position in the log, from 0, without gaps.
    pub seq: u64,
    /// RFC 3339, UTC.
    pub time: String,
    pub host: String,
    /// The run this record belongs to (absent for records of the log itself, e.g. repairs).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub run: String,
    /// Hex leaf hash of the previous line: edits show up at the next record, not only at the
    /// next checkpoint.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A run began.
    RunStart {
        principal: String,
        script_sha256: String,
        policy_sha256: String,
        schema_version: String,
        args_sha256: String,
        limits: Value,
        tollgate_version: String,
        #[serde(default)]
        on_behalf_of: Option<String>,
        #[serde(default)]
        purpose: Option<String>,
        #[serde(default)]
        ticket: Option<String>,
        /// The delegation token the run came with: `sub`, `actors`, `jti`, `iss`, `exp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<Value>,
        /// The SHA-256 of the host's directory and labels files the run decided with
        /// (`directory_sha256`, `labels_sha256`), when the host has them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host_files: Option<Value>,
        /// How the kernel confines the run's worker (`landlock`, `seccomp`, `memory`), and
        /// what it could not apply on this host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sandbox: Option<Value>,
        /// In a shadow run (`--shadow`), the SHA-256 of the candidate policy decided beside
        /// the enforced one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shadow_policy_sha256: Option<String>,
    },
    /// A run that was refused before it started (invalid policy or arguments, a token that
    /// did not verify, a host that requires one): nothing ran.
    RunRefused {
        principal: String,
        error_type: String,
        message: String,
        #[serde(default)]
        on_behalf_of: Option<String>,
        #[serde(default)]
        purpose: Option<String>,
        #[serde(default)]
        ticket: Option<String>,
    },
    /// A gate decision, written before the operation it permits runs.
    Decision {
        principal: String,
        action: String,
        resource_type: String,
        resource_id: String,
        /// `permit` or `deny`.
        decision: String,
        /// Ids of the policies that determined the decision.
        policies: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// A question asked of the gate without running anything (`check_access`); it
        /// permitted or denied no operation. Written only when true.
        #[serde(default)]
        probe: bool,
        /// On whose behalf, why and under which ticket (absent for a run as the OS user);
        /// the same three fields as on `run_start` and `run_refused`.
        #[serde(default)]
        on_behalf_of: Option<String>,
        #[serde(default)]
        purpose: Option<String>,
        #[serde(default)]
        ticket: Option<String>,
        /// The data labels of a labelled file or directory (classification, categories,
        /// jurisdiction, legal_hold, retention); absent for anything else.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        labels: Option<Value>,
        /// In a shadow run, the candidate policy's decision where it differs from this one:
        /// `{"decision": "permit"|"deny", "policies": [...]}`; absent where they agree.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shadow: Option<Value>,
        /// For a sink (a write, a URL, a command, a service, the run's answer) in a run that
        /// has read labelled data: the labelled paths read so far, `[{"path", "labels",
        /// "redacted", "sha256", "size"}]` (a file's hash of the content read and its size;
        /// none for a directory), which may flow into it. The lineage of the data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sources: Option<Value>,
        /// The operation's target, where it is another resource than this decision's (the
        /// file a `cat` wanted, when its directory was decided first), as a uid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// The SDK call the decision served, as the SDK table names it (`cat`,
        /// `RcFileHandle.read`); absent for the release of a run's answer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        call: Option<String>,
    },
    /// A run ended.
    RunEnd {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        duration_ms: u64,
        permits: u64,
        denies: u64,
        /// What redaction replaced, per file read redacted (path to counts by placeholder
        /// type) and, under `output`, in the run's output; absent when nothing was redacted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        redactions: Option<Value>,
        /// How the worker ended: `returned`, `timeout`, `memory`, `output`, `killed` (the
        /// host owner's `tollgate kill`), `cancelled` (a signal to the supervisor or an MCP
        /// cancel), `crashed`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ended_by: Option<String>,
    },
    /// The host owner pulled the kill switch: `freeze`, `thaw`, or `kill` of one run.
    Control {
        principal: String,
        action: String,
        /// The run a `kill` was for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A policy proposal: an agent's (`propose_policy`, action `propose`, refused by a proof
    /// as `refuted`), or the host owner's `approve` or `reject` of one.
    Proposal {
        principal: String,
        action: String,
        /// The proposal's number in the policy's proposals.
        proposal: u64,
        /// The SHA-256 of the proposed statement's text.
        statement_sha256: String,
        /// The agent's justification, or the host owner's reason for a rejection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// For an approval: the SHA-256 of the policy file as written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        policy_sha256: Option<String>,
        #[serde(default)]
        on_behalf_of: Option<String>,
        #[serde(default)]
        purpose: Option<String>,
        #[serde(default)]
        ticket: Option<String>,
    },
    /// A writer found a torn final line (a writer died mid-write) and cut it off.
    Repair {
        torn_bytes: u64,
        torn_sha256: String,
    },
    /// The segment ends here; the log continues in `next`.
    Rotate { next: String },
}

macro_rules! keys {
    ($($key:ident = $name:literal,)*) => {
        /// A field name a record can have.
        #[derive(Clone, Copy)]
        enum Key { $($key),* }

        /// The names of [`Key`], in its order.
        const KEYS: &[&str] = &[$($name),*];

        /// What precedes each key's value in a line, comma included: one write per field.
        const KEY_PREFIXES: &[&str] = &[$(concat!(",\"", $name, "\":")),*];
    };
}

// Every field name of every kind of record, in sorted order: fields are written in this order,
// which makes each line canonical without sorting anything per record. A new field goes in
// its sorted place (the build fails otherwise).
keys! {
    Action = "action",
    ArgsSha256 = "args_sha256",
    Call = "call",
    Decision = "decision",
    Denies = "denies",
    DurationMs = "duration_ms",
    EndedBy = "ended_by",
    Error = "error",
    ErrorType = "error_type",
    Host = "host",
    HostFiles = "host_files",
    Kind = "kind",
    Labels = "labels",
    Limits = "limits",
    Message = "message",
    Next = "next",
    OnBehalfOf = "on_behalf_of",
    Permits = "permits",
    Policies = "policies",
    PolicySha256 = "policy_sha256",
    Prev = "prev",
    Principal = "principal",
    Probe = "probe",
    Proposal = "proposal",
    Purpose = "purpose",
    Reason = "reason",
    Redactions = "redactions",
    ResourceId = "resource_id",
    ResourceType = "resource_type",
    Run = "run",
    Sandbox = "sandbox",
    SchemaVersion = "schema_version",
    ScriptSha256 = "script_sha256",
    Seq = "seq",
    Shadow = "shadow",
    ShadowPolicySha256 = "shadow_policy_sha256",
    Sources = "sources",
    StatementSha256 = "statement_sha256",
    Status = "status",
    Target = "target",
    Ticket = "ticket",
    Time = "time",
    Token = "token",
    TollgateVersion = "tollgate_version",
    TornBytes = "torn_bytes",
    TornSha256 = "torn_sha256",
}

/// Whether `keys` is strictly ascending by bytes, as canonical JSON orders object keys.
const fn sorted(keys: &[&str]) -> bool {
    let mut i = 1;
    while i < keys.len() {
        let (a, b) = (keys[i - 1].as_bytes(), keys[i].as_bytes());
        let mut j = 0;
        loop {
            if j == b.len() {
                return false;
            }
            if j == a.len() || a[j] < b[j] {
                break;
            }
            if a[j] > b[j] {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const _: () = assert!(sorted(KEYS), "record keys must be declared in sorted order");

/// A value in a record, borrowed for writing.
#[derive(Clone, Copy)]
enum Field<'a> {
    Absent,
    Str(&'a str),
    U64(u64),
    Bool(bool),
    Strs(&'a [String]),
    Json(&'a Value),
}

/// The fields of one record, each in the slot of its key.
struct Fields<'a>([Field<'a>; KEYS.len()]);

impl<'a> Fields<'a> {
    fn new() -> Self {
        Fields([Field::Absent; KEYS.len()])
    }

    fn set(&mut self, key: Key, value: Field<'a>) {
        self.0[key as usize] = value;
    }

    fn str(&mut self, key: Key, value: &'a str) {
        self.set(key, Field::Str(value));
    }

    /// Sets an optional string field; an absent one is left out of the line.
    fn optional(&mut self, key: Key, value: Option<&'a str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    /// On whose behalf, why and under which ticket: the same three optional fields on run
    /// starts, refusals and decisions.
    fn delegation(
        &mut self,
        on_behalf_of: Option<&'a str>,
        purpose: Option<&'a str>,
        ticket: Option<&'a str>,
    ) {
        self.optional(Key::OnBehalfOf, on_behalf_of);
        self.optional(Key::Purpose, purpose);
        self.optional(Key::Ticket, ticket);
    }

    fn json(&mut self, key: Key, value: Option<&'a Value>) {
        if let Some(v) = value {
            self.set(key, Field::Json(v));
        }
    }

    /// Appends the fields as one JSON object, in key order.
    fn write(&self, out: &mut String) {
        out.push('{');
        // The first field present is not preceded by a comma.
        let mut skip = 1;
        for (prefix, value) in KEY_PREFIXES.iter().zip(&self.0) {
            if let Field::Absent = value {
                continue;
            }
            out.push_str(&prefix[skip..]);
            skip = 0;
            match *value {
                Field::Absent => {}
                Field::Str(s) => write_str(s, out),
                Field::U64(n) => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "{n}");
                }
                Field::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                Field::Strs(items) => write_seq(out, '[', items, ']', |s, out| write_str(s, out)),
                Field::Json(v) => write_canonical(v, out),
            }
        }
        out.push('}');
    }
}

/// A decision record's own fields, borrowed. Every decision is encoded from one of these:
/// an [`Event::Decision`] lends its fields, and the gate's decisions are written from one
/// directly, without first being copied into an `Event` (this runs for every decision).
#[derive(Clone, Copy, Debug)]
pub struct DecisionRef<'a> {
    pub principal: &'a str,
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    /// `permit` or `deny`.
    pub decision: &'a str,
    pub policies: &'a [String],
    pub error: Option<&'a str>,
    pub probe: bool,
    pub on_behalf_of: Option<&'a str>,
    pub purpose: Option<&'a str>,
    pub ticket: Option<&'a str>,
    /// The data labels of a labelled file or directory.
    pub labels: Option<&'a Value>,
    /// The candidate policy's differing decision, in a shadow run.
    pub shadow: Option<&'a Value>,
    /// What may flow into a sink.
    pub sources: Option<&'a Value>,
    /// The operation's target, when it is another resource.
    pub target: Option<&'a str>,
    /// The SDK call served.
    pub call: Option<&'a str>,
}

impl<'a> DecisionRef<'a> {
    fn fields(self, f: &mut Fields<'a>) {
        f.str(Key::Kind, "decision");
        f.str(Key::Principal, self.principal);
        f.str(Key::Action, self.action);
        f.str(Key::ResourceType, self.resource_type);
        f.str(Key::ResourceId, self.resource_id);
        f.str(Key::Decision, self.decision);
        f.set(Key::Policies, Field::Strs(self.policies));
        if self.probe {
            f.set(Key::Probe, Field::Bool(true));
        }
        f.optional(Key::Error, self.error);
        f.delegation(self.on_behalf_of, self.purpose, self.ticket);
        f.json(Key::Labels, self.labels);
        f.json(Key::Shadow, self.shadow);
        f.json(Key::Sources, self.sources);
        f.optional(Key::Target, self.target);
        f.optional(Key::Call, self.call);
    }
}

/// An event to append, borrowed: any [`Event`], or a decision as the gate hands it over.
// Decisions are nearly every event appended, and a run appends them by the thousand: boxing
// the large variant would cost an allocation for each, to save stack for the rare other.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug)]
pub enum EventRef<'a> {
    Event(&'a Event),
    Decision(DecisionRef<'a>),
}

impl<'a> From<&'a Event> for EventRef<'a> {
    fn from(event: &'a Event) -> Self {
        EventRef::Event(event)
    }
}

impl Record {
    /// The canonical line, without the newline.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(512);
        RecordRef {
            seq: self.seq,
            time: &self.time,
            host: &self.host,
            run: &self.run,
            prev: &self.prev,
            event: EventRef::Event(&self.event),
        }
        .write_line(&mut out);
        out
    }

    /// Parses a line; unknown fields are ignored.
    pub fn parse(line: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(line)
    }
}

/// A record's fields, borrowed: what the writer encodes for every decision without first
/// copying them into a [`Record`].
pub(crate) struct RecordRef<'a> {
    pub seq: u64,
    pub time: &'a str,
    pub host: &'a str,
    pub run: &'a str,
    pub prev: &'a str,
    pub event: EventRef<'a>,
}

impl RecordRef<'_> {
    /// Appends the canonical line, without the newline. Written field by field (not
    /// through a generic JSON value): this runs for every decision.
    pub fn write_line(&self, out: &mut String) {
        let mut f = Fields::new();
        f.set(Key::Seq, Field::U64(self.seq));
        f.str(Key::Time, self.time);
        f.str(Key::Host, self.host);
        f.optional(Key::Run, (!self.run.is_empty()).then_some(self.run));
        f.optional(Key::Prev, (!self.prev.is_empty()).then_some(self.prev));
        let event = match self.event {
            EventRef::Decision(d) => {
                d.fields(&mut f);
                return f.write(out);
            }
            EventRef::Event(event) => event,
        };
        match event {
            Event::RunStart {
                principal,
                script_sha256,
                policy_sha256,
                schema_version,
                args_sha256,
                limits,
                tollgate_version,
                on_behalf_of,
                purpose,
                ticket,
                token,
                host_files,
                sandbox,
                shadow_policy_sha256,
            } => {
                f.str(Key::Kind, "run_start");
                f.str(Key::Principal, principal);
                f.str(Key::ScriptSha256, script_sha256);
                f.str(Key::PolicySha256, policy_sha256);
                f.str(Key::SchemaVersion, schema_version);
                f.str(Key::ArgsSha256, args_sha256);
                f.set(Key::Limits, Field::Json(limits));
                f.str(Key::TollgateVersion, tollgate_version);
                f.delegation(
                    on_behalf_of.as_deref(),
                    purpose.as_deref(),
                    ticket.as_deref(),
                );
                f.json(Key::Token, token.as_ref());
                f.json(Key::HostFiles, host_files.as_ref());
                f.json(Key::Sandbox, sandbox.as_ref());
                f.optional(Key::ShadowPolicySha256, shadow_policy_sha256.as_deref());
            }
            Event::RunRefused {
                principal,
                error_type,
                message,
                on_behalf_of,
                purpose,
                ticket,
            } => {
                f.str(Key::Kind, "run_refused");
                f.str(Key::Principal, principal);
                f.str(Key::ErrorType, error_type);
                f.str(Key::Message, message);
                f.delegation(
                    on_behalf_of.as_deref(),
                    purpose.as_deref(),
                    ticket.as_deref(),
                );
            }
            Event::Decision {
                principal,
                action,
                resource_type,
                resource_id,
                decision,
                policies,
                error,
                probe,
                on_behalf_of,
                purpose,
                ticket,
                labels,
                shadow,
                sources,
                target,
                call,
            } => DecisionRef {
                principal,
                action,
                resource_type,
                resource_id,
                decision,
                policies,
                error: error.as_deref(),
                probe: *probe,
                on_behalf_of: on_behalf_of.as_deref(),
                purpose: purpose.as_deref(),
                ticket: ticket.as_deref(),
                labels: labels.as_ref(),
                shadow: shadow.as_ref(),
                sources: sources.as_ref(),
                target: target.as_deref(),
                call: call.as_deref(),
            }
            .fields(&mut f),
            Event::RunEnd {
                status,
                error_type,
                duration_ms,
                permits,
                denies,
                redactions,
                ended_by,
            } => {
                f.str(Key::Kind, "run_end");
                f.str(Key::Status, status);
                f.set(Key::DurationMs, Field::U64(*duration_ms));
                f.set(Key::Permits, Field::U64(*permits));
                f.set(Key::Denies, Field::U64(*denies));
                f.optional(Key::ErrorType, error_type.as_deref());
                f.json(Key::Redactions, redactions.as_ref());
                f.optional(Key::EndedBy, ended_by.as_deref());
            }
            Event::Control {
                principal,
                action,
                target,
                reason,
            } => {
                f.str(Key::Kind, "control");
                f.str(Key::Principal, principal);
                f.str(Key::Action, action);
                f.optional(Key::Target, target.as_deref());
                f.optional(Key::Reason, reason.as_deref());
            }
            Event::Proposal {
                principal,
                action,
                proposal,
                statement_sha256,
                reason,
                policy_sha256,
                on_behalf_of,
                purpose,
                ticket,
            } => {
                f.str(Key::Kind, "proposal");
                f.str(Key::Principal, principal);
                f.str(Key::Action, action);
                f.set(Key::Proposal, Field::U64(*proposal));
                f.str(Key::StatementSha256, statement_sha256);
                f.optional(Key::Reason, reason.as_deref());
                f.optional(Key::PolicySha256, policy_sha256.as_deref());
                f.delegation(
                    on_behalf_of.as_deref(),
                    purpose.as_deref(),
                    ticket.as_deref(),
                );
            }
            Event::Repair {
                torn_bytes,
                torn_sha256,
            } => {
                f.str(Key::Kind, "repair");
                f.set(Key::TornBytes, Field::U64(*torn_bytes));
                f.str(Key::TornSha256, torn_sha256);
            }
            Event::Rotate { next } => {
                f.str(Key::Kind, "rotate");
                f.str(Key::Next, next);
            }
        }
        f.write(out)
    }
}

/// A JSON string literal, escaped exactly as serde_json escapes it (`"`, `\\` and control
/// characters; nothing else), written in place: every field of every record passes here.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    let bytes = s.as_bytes();
    let mut plain = 0;
    while let Some(i) = next_escape(bytes, plain) {
        out.push_str(&s[plain..i]);
        out.push('\\');
        match bytes[i] {
            // The common case (quotes in Cedar uids), one byte at a time.
            b @ (b'"' | b'\\') => out.push(char::from(b)),
            b'\n' => out.push('n'),
            b'\r' => out.push('r'),
            b'\t' => out.push('t'),
            0x08 => out.push('b'),
            0x0c => out.push('f'),
            b => {
                // Writing to a String cannot fail.
                let _ = write!(out, "u{b:04x}");
            }
        }
        // The escaped byte is ASCII, so the next one starts a character.
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// The position of the first byte at or after `from` that JSON must escape. Looks at eight
/// bytes at a time: most fields have nothing to escape, and every byte of every record is
/// looked at here.
fn next_escape(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // A high bit for each byte below 0x20, `"` or `\`. Only the lowest one is exact (a
    // borrow may set bits above it), which is the one we want.
    let flags = |w: u64| {
        let below = |w: u64, n: u8| w.wrapping_sub(ONES * n as u64) & !w & HIGH;
        below(w, 0x20) | below(w ^ (ONES * b'"' as u64), 1) | below(w ^ (ONES * b'\\' as u64), 1)
    };
    let mut chunks = bytes.get(from..)?.chunks_exact(8);
    let mut at = from;
    for chunk in &mut chunks {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let found = flags(u64::from_le_bytes(word));
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let rest = chunks.remainder();
    rest.iter()
        .position(|&b| b < 0x20 || b == b'"' || b == b'\\')
        .map(|i| at + i)
}

/// A JSON array or object: `open`, the items separated by commas, each written by `item`,
/// then `close`.
fn write_seq<I: IntoIterator>(
    out: &mut String,
    open: char,
    items: I,
    close: char,
    mut item: impl FnMut(I::Item, &mut String),
) {
    out.push(open);
    for (i, v) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(v, out);
    }
    out.push(close);
}

/// JSON with object keys sorted at every level, whatever order the map keeps them in.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            write_seq(out, '{', keys, '}', |k, out| {
                write_str(k, out);
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            });
        }
        Value::Array(items) => write_seq(out, '[', items, ']', write_canonical),
        // Scalars have one encoding in serde_json; it cannot fail for a `Value`.
        scalar => out.push_str(&serde_json::to_string(scalar).unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision() -> Record {
        Record {
            seq: 3,
            time: "2026-11-21T10:00:00Z".into(),
            host: "h".into(),
            run: "r1".into(),
            prev: "00".into(),
            event: Event::Decision {
                principal: "User::\"alice\"".into(),
                action: "file_system::Action::\"read\"".into(),
                resource_type: "file_system::File".into(),
                resource_id: "/var/log/a".into(),
                decision: "permit".into(),
                policies: vec!["p1".into()],
                error: None,
                probe: false,
                on_behalf_of: None,
                purpose: None,
                ticket: None,
                labels: None,
                shadow: None,
                sources: None,
                target: None,
                call: None,
            },
        }
    }

    const ALICE: &str = "User::\"alice\"";

    #[test]
    fn lines_have_sorted_keys_and_no_whitespace() {
        let line = decision().to_line();
        assert!(line.starts_with(r#"{"action":"file_system::Action::\"read\"","decision":"permit","host":"h","kind":"decision""#), "{line}");
        assert!(!line.contains(": ") && !line.contains('\n'));
    }

    #[test]
    fn every_kind_of_record_round_trips() {
        let mut r = decision();
        for event in [
            Event::RunStart {
                principal: "p".into(),
                script_sha256: "s".into(),
                policy_sha256: "q".into(),
                schema_version: "v".into(),
                args_sha256: "a".into(),
                limits: serde_json::json!({"b": 1, "a": {"z": 2, "y": "\u{e9}"}}),
                tollgate_version: "0".into(),
                on_behalf_of: None,
                purpose: None,
                ticket: None,
                token: None,
                host_files: None,
                sandbox: Some(serde_json::json!({"landlock": true})),
                shadow_policy_sha256: None,
            },
            Event::RunStart {
                principal: "Agent::\"ops\"".into(),
                script_sha256: "s".into(),
                policy_sha256: "q".into(),
                schema_version: "v".into(),
                args_sha256: "a".into(),
                limits: serde_json::json!({}),
                tollgate_version: "0".into(),
                on_behalf_of: Some(ALICE.into()),
                purpose: Some("incident-response".into()),
                ticket: Some("INC-42".into()),
                token: Some(serde_json::json!({"sub": "alice", "actors": ["ops"], "jti": "t1"})),
                host_files: Some(serde_json::json!({"labels_sha256": "ab"})),
                sandbox: None,
                shadow_policy_sha256: Some("ab".repeat(32)),
            },
            Event::RunRefused {
                principal: "Agent::\"ops\"".into(),
                error_type: "ACCESS_DENIED_EXCEPTION".into(),
                message: "the delegation token has expired".into(),
                on_behalf_of: Some(ALICE.into()),
                purpose: Some("incident-response".into()),
                ticket: Some("INC-42".into()),
            },
            Event::RunEnd {
                status: "ERROR".into(),
                error_type: Some("SCRIPT_EXCEPTION".into()),
                duration_ms: 5,
                permits: 2,
                denies: 1,
                redactions: None,
                ended_by: Some("returned".into()),
            },
            Event::RunEnd {
                status: "SUCCESS".into(),
                error_type: None,
                duration_ms: 5,
                permits: 2,
                denies: 1,
                redactions: Some(
                    serde_json::json!({"/var/log/app.log": {"EMAIL": 2}, "output": {}}),
                ),
                ended_by: None,
            },
            Event::Proposal {
                principal: "Agent::\"ops\"".into(),
                action: "propose".into(),
                proposal: 3,
                statement_sha256: "ab".repeat(32),
                reason: Some("needs stat on /var/log to list it".into()),
                policy_sha256: None,
                on_behalf_of: Some(ALICE.into()),
                purpose: Some("incident-response".into()),
                ticket: None,
            },
            Event::Proposal {
                principal: "User::\"root\"".into(),
                action: "approve".into(),
                proposal: 3,
                statement_sha256: "ab".repeat(32),
                reason: None,
                policy_sha256: Some("cd".repeat(32)),
                on_behalf_of: None,
                purpose: None,
                ticket: None,
            },
            Event::Repair {
                torn_bytes: 9,
                torn_sha256: "t".into(),
            },
            Event::Rotate {
                next: "000002.jsonl".into(),
            },
            Event::Control {
                principal: "User::\"root\"".into(),
                action: "kill".into(),
                target: Some("18f-2a".into()),
                reason: Some("runaway".into()),
            },
            Event::Decision {
                principal: "p".into(),
                action: "a".into(),
                resource_type: "t".into(),
                resource_id: "i".into(),
                decision: "deny".into(),
                policies: vec![],
                error: Some("no".into()),
                probe: true,
                on_behalf_of: None,
                purpose: None,
                ticket: None,
                labels: None,
                shadow: None,
                sources: None,
                target: None,
                call: None,
            },
            Event::Decision {
                principal: "Agent::\"ops\"".into(),
                action: "a".into(),
                resource_type: "t".into(),
                resource_id: "i".into(),
                decision: "permit".into(),
                policies: vec!["p".into()],
                error: None,
                probe: false,
                on_behalf_of: Some(ALICE.into()),
                purpose: Some("incident-response".into()),
                ticket: Some("INC-42".into()),
                labels: Some(serde_json::json!({
                    "classification": "confidential", "categories": ["pii"],
                    "jurisdiction": "EU", "legal_hold": true, "retention": "P90D"})),
                shadow: Some(serde_json::json!({"decision": "deny", "policies": []})),
                sources: Some(
                    serde_json::json!([{"path": "/srv/a", "labels": {}, "redacted": false}]),
                ),
                target: Some("file_system::File::\"/srv/a/b\"".into()),
                call: Some("cat".into()),
            },
        ] {
            r.event = event;
            let line = r.to_line();
            assert_eq!(Record::parse(&line).unwrap(), r, "{line}");
            // Canonical: re-encoding the parsed JSON with sorted keys gives the same bytes.
            let mut again = String::new();
            write_canonical(&serde_json::from_str(&line).unwrap(), &mut again);
            assert_eq!(again, line);
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut every: String = (0u8..0x80).map(char::from).collect();
        every.push_str("\u{e9}\u{2028}\u{1f600} \\\" end");
        for s in [every.as_str(), "", "plain", "\"", "a\\b\u{1}"] {
            let mut out = String::new();
            write_str(s, &mut out);
            assert_eq!(out, serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn every_byte_that_needs_escaping_is_escaped_wherever_it_falls() {
        // The escape search looks at eight bytes at a time: each special byte is tried at
        // every position of strings longer than two words, after plain ASCII, after
        // multi-byte characters and after another special byte.
        for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '\u{7f}', '\u{e9}'] {
            for len in 0..20 {
                for at in 0..=len {
                    for fill in ["a", "\u{e9}", "\""] {
                        let mut s: String = fill.repeat(at);
                        s.push(special);
                        s.push_str(&"z".repeat(len - at));
                        let mut out = String::new();
                        write_str(&s, &mut out);
                        assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn key_order_check_rejects_unsorted_duplicate_and_prefix_first_lists() {
        assert!(sorted(KEYS));
        assert!(sorted(&["error", "error_type", "host"]));
        assert!(!sorted(&["host", "error"]));
        assert!(!sorted(&["error_type", "error"]));
        assert!(!sorted(&["run", "run"]));
    }

    #[test]
    fn lines_round_trip_and_unknown_fields_are_ignored() {
        let r = decision();
        assert_eq!(Record::parse(&r.to_line()).unwrap(), r);
        let with_extra = r
            .to_line()
            .replacen('{', r#"{"retained_until":["2030"],"#, 1);
        assert_eq!(Record::parse(&with_extra).unwrap(), r);
    }
}
