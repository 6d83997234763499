//! The `tollgate` binary: parses the command line, loads the policy and arguments, runs the
//! script, prints the result and exits with a code that says how the run ended.
//!
//! It must never start a script before the policy has validated, and never exit 0 for a run
//! that was denied or failed.

mod audit;
mod cgroup;
mod config;
mod control;
mod exit;
mod files;
mod fleet;
mod labels_report;
mod learn;
mod lineage;
mod mcp;
mod output;
mod own;
mod policy;
mod printable;
mod proposals;
mod prove;
mod run;
mod sandbox;
mod shadow;
mod supervisor;
mod worker;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Counting allocator: the engine compares live heap bytes with --max-memory.
#[global_allocator]
static ALLOC: tollgate_script::CountingAlloc = tollgate_script::CountingAlloc;

#[derive(Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Run agent-written scripts under a host owner's Cedar policy"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a Rhai script under a Cedar policy.
    Run(run::RunArgs),
    /// Serve the Model Context Protocol over stdio: run_script, describe_sdk, check_access.
    Mcp(mcp::McpArgs),
    /// Inspect, verify and prove the audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run one script on many hosts over OpenSSH, each under its own pinned policy.
    Fleet(fleet::FleetArgs),
    /// Check a policy file: schema validation with line and column, and warnings.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Explain a decision: which policies bear on a request or a recorded decision, and what
    /// would permit it.
    Explain(policy::ExplainArgs),
    /// What the data labels say needs the host owner: files past retention, pending erasures.
    #[command(subcommand)]
    Labels(labels_report::LabelsCommand),
    /// Make every gate decision on this host a deny, in running runs too, until `thaw`.
    Freeze(control::ControlArgs),
    /// Undo `freeze`.
    Thaw(control::ControlArgs),
    /// List the active runs on this host.
    Runs(control::RunsArgs),
    /// Stop one active run within a second.
    Kill(control::KillArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::main(args),
        Command::Mcp(args) => mcp::main(args),
        Command::Audit(cmd) => audit::main(cmd),
        Command::Fleet(args) => fleet::main(args),
        Command::Policy(cmd) => policy::main(cmd),
        Command::Explain(args) => policy::explain(args),
        Command::Labels(cmd) => labels_report::main(cmd),
        Command::Freeze(args) => control::freeze(args, true),
        Command::Thaw(args) => control::freeze(args, false),
        Command::Runs(args) => control::runs(args),
        Command::Kill(args) => control::kill(args),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand and every flag of every subcommand says what it is for.
    #[test]
    fn every_command_and_flag_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_hide_set() || id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_name() == "help" {
                    continue;
                }
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "tollgate", &mut missing);
        assert!(missing.is_empty(), "no help line: {missing:#?}");
    }

    /// One name for the audit log directory on every subcommand that takes one.
    #[test]
    fn the_audit_log_is_audit_log_everywhere() {
        let cli = super::Cli::command();
        let mut seen = Vec::new();
        let mut stack: Vec<(String, &clap::Command)> = vec![("tollgate".into(), &cli)];
        while let Some((path, cmd)) = stack.pop() {
            for arg in cmd.get_arguments() {
                let long = arg.get_long().unwrap_or_default();
                if arg
                    .get_value_names()
                    .is_some_and(|v| v.iter().any(|n| n == "DIR"))
                    && (long.contains("audit") || long == "dir")
                {
                    seen.push((path.clone(), long.to_owned()));
                }
            }
            for sub in cmd.get_subcommands() {
                stack.push((format!("{path} {}", sub.get_name()), sub));
            }
        }
        assert!(seen.len() >= 8, "{seen:?}");
        for (path, long) in &seen {
            assert_eq!(long, "audit-log", "{path}");
        }
    }
}
