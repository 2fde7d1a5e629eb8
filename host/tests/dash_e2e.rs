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
