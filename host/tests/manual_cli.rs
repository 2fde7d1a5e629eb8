//! `team-agent completions SHELL` and `team-agent man` against the real binary: every shell's
//! script names every command `--help` lists, and `man --out` writes a page for each.

mod support;

use support::*;

/// The visible commands, as the real binary's `--help` lists them.
fn commands_in_help(scratch: &Scratch) -> Vec<String> {
    let help = stdout(&scratch.run("", &["--help"]));
    let listed = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .expect("--help lists commands")
        .to_string();
    listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_for_every_shell_know_every_command_of_help() {
    let scratch = Scratch::new();
    let commands = commands_in_help(&scratch);
    assert!(
        commands.contains(&"restart".to_string()) && commands.len() > 30,
        "{commands:?}"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = scratch.run("", &["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let script = stdout(&out);
        let missing: Vec<&String> = commands
            .iter()
            .filter(|c| !script.contains(c.as_str()))
            .collect();
        assert!(missing.is_empty(), "{shell} completions lack {missing:?}");
    }
    let out = scratch.run("", &["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(
        stderr(&out).contains("bash"),
        "names the shells: {}",
        stderr(&out)
    );
}

#[test]
fn man_writes_a_page_for_every_command_and_prints_the_main_one() {
    let scratch = Scratch::new();
    let dir = scratch.path().join("man1");
    let out = scratch.run("", &["man", "--out", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = json(&out);
    assert_eq!(answer["ok"], true);
    for cmd in commands_in_help(&scratch) {
        let page = dir.join(format!("team-agent-{cmd}.1"));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(text.contains(".SH SYNOPSIS"), "{}", page.display());
    }
    assert!(dir.join("team-agent.1").is_file());
    assert!(dir.join("team-agent-plugins-check.1").is_file());
    let pages = answer["pages"].as_array().unwrap().len();
    assert_eq!(pages, std::fs::read_dir(&dir).unwrap().count());

    let main = scratch.run("", &["man"]);
    assert!(main.status.success());
    let text = stdout(&main);
    assert!(
        text.contains(".TH team-agent 1") && text.contains("completions"),
        "{}",
        &text[..200.min(text.len())]
    );

    let file = scratch.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let refused = scratch.run("", &["man", "--out", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("a-file"), "{}", stderr(&refused));
}
