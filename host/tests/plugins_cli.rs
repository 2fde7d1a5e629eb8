//! `team-agent plugins list | check | probe` against the real binary and real plugin libraries.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::*;

fn copy_plugin(from: &Path, to: &Path, mode: u32) {
    std::fs::copy(from, to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn rows(output: &std::process::Output) -> Vec<serde_json::Value> {
    json(output)["plugins"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [serde_json::Value], file: &str) -> &'a serde_json::Value {
    rows.iter()
        .find(|r| r["path"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("{file} not listed in {rows:?}"))
}

#[test]
fn list_shows_the_bundled_scripted_provider_and_none_display_as_ok() {
    let scratch = Scratch::new();
    let out = scratch.run(
        bundled_dir().to_str().unwrap(),
        &["plugins", "list", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = rows(&out);
    let scripted = row(&rows, "libteam_agent_scripted.so");
    assert_eq!(
        (scripted["kind"].as_str(), scripted["status"].as_str()),
        (Some("provider"), Some("ok"))
    );
    assert_eq!(scripted["api_version"], 1);
    let none = row(&rows, "libteam_agent_display_none.so");
    assert_eq!(
        (none["name"].as_str(), none["status"].as_str()),
        (Some("none"), Some("ok"))
    );
}

#[test]
fn check_passes_on_every_bundled_plugin() {
    let scratch = Scratch::new();
    for lib in ["libteam_agent_scripted.so", "libteam_agent_display_none.so"] {
        let path = bundled_dir().join(lib);
        let out = scratch.run("", &["plugins", "check", path.to_str().unwrap(), "--json"]);
        let report = json(&out);
        assert!(
            out.status.success() && report["ok"] == true,
            "{lib}: {}",
            stdout(&out)
        );
        assert!(report["checks"].as_array().unwrap().len() >= 4);
    }
}

/// The plugins team-agent ships, as built next to the binary.
const BUNDLED: [&str; 7] = [
    "libteam_agent_scripted.so",
    "libteam_agent_gemini.so",
    "libteam_agent_display_none.so",
    "libteam_agent_codex.so",
    "libteam_agent_claude.so",
    "libteam_agent_display_tmux_overview.so",
    "libteam_agent_display_terminal.so",
];

/// A `PATH` of one directory holding only `tmux` and `sh` (links to the machine's own): what a
/// headless server has, with no terminal emulator.
fn headless_path(scratch: &Scratch) -> PathBuf {
    let bin = scratch.path().join("headless-bin");
    std::fs::create_dir(&bin).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for program in ["tmux", "sh"] {
        if let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
        {
            std::os::unix::fs::symlink(found, bin.join(program)).unwrap();
        }
    }
    bin
}

#[test]
fn every_bundled_plugin_passes_check_on_a_headless_machine() {
    let scratch = Scratch::new();
    let bin = headless_path(&scratch);
    for lib in BUNDLED {
        let path = bundled_dir().join(lib);
        let out = scratch
            .command("")
            .args(["plugins", "check", path.to_str().unwrap(), "--json"])
            .env("PATH", &bin)
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("TERMINAL")
            .output()
            .expect("team-agent runs");
        let report = json(&out);
        assert!(
            out.status.success() && report["ok"] == true,
            "{lib}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn check_fails_a_display_whose_close_leaves_what_open_created() {
    let scratch = Scratch::new();
    let lib = broken_plugins_dir().join("libteam_agent_asymmetric_display.so");
    let out = scratch.run("", &["plugins", "check", lib.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let report = json(&out);
    let checks = report["checks"].as_array().unwrap();
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["display.plan_symmetry"], "{}", stdout(&out));
    let symmetry = checks
        .iter()
        .find(|c| c["id"] == "display.plan_symmetry")
        .unwrap();
    let detail = symmetry["detail"].as_str().unwrap();
    assert!(
        detail.contains("close leaves") && detail.contains("window:ta-asymmetric"),
        "{detail}"
    );
}

#[test]
fn check_by_name_finds_the_installed_plugin() {
    let scratch = Scratch::new();
    let out = scratch.run(
        bundled_dir().to_str().unwrap(),
        &["plugins", "check", "scripted"],
    );
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("fixture.scripted-trust-prompt"));
}

#[test]
fn check_refuses_files_that_are_not_usable_plugins_with_one_clear_line_each() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("plugins");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("libteam_agent_text.so"), "not a library\n").unwrap();
    let zlib = [
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/lib/x86_64-linux-gnu/libz.so.1",
        "/usr/lib/libz.so.1",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists());
    if let Some(z) = zlib {
        copy_plugin(Path::new(z), &dir.join("libteam_agent_zlib.so"), 0o644);
    }
    copy_plugin(
        &bundled_dir().join("libteam_agent_scripted.so"),
        &dir.join("libteam_agent_open.so"),
        0o666,
    );
    let cases = [
        ("libteam_agent_text.so", "not a shared library"),
        ("libteam_agent_zlib.so", "not a team-agent plugin"),
        ("libteam_agent_open.so", "world-writable"),
        ("libteam_agent_missing.so", "no such file"),
    ];
    for (file, says) in cases {
        if file.contains("zlib") && zlib.is_none() {
            continue;
        }
        let path = dir.join(file);
        let out = scratch.run("", &["plugins", "check", path.to_str().unwrap()]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{file}: {text}");
        let line = text
            .lines()
            .find(|l| l.contains("abi.load"))
            .unwrap_or_default();
        assert!(
            line.contains(path.to_str().unwrap()) && line.contains(says),
            "{file}: {text}"
        );
        assert!(
            !text.contains("panicked at") && !stderr(&out).contains("panicked"),
            "{file}: {text}"
        );
    }
}

#[test]
fn a_plugin_built_against_another_api_version_is_refused_naming_both_versions() {
    let scratch = Scratch::new();
    let lib = broken_plugins_dir().join("libteam_agent_wrong_api.so");
    let out = scratch.run("", &["plugins", "check", lib.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    let version = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "abi.version")
        .unwrap();
    let detail = version["detail"].as_str().unwrap();
    assert!(
        detail.contains("999") && detail.contains("version 1") && detail.contains("wrong_api"),
        "{detail}"
    );
    let listed = scratch.run(
        broken_plugins_dir().to_str().unwrap(),
        &["plugins", "list", "--json"],
    );
    assert_eq!(
        row(&rows(&listed), "libteam_agent_wrong_api.so")["status"],
        "incompatible"
    );
}

#[test]
fn a_panicking_plugin_is_contained_reported_as_failed_checks_and_listed_as_faulted() {
    let scratch = Scratch::new();
    let lib = broken_plugins_dir().join("libteam_agent_panicky.so");
    let out = scratch.run("", &["plugins", "check", lib.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the process exits normally with 1"
    );
    let report = json(&out);
    let failed: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    for id in [
        "manifest.valid",
        "provider.launch_plan.fresh",
        "provider.no_panic.garbage",
        "provider.submit_keys",
    ] {
        assert!(failed.contains(&id), "{id} not reported failed: {failed:?}");
    }
    assert!(
        stdout(&out).contains("panicky classify_screen"),
        "the panic message is reported"
    );

    let path = format!(
        "{}:{}",
        broken_plugins_dir().display(),
        bundled_dir().display()
    );
    let listed = scratch.run(&path, &["plugins", "list", "--json"]);
    assert!(listed.status.success());
    let rows = rows(&listed);
    assert_eq!(row(&rows, "libteam_agent_panicky.so")["status"], "faulted");
    assert_eq!(
        row(&rows, "libteam_agent_scripted.so")["status"],
        "ok",
        "the others keep working"
    );
}

#[test]
fn a_world_writable_directory_is_refused_unless_sticky_and_group_writable_is_fine() {
    let scratch = Scratch::new();
    let lib = bundled_dir().join("libteam_agent_scripted.so");
    let open = scratch.path().join("open");
    let sticky = scratch.path().join("sticky");
    let group = scratch.path().join("group");
    for (dir, mode) in [(&open, 0o777), (&sticky, 0o1777), (&group, 0o775)] {
        std::fs::create_dir(dir).unwrap();
        copy_plugin(&lib, &dir.join("libteam_agent_scripted.so"), 0o664);
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let check = |dir: &Path| {
        scratch.run(
            "",
            &[
                "plugins",
                "check",
                dir.join("libteam_agent_scripted.so").to_str().unwrap(),
            ],
        )
    };
    let refused = check(&open);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).contains("world-writable without the sticky bit"),
        "{}",
        stdout(&refused)
    );
    assert!(
        check(&sticky).status.success(),
        "{}",
        stdout(&check(&sticky))
    );
    assert!(check(&group).status.success(), "{}", stdout(&check(&group)));
    // Deeper below a world-writable directory is no safer: `ww/sub` could be renamed away.
    let parent = scratch.path().join("ww");
    let sub = parent.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    copy_plugin(&lib, &sub.join("libteam_agent_scripted.so"), 0o644);
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o777)).unwrap();
    let refused = check(&sub);
    assert_eq!(refused.status.code(), Some(1));
    let text = stdout(&refused);
    assert!(
        text.contains("world-writable without the sticky bit") && text.contains("/ww "),
        "{text}"
    );
}

#[test]
fn the_same_file_through_two_paths_is_one_plugin_and_a_second_claimant_of_a_name_is_reported() {
    let scratch = Scratch::new();
    let a = scratch.path().join("a");
    std::fs::create_dir(&a).unwrap();
    copy_plugin(
        &bundled_dir().join("libteam_agent_scripted.so"),
        &a.join("libteam_agent_scripted.so"),
        0o644,
    );
    std::os::unix::fs::symlink(&a, scratch.path().join("b")).unwrap();
    let path = format!("{}:{}", a.display(), scratch.path().join("b").display());
    let listed = rows(&scratch.run(&path, &["plugins", "list", "--json"]));
    let scripted: Vec<_> = listed.iter().filter(|r| r["name"] == "scripted").collect();
    assert_eq!(scripted.len(), 1, "{listed:?}");

    let c = scratch.path().join("c");
    std::fs::create_dir(&c).unwrap();
    copy_plugin(
        &bundled_dir().join("libteam_agent_scripted.so"),
        &c.join("libteam_agent_scripted_copy.so"),
        0o644,
    );
    let path = format!("{}:{}", a.display(), c.display());
    let rows = rows(&scratch.run(&path, &["plugins", "list", "--json"]));
    let copy = row(&rows, "libteam_agent_scripted_copy.so");
    assert_eq!(copy["status"], "invalid");
    let error = copy["error"].as_str().unwrap();
    assert!(
        error.contains("already claimed by") && error.contains(a.to_str().unwrap()),
        "{error}"
    );
}

#[test]
fn the_current_directory_is_never_searched() {
    let scratch = Scratch::new();
    copy_plugin(
        &bundled_dir().join("libteam_agent_scripted.so"),
        &scratch.workspace().join("libteam_agent_scripted.so"),
        0o644,
    );
    let rows = rows(&scratch.run(".::relative", &["plugins", "list", "--json"]));
    assert!(
        !rows.iter().any(|r| r["path"]
            .as_str()
            .unwrap()
            .starts_with(scratch.workspace().to_str().unwrap())),
        "{rows:?}"
    );
}

#[test]
fn probe_explains_a_screen_and_a_transcript() {
    let scratch = Scratch::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/scripted/fixtures");
    let screen = fixtures.join("scripted-trust-prompt.screen.txt");
    let out = scratch.run(
        bundled_dir().to_str().unwrap(),
        &[
            "plugins",
            "probe",
            "scripted",
            "--screen",
            screen.to_str().unwrap(),
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = json(&out);
    assert_eq!(answer["startup"]["decision"], "answer");
    assert_eq!(answer["startup"]["keys"], serde_json::json!(["Enter"]));
    assert_eq!(answer["screen"]["state"], "trust_prompt");
    assert_eq!(answer["screen"]["rule"], "trust_dialog");

    let transcript = fixtures.join("scripted-turn-working.transcript.jsonl");
    let out = scratch.run(
        bundled_dir().to_str().unwrap(),
        &[
            "plugins",
            "probe",
            "scripted",
            "--transcript",
            transcript.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(json(&out)["turn_state"], "working");

    let out = scratch.run(
        bundled_dir().to_str().unwrap(),
        &["plugins", "probe", "nosuch", "--screen", "-"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no provider plugin named 'nosuch'")
            && stderr(&out).contains("scripted")
    );
}

#[test]
fn list_in_a_workspace_shows_its_own_plugins_without_being_told_where_it_is() {
    let scratch = Scratch::new();
    let own = scratch.workspace().join(".team/plugins");
    std::fs::create_dir_all(&own).unwrap();
    copy_plugin(
        &bundled_dir().join("libteam_agent_scripted.so"),
        &own.join("libteam_agent_scripted.so"),
        0o644,
    );
    // No --workspace: the current directory is the workspace, as for every other command.
    let out = scratch.run("", &["plugins", "list", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = rows(&out);
    let found = row(&listed, "libteam_agent_scripted.so");
    assert!(
        found["path"].as_str().unwrap().contains(".team/plugins"),
        "{found}"
    );
}
