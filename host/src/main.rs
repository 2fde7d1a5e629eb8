fn main() -> std::process::ExitCode {
    team_agent::cli::main()
}
