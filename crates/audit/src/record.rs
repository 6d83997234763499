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
    /// A writer found a torn final line (a writer died mid-write) and cut it off.
    Repair {
        torn_bytes: u64,
        torn_sha256: String,
    },
    /// The segment ends here; the log continues in `next`.
    Rotate { next: String },
}

/// Adds the optional string fields that are present; an absent one is left out of the line.
fn optional<'a, const N: usize>(
    fields: &mut Vec<(&'static str, Field<'a>)>,
    values: [(&'static str, &'a Option<String>); N],
) {
    for (key, value) in values {
        if let Some(v) = value {
            fields.push((key, Field::Str(v)));
        }
    }
}

/// A value in a record, borrowed for writing.
enum Field<'a> {
    Str(&'a str),
    U64(u64),
    Bool(bool),
    Strs(&'a [String]),
    Json(&'a Value),
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
            event: &self.event,
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
    pub event: &'a Event,
}

impl RecordRef<'_> {
    /// Appends the canonical line, without the newline. Written field by field (not
    /// through a generic JSON value): this runs for every decision.
    pub fn write_line(&self, out: &mut String) {
        use Field::*;
        let mut fields: Vec<(&'static str, Field<'_>)> = Vec::with_capacity(16);
        fields.push(("seq", U64(self.seq)));
        fields.push(("time", Str(self.time)));
        fields.push(("host", Str(self.host)));
        if !self.run.is_empty() {
            fields.push(("run", Str(self.run)));
        }
        if !self.prev.is_empty() {
            fields.push(("prev", Str(self.prev)));
        }
        match self.event {
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
            } => {
                fields.extend([
                    ("kind", Str("run_start")),
                    ("principal", Str(principal)),
                    ("script_sha256", Str(script_sha256)),
                    ("policy_sha256", Str(policy_sha256)),
                    ("schema_version", Str(schema_version)),
                    ("args_sha256", Str(args_sha256)),
                    ("limits", Json(limits)),
                    ("tollgate_version", Str(tollgate_version)),
                ]);
                optional(
                    &mut fields,
                    [
                        ("on_behalf_of", on_behalf_of),
                        ("purpose", purpose),
                        ("ticket", ticket),
                    ],
                );
                if let Some(t) = token {
                    fields.push(("token", Json(t)));
                }
                if let Some(h) = host_files {
                    fields.push(("host_files", Json(h)));
                }
            }
            Event::RunRefused {
                principal,
                error_type,
                message,
                on_behalf_of,
                purpose,
                ticket,
            } => {
                fields.extend([
                    ("kind", Str("run_refused")),
                    ("principal", Str(principal)),
                    ("error_type", Str(error_type)),
                    ("message", Str(message)),
                ]);
                optional(
                    &mut fields,
                    [
                        ("on_behalf_of", on_behalf_of),
                        ("purpose", purpose),
                        ("ticket", ticket),
                    ],
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
            } => {
                fields.extend([
                    ("kind", Str("decision")),
                    ("principal", Str(principal)),
                    ("action", Str(action)),
                    ("resource_type", Str(resource_type)),
                    ("resource_id", Str(resource_id)),
                    ("decision", Str(decision)),
                    ("policies", Strs(policies)),
                ]);
                if *probe {
                    fields.push(("probe", Bool(true)));
                }
                optional(
                    &mut fields,
                    [
                        ("error", error),
                        ("on_behalf_of", on_behalf_of),
                        ("purpose", purpose),
                        ("ticket", ticket),
                    ],
                );
                if let Some(l) = labels {
                    fields.push(("labels", Json(l)));
                }
            }
            Event::RunEnd {
                status,
                error_type,
                duration_ms,
                permits,
                denies,
                redactions,
            } => {
                fields.extend([
                    ("kind", Str("run_end")),
                    ("status", Str(status)),
                    ("duration_ms", U64(*duration_ms)),
                    ("permits", U64(*permits)),
                    ("denies", U64(*denies)),
                ]);
                optional(&mut fields, [("error_type", error_type)]);
                if let Some(r) = redactions {
                    fields.push(("redactions", Json(r)));
                }
            }
            Event::Control {
                principal,
                action,
                target,
                reason,
            } => {
                fields.extend([
                    ("kind", Str("control")),
                    ("principal", Str(principal)),
                    ("action", Str(action)),
                ]);
                optional(&mut fields, [("target", target), ("reason", reason)]);
            }
            Event::Repair {
                torn_bytes,
                torn_sha256,
            } => fields.extend([
                ("kind", Str("repair")),
                ("torn_bytes", U64(*torn_bytes)),
                ("torn_sha256", Str(torn_sha256)),
            ]),
            Event::Rotate { next } => fields.extend([("kind", Str("rotate")), ("next", Str(next))]),
        }
        fields.sort_unstable_by_key(|(k, _)| *k);
        out.push('{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Keys are fixed identifiers: no escaping needed.
            out.push('"');
            out.push_str(key);
            out.push_str("\":");
            match value {
                Str(s) => write_str(s, out),
                U64(n) => {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "{n}");
                }
                Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                Strs(items) => {
                    out.push('[');
                    for (j, item) in items.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_str(item, out);
                    }
                    out.push(']');
                }
                Json(v) => write_canonical(v, out),
            }
        }
        out.push('}');
    }
}

/// The bytes serde_json escapes in a string.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// A JSON string literal, escaped exactly as serde_json escapes it (`"`, `\\` and control
/// characters; nothing else), written in place: every field of every record passes here.
fn write_str(s: &str, out: &mut String) {
    out.push('"');
    // Most fields need no escape: find out with one pass over a table before going byte by
    // byte.
    if !s.bytes().any(|b| NEEDS_ESCAPE[b as usize]) {
        out.push_str(s);
        out.push('"');
        return;
    }
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escape.is_empty() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// JSON with object keys sorted at every level, whatever order the map keeps them in.
pub fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_canonical(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
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
    fn lines_round_trip_and_unknown_fields_are_ignored() {
        let r = decision();
        assert_eq!(Record::parse(&r.to_line()).unwrap(), r);
        let with_extra = r
            .to_line()
            .replacen('{', r#"{"retained_until":["2030"],"#, 1);
        assert_eq!(Record::parse(&with_extra).unwrap(), r);
    }
}
