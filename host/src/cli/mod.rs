/*! The command line: clap definitions (each command's help, examples and `--json` shape live
with it), dispatch, and the rendering of answers and errors. Commands are thin: they parse, call
the module that owns the work, and build a [`Reply`].
*/

mod doctor_cmd;
mod output;
mod plugins_cmd;
mod spec_cmd;

pub use output::{Reply, UserError};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const ABOUT: &str =
    "Lead a team of AI coding-agent CLIs (Codex, Claude Code, …) from one leader agent.";

const EXAMPLES: &str = "\
Examples:
  team-agent init my-team                 write a starter team (two scripted workers)
  team-agent validate my-team             check a team directory or team.spec.yaml
  team-agent plugins list                 which provider and display plugins are installed
  team-agent plugins check PATH           run the conformance suite on a plugin library
  team-agent plugins probe scripted --screen pane.txt
                                          why does team-agent think this screen is busy?

Every command takes --json (a stable JSON object on stdout) and --workspace DIR (default: the
current directory). Exit codes: 0 success, 1 refused or failed, 2 usage.";

#[derive(Debug, Parser)]
#[command(name = "team-agent", version, about = ABOUT, after_help = EXAMPLES)]
pub struct Cli {
    /// The workspace the team works in (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,

    /// Answer with one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starter team: TEAM.md and two scripted workers in agents/.
    #[command(after_help = "Example:\n  team-agent init my-team && team-agent validate my-team")]
    Init {
        /// The team directory to create (default: ./team).
        dir: Option<PathBuf>,
        /// Overwrite the starter files in a directory that is not empty.
        #[arg(long)]
        force: bool,
    },

    /// Check a team directory (TEAM.md + agents/*.md) or a team.spec.yaml; report every error.
    ///
    /// JSON: {"ok","errors":[{"file","path","line","message"}],"warnings":[…],"team","agents":[…]}.
    /// Exit 1 on any error.
    #[command(
        after_help = "Examples:\n  team-agent validate my-team\n  team-agent validate team.spec.yaml --json"
    )]
    Validate {
        /// A team directory or a spec file (YAML or JSON).
        path: PathBuf,
    },

    /// Compile a team directory into a full spec that stands alone.
    #[command(after_help = "Example:\n  team-agent compile my-team --out team.spec.yaml")]
    Compile {
        /// The team directory.
        dir: PathBuf,
        /// Where to write the spec (default: DIR/team.spec.yaml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Check a result envelope (result_envelope_v1) from a file or stdin (`-`).
    #[command(
        name = "validate-result",
        after_help = "Example:\n  team-agent validate-result result.json"
    )]
    ValidateResult {
        /// The envelope file, or `-` for stdin.
        file: PathBuf,
    },

    /// Check the environment and the workspace, and explain how to fix what is wrong.
    #[command(
        after_help = "Examples:\n  team-agent doctor\n  team-agent doctor --restore-state --confirm"
    )]
    Doctor(doctor_cmd::DoctorArgs),

    /// List, check and probe provider and display plugins.
    #[command(subcommand)]
    Plugins(plugins_cmd::PluginsCommand),
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let code = match run(cli) {
        Ok(reply) => output::print_reply(&reply, json),
        Err(error) => output::print_error(&error, json),
    };
    ExitCode::from(code)
}

fn run(cli: Cli) -> anyhow::Result<Reply> {
    let workspace = || crate::workspace::Workspace::resolve(cli.workspace.as_deref());
    match cli.command {
        Command::Init { dir, force } => spec_cmd::init(dir.as_deref(), force),
        Command::Validate { path } => spec_cmd::validate(&path, &workspace()?),
        Command::Compile { dir, out } => spec_cmd::compile(&dir, out.as_deref(), &workspace()?),
        Command::ValidateResult { file } => spec_cmd::validate_result(&file),
        Command::Doctor(args) => doctor_cmd::run(&args, &workspace()?),
        Command::Plugins(command) => plugins_cmd::run(command, &cli.workspace),
    }
}
