/*! `ta-standin`: scripted stand-ins for the `codex` and `claude` CLIs, for team-agent's tests only.

The program is installed under the names of the real CLIs (tests symlink `codex` and `claude` to
it in a directory put first on `PATH`); the name it was started under picks the persona. Each
persona draws the real screens of its CLI (as captured in the plugins' fixtures), honours the
real command-line flags, takes typed keys and bracketed pastes, and writes real-format session
files under `$HOME`, so the real provider plugins classify, capture and resume it. Nothing goes
over the network: a turn "works" for a moment and answers.

Test hooks, read from the environment:
- `TA_STANDIN_TRUST=1`: show the CLI's folder trust dialog at start, until the folder is trusted
  under this `HOME` (the answer is saved where the real CLI saves it);
- `TA_STANDIN_WORK_MS`: how long a turn works (default 400 ms).

Lines of a message starting with `@scripted` are directives, as for the scripted agent:
`@scripted report STATUS SUMMARY…` reports a result with `$TEAM_AGENT_BIN report-result -`, and
`@scripted sleep SECONDS` keeps the turn working that long.
*/

mod claude;
mod codex;
mod directives;
mod ids;
mod screen;
mod session_file;
mod turn;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args();
    let program = args.next().unwrap_or_default();
    let persona = Path::new(&program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<String> = args.collect();
    match persona.as_str() {
        "claude" => claude::run(&args),
        "codex" => codex::run(&args),
        other => {
            eprintln!(
                "ta-standin: started as {other:?}; run it through a link named `claude` or `codex`"
            );
            ExitCode::from(2)
        }
    }
}
