//! Shared by the audit log's integration tests.

use tollgate_audit::Event;

/// A permitted read of `/tmp/f<n>`, as the gate records one.
pub fn decision(n: u64) -> Event {
    Event::Decision {
        principal: "User::\"alice\"".into(),
        action: "file_system::Action::\"read\"".into(),
        resource_type: "file_system::File".into(),
        resource_id: format!("/tmp/f{n}"),
        decision: "permit".into(),
        policies: vec!["p0".into()],
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
    }
}
