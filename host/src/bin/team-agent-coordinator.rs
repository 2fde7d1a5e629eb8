//! The coordinator as its own small binary: `team-agent` starts it when it is installed beside
//! `team-agent` (it maps in far less code than the whole command line), else runs
//! `team-agent coordinator run` itself.

fn main() -> std::process::ExitCode {
    team_agent::daemon::standalone_main()
}
