//! `tollgate policy check FILE`: the validation a run makes before it starts, plus warnings
//! about grants broader than their writer likely meant.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use tollgate_policy::Policies;
use tollgate_script::ErrorType;

use crate::exit;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file against the schema (errors name line and column) and warn
    /// about over-broad grants.
    Check {
        file: PathBuf,
        /// Fail (exit 3) on warnings too.
        #[arg(long)]
        strict: bool,
    },
}

pub fn main(cmd: PolicyCommand) -> ExitCode {
    let PolicyCommand::Check { file, strict } = cmd;
    let (schema, policies) = match Policies::load_with_schema(&file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return exit::exit_code(Some(ErrorType::Validation));
        }
    };
    let warnings = tollgate_policy::lint(&policies, &schema);
    for w in &warnings {
        println!("warning: policy {}: {}", w.policy, w.message);
    }
    println!(
        "{}: {} policies, valid against the schema, {} warnings",
        file.display(),
        policies.len(),
        warnings.len()
    );
    if strict && !warnings.is_empty() {
        return exit::exit_code(Some(ErrorType::Validation));
    }
    ExitCode::SUCCESS
}
