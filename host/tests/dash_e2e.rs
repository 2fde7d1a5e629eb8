//! `team-agent dash` in a real terminal: started in a pane of a tmux server of the test's own
//! (under the test's socket directory, never the default server), driven with send-keys and read
//! with capture-pane while a scripted team runs. It answers an approval with a visible choice and
//! sends a message, both landing in the workers' transcripts; without a terminal it refuses.

mod support;

use std::process::Command;

use support::*;

/// A tmux server of the test's own, in the test's socket directory, one pane running `dash`.
struct DashPane {
    socket: std::path::PathBuf,
}

impl DashPane {
    fn start(env: &TeamEnv) -> Self {
        let socket = env.tmux_dir().join("dash-test");
        let path = format!(
            "{}:{}",
            bundled_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let command = format!(
            "cd '{ws}' && env HOME='{home}' TEAM_AGENT_PLUGIN_PATH='{plugins}' TMUX_TMPDIR='{tmux}' PATH='{path}' '{bin}' dash; echo DASH-EXITED $?; sleep 60",
            ws = env.workspace().display(),
            home = env.home().display(),
            plugins = bundled_dir().display(),
            tmux = env.tmux_dir().display(),
            bin = team_agent_bin().display(),
        );
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&socket)
            .args([
                "new-session",
                "-d",
                "-s",
                "dash",
                "-x",
                "80",
                "-y",
                "24",
                &command,
            ])
            .env_remove("TMUX")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        Self { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        stdout(&out)
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "dash"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "dash"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn typed(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "dash", "-l", text]);
    }

    fn wait_for(&self, seconds: u64, text: &str) -> bool {
        wait_until(seconds, || self.screen().contains(text))
    }
}

impl Drop for DashPane {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

fn transcript(env: &TeamEnv, agent: &str) -> String {
    std::fs::read_to_string(env.transcript(&env.session_of(agent))).unwrap_or_default()
}

#[test]
fn the_dashboard_shows_the_team_answers_an_approval_and_sends_a_message() {
    let env = TeamEnv::new();
    env.up_starter();
    let dash = DashPane::start(&env);
    assert!(
        dash.wait_for(20, "bob") && dash.screen().contains("alice"),
        "the dashboard does not show both workers:\n{}",
        dash.screen()
    );
    assert!(
        dash.screen().contains("coordinator running"),
        "{}",
        dash.screen()
    );

    // An approval on alice's screen shows in her row; `a` offers its choices, `3` is No.
    assert!(
        env.json(&["send", "alice", "@scripted approval shell.rm"])
            .0
    );
    assert!(
        dash.wait_for(20, "awaiting_approval"),
        "alice's approval never showed:\n{}",
        dash.screen()
    );
    assert!(
        dash.wait_for(10, "alice's screen: Allow tool call: shell.rm?"),
        "{}",
        dash.screen()
    );
    dash.keys(&["a"]);
    assert!(
        dash.wait_for(10, "answer alice: 1 Yes"),
        "no choices offered:\n{}",
        dash.screen()
    );
    assert!(dash.screen().contains("3 No"), "{}", dash.screen());
    dash.keys(&["3"]);
    assert!(
        wait_until(15, || transcript(&env, "alice")
            .contains("\"choice\":\"No\"")),
        "the answer never reached alice: {}\n{}",
        transcript(&env, "alice"),
        dash.screen()
    );
    assert!(dash.wait_for(10, "answered alice: No"), "{}", dash.screen());

    // `s` on bob: an input line; Enter sends through `team-agent send`.
    dash.keys(&["Down", "s"]);
    assert!(
        dash.wait_for(10, "send to bob"),
        "no input line:\n{}",
        dash.screen()
    );
    dash.typed("hello from the dashboard");
    dash.keys(&["Enter"]);
    assert!(
        wait_until(20, || transcript(&env, "bob")
            .contains("hello from the dashboard")),
        "the message never reached bob:\n{}",
        dash.screen()
    );
    assert!(dash.wait_for(10, "→ bob: submitted"), "{}", dash.screen());

    // Without an approval prompt `a` is refused, saying why.
    dash.keys(&["a"]);
    assert!(
        dash.wait_for(10, "bob is not waiting for an approval"),
        "{}",
        dash.screen()
    );

    dash.keys(&["q"]);
    assert!(
        dash.wait_for(10, "DASH-EXITED 0"),
        "q did not quit:\n{}",
        dash.screen()
    );
}

/// The session of `agent` in `team`, from `status --team TEAM`.
fn session_in(env: &TeamEnv, team: &str, agent: &str) -> String {
    let (ok, status) = env.json(&["status", "--team", team]);
    assert!(ok, "{status}");
    status["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == agent)
        .and_then(|a| a["session_id"].as_str())
        .unwrap_or_else(|| panic!("no session of {agent} in {status}"))
        .to_string()
}

#[test]
fn with_two_teams_it_shows_both_and_a_message_goes_to_the_selected_workers_team_only() {
    let env = TeamEnv::new();
    for team in ["alpha", "beta"] {
        assert!(env.run(&["init", team]).status.success());
        let (ok, up) = env.json(&["up", team]);
        assert!(ok, "{up}");
    }
    let dash = DashPane::start(&env);
    assert!(
        dash.wait_for(20, "beta/bob") && dash.screen().contains("alpha/alice"),
        "the dashboard does not show both teams:\n{}",
        dash.screen()
    );
    assert!(
        dash.screen().contains("team alpha, beta"),
        "{}",
        dash.screen()
    );
    // alpha/alice, alpha/bob, beta/alice, beta/bob: the last one.
    dash.keys(&["Down", "Down", "Down", "s"]);
    assert!(dash.wait_for(10, "send to bob"), "{}", dash.screen());
    dash.typed("only for beta");
    dash.keys(&["Enter"]);
    let beta_bob = env.transcript(&session_in(&env, "beta", "bob"));
    assert!(
        wait_until(20, || std::fs::read_to_string(&beta_bob)
            .unwrap_or_default()
            .contains("only for beta")),
        "beta's bob never got it:\n{}",
        dash.screen()
    );
    let alpha_bob = env.transcript(&session_in(&env, "alpha", "bob"));
    assert!(
        !std::fs::read_to_string(alpha_bob)
            .unwrap_or_default()
            .contains("only for beta")
    );
    for team in ["alpha", "beta"] {
        assert!(env.json(&["shutdown", "--team", team]).0);
    }
}

#[test]
fn without_a_terminal_dash_refuses_and_points_at_status() {
    let env = TeamEnv::new();
    let out = env.run(&["dash"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("dash needs a terminal"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("team-agent status"),
        "{}",
        stderr(&out)
    );
}
