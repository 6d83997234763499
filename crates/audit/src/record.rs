//! Audit records: what is written, one canonical JSON object per line.
//!
//! Canonical means: object keys sorted, no whitespace, serde_json's number and string
//! encoding. The exact bytes of a line are what the Merkle tree hashes, so a record is
//! serialized once, by [`Record::to_line`], and never re-encoded by a reader. Readers ignore
//! fields they do not know, so later versions can add fields.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One line of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    },
    /// A run ended.
    RunEnd {
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        duration_ms: u64,
        permits: u64,
        denies: u64,
    },
    /// A writer found a torn final line (a writer died mid-write) and cut it off.
    Repair {
        torn_bytes: u64,
        torn_sha256: String,
    },
    /// The segment ends here; the log continues in `next`.
    Rotate { next: String },
}

impl Record {
    /// The canonical line, without the newline.
    pub fn to_line(&self) -> Result<String, serde_json::Error> {
        let value = serde_json::to_value(self)?;
        let mut out = String::with_capacity(256);
        write_canonical(&value, &mut out);
        Ok(out)
    }

    /// Parses a line; unknown fields are ignored.
    pub fn parse(line: &str) -> Result<Record, serde_json::Error> {
        serde_json::from_str(line)
    }
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
                write_canonical(&Value::String((*k).clone()), out);
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
            },
        }
    }

    #[test]
    fn lines_have_sorted_keys_and_no_whitespace() {
        let line = decision().to_line().unwrap();
        assert!(line.starts_with(r#"{"action":"file_system::Action::\"read\"","decision":"permit","host":"h","kind":"decision""#), "{line}");
        assert!(!line.contains(": ") && !line.contains('\n'));
    }

    #[test]
    fn lines_round_trip_and_unknown_fields_are_ignored() {
        let r = decision();
        assert_eq!(Record::parse(&r.to_line().unwrap()).unwrap(), r);
        let with_extra = r
            .to_line()
            .unwrap()
            .replacen('{', r#"{"purpose":"incident","#, 1);
        assert_eq!(Record::parse(&with_extra).unwrap(), r);
    }
}
