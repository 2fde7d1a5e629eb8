//! What team-agent prints to the operator's terminal: nothing a worker wrote reaches it as
//! control sequences, a closed pipe ends a command quietly, and team names with control
//! characters never get that far.

mod support;

use std::io::Read;
use std::process::Stdio;

use support::*;

/// An OSC 52 (writes the terminal's clipboard) and a clear-screen, as a hostile worker would
/// send them.
const HOSTILE: &str = "done \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J for real";

#[test]
fn what_workers_write_reaches_the_terminal_without_control_sequences_and_json_keeps_it_exact() {
    let env = TeamEnv::new();
    env.up_starter();
    let envelope = serde_json::json!({
        "schema_version": "result_envelope_v1", "task_id": "t1", "agent_id": "alice",
        "status": "success", "summary": HOSTILE,
        "changes": [], "tests": [], "risks": [], "artifacts": [], "next_actions": []
    });
    let mut child = env
        .command()
        .env("TEAM_AGENT_ID", "alice")
        .args(["report-result", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(envelope.to_string().as_bytes())
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let sent = env
        .command()
        .env("TEAM_AGENT_ID", "alice")
        .args(["send", "leader", HOSTILE])
        .output()
        .unwrap();
    assert!(sent.status.success(), "{}", stderr(&sent));
    for args in [
        &["results"][..],
        &["inbox", "leader"][..],
        &["inbox", "alice"][..],
    ] {
        let shown = env.run(args);
        assert!(shown.status.success(), "{args:?}: {}", stderr(&shown));
        let text = stdout(&shown);
        assert!(text.contains("done "), "{args:?}: {text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{args:?} printed control characters: {text:?}"
        );
        // JSON keeps the exact text, escaped.
        let (ok, json) = env.json(args);
        assert!(ok);
        assert!(
            json.to_string().contains("\\u001b]52;c;"),
            "{args:?}: {json}"
        );
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    let env = TeamEnv::new();
    env.up_starter();
    // Enough output to fill the pipe: the write after the reader left must fail.
    let body = "x".repeat(4000);
    for i in 0..40 {
        let out = env.run(&["send", "alice", &format!("{i} {body}"), "--no-wait"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    for args in [&["inbox", "alice"][..], &["inbox", "alice", "--json"][..]] {
        let mut child = env
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 1];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // The pipe's reading end is closed here (`| head -c1`).
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn a_team_name_with_control_characters_is_refused_by_validate() {
    let scratch = Scratch::new();
    let team = scratch.workspace().join("team");
    std::fs::create_dir_all(team.join("agents")).unwrap();
    std::fs::write(
        team.join("TEAM.md"),
        "---\nname: \"evil\\u001b[2Jteam\"\n---\nA team.\n",
    )
    .unwrap();
    std::fs::write(
        team.join("agents/alice.md"),
        "---\nname: alice\nrole: worker\nprovider: scripted\n---\nYou work.\n",
    )
    .unwrap();
    let out = scratch.run(bundled_dir().to_str().unwrap(), &["validate", "team"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("/name"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text:?}");
}
