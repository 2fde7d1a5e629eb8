/*!
`fake-model`: the scripted model server on its own, for manual runs and the benchmark. Prints
`listening on http://127.0.0.1:PORT`, then each request (once answered) and each refused egress
attempt as one JSON line, until it is killed.
*/

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use team_agent_fake_model::{FakeModel, Scenario};

/// Plays the model for Claude Code (Anthropic Messages) and Codex (OpenAI Responses).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The scenario, as JSON (see the crate documentation); without it every turn gets "OK.".
    #[arg(long, value_name = "FILE.json")]
    scenario: Option<PathBuf>,
    /// The port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = match args.scenario.as_deref().map(Scenario::load).transpose() {
        Ok(scenario) => scenario.unwrap_or_default(),
        Err(error) => {
            eprintln!("fake-model: {error}");
            return ExitCode::from(2);
        }
    };
    let model = match FakeModel::start_on(args.port, scenario) {
        Ok(model) => model,
        Err(error) => {
            eprintln!(
                "fake-model: cannot listen on 127.0.0.1:{}: {error}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    // Subscribed before the address is out, so no request goes unprinted.
    let records = model.subscribe();
    println!("listening on {}", model.url());
    for record in records {
        match serde_json::to_string(&record) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("fake-model: cannot print a record: {error}"),
        }
    }
    ExitCode::SUCCESS
}
