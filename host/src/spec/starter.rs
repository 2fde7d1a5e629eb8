//! The starter team `team-agent init` writes: two scripted workers that run as they are, with
//! comments showing what to change for real providers.

use std::path::{Path, PathBuf};

/// The files of a starter team named `name`, relative to its directory.
pub fn files(name: &str) -> Vec<(PathBuf, String)> {
    let team = format!(
        "---\n\
name: {name}\n\
objective: Show how a team-agent team works, with two scripted workers.\n\
# The leader's CLI: the agent you talk to (claude or codex).\n\
provider: claude\n\
# How to show the workers: auto (tmux-overview when started from tmux, else none), none,\n\
# tmux-overview (windows in the leader's tmux session) or terminal (one window per worker).\n\
display_backend: auto\n\
tick_interval_sec: 2\n\
---\n\
# {name}\n\
\n\
A starter team of two scripted workers (the agent bundled with team-agent: no network, no API\n\
key). Start it with `team-agent up {name}`, send work with `team-agent send alice \"…\"`, and\n\
change `provider:` in agents/*.md to `codex` or `claude` to use real agents.\n"
    );
    let alice = "---\n\
name: alice\n\
role: implementer\n\
provider: scripted\n\
# Settings for the scripted agent: how long it \"works\" on each message.\n\
provider_options:\n  work_ms: 300\n\
---\n\
You implement what the leader asks, then report a result with `report_result`.\n"
        .to_string();
    let bob = "---\n\
name: bob\n\
role: reviewer\n\
provider: scripted\n\
---\n\
You review changes the leader points you to, then report a result with `report_result`.\n"
        .to_string();
    vec![
        (PathBuf::from("TEAM.md"), team),
        (Path::new("agents").join("alice.md"), alice),
        (Path::new("agents").join("bob.md"), bob),
    ]
}
