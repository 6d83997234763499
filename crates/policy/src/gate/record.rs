//! Where the gate writes each decision before it takes effect.

use super::*;

/// Where the gate writes each decision before it takes effect (the audit trail).
pub trait DecisionLog {
    /// Records the decisions of one request, in order, all or none. An error means they were
    /// not recorded, and the gate denies.
    fn record(&self, entries: &[DecisionEntry<'_>]) -> Result<(), String>;
}

/// What a gate writes its decisions to. Every gate has one: there is no gate that decides
/// without saying whether its decisions are recorded.
pub enum Recorder {
    /// Each decision is recorded here before it is answered; one that cannot be is a deny.
    Log(Box<dyn DecisionLog>),
    /// Nothing is recorded: a run with `--no-audit`, or a tool that answers questions about
    /// a policy without running anything (`policy test`, `explain`).
    Unaudited,
}

/// One decision, as handed to the [`DecisionLog`].
#[derive(Debug)]
pub struct DecisionEntry<'a> {
    pub principal: &'a str,
    /// Who the principal acts for, and why.
    pub caller: &'a Caller,
    pub action: Action,
    pub resource: &'a Resource,
    pub permitted: bool,
    /// Names of the policies that determined it.
    pub policies: Vec<String>,
    /// For a denial, the message the caller will see.
    pub error: Option<String>,
    /// The data labels of a labelled file or directory.
    pub labels: Option<Arc<Labels>>,
    /// A question that ran nothing (see [`Gate::probe`]), not a request of an operation.
    pub probe: bool,
    /// In a shadow run, the candidate policy's decision where it differs from this one.
    pub shadow: Option<ShadowVerdict>,
    /// For a sink (see [`crate::action::SINKS`]) in a run that has read labelled data: the
    /// labelled paths read so far, which may flow there (the lineage of the data).
    pub sources: Option<Arc<[crate::taint::Source]>>,
    /// The operation's target, where it is another resource than this decision's (`cat` of
    /// a file decided on its directory first).
    pub target: Option<&'a Resource>,
    /// The SDK call the decision serves (`cat`, `RcFileHandle.read`), as the SDK table
    /// names it; none for what the runner asks itself (the release of the run's answer).
    pub call: Option<&'static str>,
}
