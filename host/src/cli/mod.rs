/*! The command line: clap definitions (each command's help, examples and `--json` shape live
with it), dispatch, and the rendering of answers and errors. Commands are thin: they parse, call
the module that owns the work, and build a [`Reply`].
*/

mod output;
mod plugins_cmd;

pub use output::{Reply, UserError};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

const ABOUT: &str =
    "Lead a team of AI coding-agent CLIs (Codex, Claude Code, …) from one leader agent.";

const EXAMPLES: &str = "\
Examples:
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
    match cli.command {
        Command::Plugins(command) => plugins_cmd::run(command, &cli.workspace),
    }
}
