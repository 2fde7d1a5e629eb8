//! What runs inside a worker's window beside its CLI, as its own small binary: the CLI's start
//! and its hooks (see `worker_side`). `team-agent` uses it when it is installed beside it.

fn main() -> std::process::ExitCode {
    team_agent::worker_side::lean_main()
}
