//! `tollgate run`: validate everything, then run the script.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use clap::Args;
use tollgate_host::{Host, Interrupt};
use tollgate_policy::{Gate, Policies, PolicyError};
use tollgate_script::{ErrorType, Limits, RunError};

use crate::exit;
use crate::output::{self, Format};

#[derive(Args)]
pub struct RunArgs {
    /// The Rhai script to run, or `-` to read it from standard input.
    script: String,
    /// The host owner's Cedar policy file. Validated against the schema before the run.
    #[arg(long, short = 'p')]
    policy: PathBuf,
    /// Script arguments in typed JSON (`{"name": {"stringValue": "x"}}`).
    #[arg(long, short = 'a')]
    args: Option<PathBuf>,
    /// How to print the result.
    #[arg(long, short = 'o', value_enum, default_value = "json")]
    output: Format,
    /// Wall-clock limit for the script, e.g. `30s`, `2m`.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// Limit on the process's live heap while the script runs, e.g. `256MiB`.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    max_memory: usize,
    /// Limit on Rhai operations.
    #[arg(long, default_value_t = Limits::default().max_operations)]
    max_operations: u64,
    /// Limit on the size of the output (result and logs), e.g. `16MiB`.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    max_output: usize,
    /// Limit on the size of one string (and of a file read into one), e.g. `16MiB`.
    #[arg(long, default_value = "16MiB", value_parser = parse_size)]
    max_string_size: usize,
    /// Limit on the number of elements in one array (and items one command returns).
    #[arg(long, default_value_t = Limits::default().max_array_size)]
    max_array_size: usize,
    /// Limit on the number of entries in one map.
    #[arg(long, default_value_t = Limits::default().max_map_size)]
    max_map_size: usize,
    /// Limit on nested function calls.
    #[arg(long, default_value_t = Limits::default().max_call_depth)]
    max_call_depth: usize,
    /// Limit on the nesting of one expression.
    #[arg(long, default_value_t = Limits::default().max_expr_depth)]
    max_expr_depth: usize,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 500ms, 2m)"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let bytes = bytesize::ByteSize::from_str(s).map_err(|e| format!("{e} (e.g. 256MiB)"))?;
    usize::try_from(bytes.as_u64()).map_err(|_| format!("{s} is too large"))
}

impl RunArgs {
    fn limits(&self) -> Limits {
        Limits {
            timeout: self.timeout,
            max_memory: self.max_memory,
            max_operations: self.max_operations,
            max_string_size: self.max_string_size,
            max_array_size: self.max_array_size,
            max_map_size: self.max_map_size,
            max_call_depth: self.max_call_depth,
            max_expr_depth: self.max_expr_depth,
            max_output: self.max_output,
        }
    }
}

pub fn main(args: RunArgs) -> ExitCode {
    let limits = args.limits();
    let prepared = prepare(&args, &limits);
    let (host, script, scope) = match prepared {
        Ok(p) => p,
        Err(e) => {
            output::print(args.output, None, Some(&e), &[]);
            return exit::exit_code(Some(e.error_type));
        }
    };
    let outcome = tollgate_script::run(host, &script, scope, limits);
    output::print(
        args.output,
        outcome.value.as_ref(),
        outcome.error.as_ref(),
        &outcome.logs,
    );
    exit::exit_code(outcome.error.map(|e| e.error_type))
}

/// Everything that must succeed before the script may start: the script text, the
/// arguments, the policy, the principal and the root descriptor.
fn prepare(
    args: &RunArgs,
    limits: &Limits,
) -> Result<(Host, String, rhai::Scope<'static>), RunError> {
    let invalid = |msg: String| RunError::new(ErrorType::Validation, msg);
    let script = read_script(&args.script, limits.max_string_size).map_err(invalid)?;
    let scope = match &args.args {
        Some(path) => {
            let text = read_bounded(path, limits.max_string_size).map_err(invalid)?;
            tollgate_script::parse_args(&text)?
        }
        None => rhai::Scope::new(),
    };
    let (schema, policies) = Policies::load_with_schema(&args.policy).map_err(|e| match e {
        PolicyError::Schema(_) => RunError::new(ErrorType::Internal, e.to_string()),
        _ => invalid(format!("the policy is invalid, so nothing ran:\n{e}")),
    })?;
    let user = current_user().map_err(|e| RunError::new(ErrorType::Internal, e))?;
    let gate = Gate::new(schema, policies, &user);
    let host = Host::new(gate, limits.host(), Interrupt::new())
        .map_err(|e| RunError::new(ErrorType::Internal, e.to_string()))?;
    Ok((host, script, scope))
}

fn read_script(source: &str, max: usize) -> Result<String, String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(max as u64 + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read the script from standard input: {e}"))?;
        if text.len() > max {
            return Err(format!("the script is larger than {max} bytes"));
        }
        return Ok(text);
    }
    read_bounded(Path::new(source), max)
}

fn read_bounded(path: &Path, max: usize) -> Result<String, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut text = String::new();
    file.take(max as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() > max {
        return Err(format!("{} is larger than {max} bytes", path.display()));
    }
    Ok(text)
}

/// The passwd name of the effective uid: the principal, as in Rex.
fn current_user() -> Result<String, String> {
    let uid = nix::unistd::geteuid();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => Ok(user.name),
        Ok(None) => Err(format!(
            "uid {uid} has no passwd entry, so the principal cannot be named; add one"
        )),
        Err(e) => Err(format!("cannot look up uid {uid}: {e}")),
    }
}
