//! `plugins new` writes a crate that builds on its own against the local plugin API, loads in
//! the real host and passes every structural check; its fixture check fails, naming the file,
//! until the author teaches the plugin the screen, and then passes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds a generated crate offline, with the workspace's lock file (so it takes the crates the
/// workspace build already fetched), into a target directory kept across runs.
fn build(crate_dir: &Path) -> PathBuf {
    std::fs::copy(repo().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let target = bundled_dir().parent().unwrap().join("scaffold-test");
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the generated crate does not build:\n{}",
        stderr(&out)
    );
    target.join("debug")
}

fn check(scratch: &Scratch, library: &Path, fixtures: Option<&Path>) -> serde_json::Value {
    let mut args = vec!["plugins", "check", library.to_str().unwrap(), "--json"];
    if let Some(dir) = fixtures {
        args.extend(["--fixtures", dir.to_str().unwrap()]);
    }
    json(&scratch.run("", &args))
}

fn failed(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .cloned()
        .collect()
}

#[test]
fn a_new_provider_builds_passes_the_structural_checks_and_fails_its_fixture_until_taught() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("plugins");
    let api = repo().join("plugin-api");
    let (ok, made) = {
        let out = scratch.run(
            "",
            &[
                "plugins",
                "new",
                "echo-cli",
                "--dir",
                dir.to_str().unwrap(),
                "--api-path",
                api.to_str().unwrap(),
                "--json",
            ],
        );
        (out.status.success(), json(&out))
    };
    assert!(ok, "{made}");
    let root = dir.join("echo-cli");
    assert_eq!(made["library"], "libteam_agent_echo_cli.so");
    for file in [
        "Cargo.toml",
        "README.md",
        "build.rs",
        "src/lib.rs",
        "tests/conformance.rs",
        "fixtures/echo-cli-idle.screen.txt",
        "fixtures/echo-cli-idle.expect.json",
    ] {
        assert!(root.join(file).exists(), "no {file}");
    }
    // A second run never writes over the first.
    let again = scratch.run(
        "",
        &["plugins", "new", "echo-cli", "--dir", dir.to_str().unwrap()],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );

    let library = build(&root).join("libteam_agent_echo_cli.so");
    let fixtures = root.join("fixtures");
    let report = check(&scratch, &library, Some(&fixtures));
    let bad = failed(&report);
    assert_eq!(bad.len(), 1, "only the fixture check fails: {bad:?}");
    assert_eq!(bad[0]["id"], "fixture.echo-cli-idle");
    let detail = bad[0]["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            &fixtures
                .join("echo-cli-idle.expect.json")
                .display()
                .to_string()
        ),
        "{detail}"
    );

    // The author captures the CLI's idle screen and teaches the plugin to read it.
    std::fs::write(
        fixtures.join("echo-cli-idle.screen.txt"),
        "echo-cli 1.0\n\n> \n",
    )
    .unwrap();
    let lib = root.join("src/lib.rs");
    let taught = std::fs::read_to_string(&lib)
        .unwrap()
        .replace(
            "Verdict::by_rule(StartupDecision::Waiting, \"scaffold.startup_not_taught\")",
            "if screen.lines().any(|l| l.trim() == \">\") { Verdict::by_rule(StartupDecision::Ready, \"prompt\") } else { Verdict::by_rule(StartupDecision::Waiting, \"drawing\") }",
        )
        .replace(
            "Verdict::by_rule(ScreenState::Unknown, \"scaffold.screen_not_taught\")",
            "if screen.lines().any(|l| l.trim() == \">\") { Verdict::by_rule(ScreenState::Idle, \"prompt\") } else { Verdict::by_rule(ScreenState::Unknown, \"unknown\") }",
        );
    std::fs::write(&lib, taught).unwrap();
    let library = build(&root).join("libteam_agent_echo_cli.so");
    let report = check(&scratch, &library, Some(&fixtures));
    assert_eq!(report["ok"], true, "{:?}", failed(&report));
}

#[test]
fn a_new_display_builds_and_passes_every_check() {
    let scratch = Scratch::new();
    let api = repo().join("plugin-api");
    let out = scratch.run(
        "",
        &[
            "plugins",
            "new",
            "wall",
            "--kind",
            "display",
            "--dir",
            scratch.path().to_str().unwrap(),
            "--api-path",
            api.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("created the display plugin 'wall'"));
    let library = build(&scratch.path().join("wall")).join("libteam_agent_wall.so");
    let report = check(&scratch, &library, None);
    assert_eq!(report["ok"], true, "{:?}", failed(&report));
}

#[test]
fn a_name_that_cannot_be_a_crate_and_a_wrong_api_path_are_refused() {
    let scratch = Scratch::new();
    let bad = scratch.run("", &["plugins", "new", "My_Agent"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("'My_Agent' cannot name a plugin"),
        "{}",
        stderr(&bad)
    );
    let wrong = scratch.run(
        "",
        &[
            "plugins",
            "new",
            "echo",
            "--api-path",
            repo().join("host").to_str().unwrap(),
        ],
    );
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong).contains("is not the team-agent-plugin-api crate"),
        "{}",
        stderr(&wrong)
    );
    assert!(
        !scratch.workspace().join("echo").exists(),
        "nothing is left behind"
    );
}
