//! `team-agent init | validate | compile | validate-result` against the real binary, and the
//! loader against hostile input.

mod support;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use serde_json::Value;
use support::*;

fn plugins() -> String {
    bundled_dir().display().to_string()
}

fn errors(out: &std::process::Output) -> Vec<(String, String, String)> {
    json(out)["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors array: {}", stdout(out)))
        .iter()
        .map(|e| {
            let file = Path::new(e["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (
                file,
                e["path"].as_str().unwrap().to_string(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn has(found: &[(String, String, String)], file: &str, path: &str, words: &str) -> bool {
    found
        .iter()
        .any(|(f, p, m)| f == file && p == path && m.contains(words))
}

#[test]
fn init_writes_a_starter_team_that_validates_and_compiles_into_a_valid_spec() {
    let s = Scratch::new();
    assert!(s.run(&plugins(), &["init", "demo-team"]).status.success());
    let out = s.run(&plugins(), &["validate", "demo-team", "--json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    let answer = json(&out);
    assert_eq!(answer["agents"].as_array().unwrap().len(), 2);
    assert!(
        answer["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["provider"] == "scripted")
    );
    let out = s.run(
        &plugins(),
        &["compile", "demo-team", "--out", "compiled/spec.yaml"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = s.run(&plugins(), &["validate", "compiled/spec.yaml", "--json"]);
    assert!(out.status.success(), "{}", stdout(&out));
    assert_eq!(
        json(&out)["workspace"],
        Value::String(s.workspace().canonicalize().unwrap().display().to_string())
    );
    let again = s.run(&plugins(), &["init", "demo-team"]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "init refuses a directory that is not empty"
    );
    assert!(stderr(&again).contains("--force"));
}

#[test]
fn validate_names_every_error_of_a_broken_team_directory_with_file_and_path() {
    let s = Scratch::new();
    assert!(s.run(&plugins(), &["init", "t"]).status.success());
    let agents = s.workspace().join("t/agents");
    std::fs::write(
        agents.join("carol.md"),
        "---\nname: alice\nrole: tester\nprovder: scripted\npermission_mode: trustd\n---\n",
    )
    .unwrap();
    std::fs::write(
        agents.join("dave.md"),
        "---\nname: dave\nrole: x\nprovider: scriptd\n---\nbody\n",
    )
    .unwrap();
    std::fs::write(
        agents.join("eve.md"),
        "---\nname: eve\nrole: [unclosed\n---\n",
    )
    .unwrap();
    std::fs::write(agents.join("frank.md"), "no front matter here\n").unwrap();
    // A key given twice would silently lose the first one's settings.
    std::fs::write(
        agents.join("gina.md"),
        "---\nname: gina\nrole: x\nprovider: scripted\nprovider_options: {a: 1}\nprovider_options:\n  b: 2\n---\n",
    )
    .unwrap();
    let out = s.run(&plugins(), &["validate", "t", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let found = errors(&out);
    assert!(
        has(&found, "carol.md", "/provider", "missing required field"),
        "{found:?}"
    );
    assert!(
        has(&found, "carol.md", "/provder", "did you mean \"provider\""),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "carol.md",
            "/permission_mode",
            "did you mean \"trusted\""
        ),
        "{found:?}"
    );
    assert!(
        has(&found, "carol.md", "/name", "duplicate agent id \"alice\""),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "dave.md",
            "/provider",
            "no installed provider plugin serves \"scriptd\""
        ),
        "{found:?}"
    );
    assert!(
        has(&found, "dave.md", "/provider", "scripted"),
        "names the installed ones: {found:?}"
    );
    assert!(has(&found, "eve.md", "", "YAML syntax error"), "{found:?}");
    assert!(
        has(
            &found,
            "gina.md",
            "",
            "the key \"provider_options\" is given twice"
        ),
        "{found:?}"
    );
    assert!(
        has(&found, "frank.md", "", "no YAML front matter"),
        "{found:?}"
    );
    let eve = json(&out)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["file"].as_str().unwrap().ends_with("eve.md"))
        .cloned()
        .unwrap();
    assert!(
        eve["line"].as_u64().is_some(),
        "a syntax error has a line: {eve}"
    );
}

const SPEC: &str = r#"version: 1
team:
  name: broken
  mode: supervisor_worker
  objective: x
  workspace: .
leader:
  id: leader
  role: leader
  provider: scripted
  model: null
  tools: []
  context_policy:
    keep_user_thread: true
    receive_worker_outputs: summary_only
    max_worker_result_tokens: 100
agents:
  - id: a
    role: r
    provider: scripted
    model: null
    working_directory: .
    system_prompt:
      inline: null
      file: prompts/missing.md
    tools: [fs_read]
    permission_mode: restricted
    preferred_for: []
    avoid_for: []
    output_contract:
      format: result_envelope_v1
      required_fields: []
  - id: a
    role: r
    provider: nosuch
    model: null
    working_directory: .
    system_prompt: {inline: hi, file: null}
    tools: []
    permission_mode: restricted
    preferred_for: []
    avoid_for: []
    output_contract: {format: result_envelope_v1, required_fields: []}
routing:
  default_assignee: ghost
  rules: []
communication:
  protocol: mcp_inbox
  topology: leader_centered
  worker_to_worker: true
  ack_timeout_sec: 60
  result_format: result_envelope_v1
  message_store: {sqlite: .team/runtime/team.db, mirror_files: null}
runtime:
  backend: tmux
  session_name: team-broken
  auto_launch: true
  require_user_approval_before_launch: false
  max_active_agents: 2
  startup_order: [a]
  tick_interval_sec: 2
context:
  state_file: team_state.md
  artifact_dir: .team/artifacts
  log_dir: .team/logs
  summarization: {worker_full_logs: retain_outside_leader_context, state_update: after_each_result}
tasks:
  - id: t1
    title: one
    type: implementation
    assignee: nobody
    deps: [t2]
    acceptance: done
    status: pending
  - id: t2
    title: two
    type: implementation
    assignee: null
    deps: [t1, t9]
    acceptance: done
    status: pending
"#;

#[test]
fn validate_names_every_semantic_error_of_a_spec_file_with_its_pointer_and_line() {
    let s = Scratch::new();
    std::fs::write(s.workspace().join("team.spec.yaml"), SPEC).unwrap();
    let out = s.run(&plugins(), &["validate", "team.spec.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let found = errors(&out);
    let f = "team.spec.yaml";
    assert!(
        has(&found, f, "/agents/1/id", "duplicate agent id \"a\""),
        "{found:?}"
    );
    assert!(has(&found, f, "/agents/1/provider", "nosuch"), "{found:?}");
    assert!(
        has(&found, f, "/agents/0/system_prompt/file", "does not exist"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            f,
            "/routing/default_assignee",
            "unknown assignee \"ghost\""
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            f,
            "/tasks/0/assignee",
            "unknown assignee \"nobody\""
        ),
        "{found:?}"
    );
    assert!(
        has(&found, f, "/tasks/1/deps/1", "unknown dependency \"t9\""),
        "{found:?}"
    );
    assert!(has(&found, f, "/tasks", "t1 -> t2 -> t1"), "{found:?}");
    let lines: Vec<u64> = json(&out)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["line"].as_u64())
        .collect();
    assert!(lines.len() >= 6, "errors carry lines: {lines:?}");
    let provider = json(&out)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/agents/1/provider")
        .cloned()
        .unwrap();
    assert_eq!(
        provider["line"], 35,
        "the line of the second agent's provider"
    );

    let mut structural = SPEC
        .replace("  mode: supervisor_worker", "  mode: anarchy")
        .replace("  backend: tmux", "  backnd: tmux");
    structural = structural.replace("version: 1", "version: 2");
    std::fs::write(s.workspace().join("s.yaml"), structural).unwrap();
    let found = errors(&s.run(&plugins(), &["validate", "s.yaml", "--json"]));
    assert!(has(&found, "s.yaml", "/version", "must be 1"), "{found:?}");
    assert!(
        has(&found, "s.yaml", "/team/mode", "supervisor_worker"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "s.yaml",
            "/runtime/backnd",
            "did you mean \"backend\""
        ),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "s.yaml",
            "/runtime/backend",
            "missing required field"
        ),
        "{found:?}"
    );

    std::fs::write(
        s.workspace().join("syntax.yaml"),
        "version: 1\nteam:\n  name: [x\n",
    )
    .unwrap();
    let out = s.run(&plugins(), &["validate", "syntax.yaml", "--json"]);
    let e = &json(&out)["errors"][0];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("YAML syntax error"),
        "{e}"
    );
    assert!(
        e["line"].as_u64().is_some() && e["column"].as_u64().is_some(),
        "{e}"
    );
    std::fs::write(
        s.workspace().join("syntax.json"),
        "{\"version\": 1,\n \"team\": }",
    )
    .unwrap();
    let e = json(&s.run(&plugins(), &["validate", "syntax.json", "--json"]))["errors"][0].clone();
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("JSON syntax error")
            && e["line"] == 2,
        "{e}"
    );
}

#[test]
fn hostile_inputs_end_in_an_error_never_a_panic_or_a_hang() {
    let s = Scratch::new();
    let billion_laughs = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    let mut garbage = vec![0u8; 4096];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.yaml", Vec::new()),
        ("garbage.yaml", garbage),
        ("huge.yaml", vec![b'a'; 10 * 1024 * 1024]),
        (
            "deep.yaml",
            format!("{}1{}", "[".repeat(50_000), "]".repeat(50_000)).into_bytes(),
        ),
        (
            "deep-block.yaml",
            (0..2000)
                .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
                .collect::<String>()
                .into_bytes(),
        ),
        ("laughs.yaml", billion_laughs.as_bytes().to_vec()),
        (
            "deep.json",
            format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)).into_bytes(),
        ),
    ];
    for (name, bytes) in cases {
        std::fs::write(s.workspace().join(name), bytes).unwrap();
        let started = std::time::Instant::now();
        let out = s.run(&plugins(), &["validate", name, "--json"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", stdout(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{name}: {}",
            stderr(&out)
        );
        assert!(
            json(&out)["errors"]
                .as_array()
                .is_some_and(|e| !e.is_empty()),
            "{name}"
        );
        assert!(
            started.elapsed().as_secs() < 20,
            "{name} took {:?}",
            started.elapsed()
        );
    }
    let odd = std::ffi::OsStr::from_bytes(b"spec-\xff\xfe.yaml");
    std::fs::write(s.workspace().join(odd), SPEC).unwrap();
    let out = s
        .command(&plugins())
        .arg("validate")
        .arg(odd)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a non-UTF-8 path is read and validated"
    );
    assert!(!stderr(&out).contains("panicked"));
}

#[test]
fn random_bytes_fed_to_the_loader_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = team_agent::spec::Catalog {
        providers: vec!["scripted".into()],
        provider_names: vec!["scripted".into()],
        displays: vec![],
    };
    let tokens: [&[u8]; 16] = [
        b"version: 1\n",
        b"agents:\n",
        b"  - id: a\n",
        b"    provider: scripted\n",
        b"{",
        b"}",
        b"[",
        b"]",
        b"&x ",
        b"*x ",
        b"---\n",
        b": ",
        b"\"",
        b"\t",
        b"\xff",
        b"- ",
    ];
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..600 {
        let mut bytes = Vec::new();
        for _ in 0..(next() % 60) {
            if next() % 3 == 0 {
                bytes.push(next() as u8);
            } else {
                bytes.extend_from_slice(tokens[(next() % tokens.len() as u64) as usize]);
            }
        }
        let file = dir.path().join(format!("r{}.yaml", round % 7));
        std::fs::write(&file, &bytes).unwrap();
        let result =
            std::panic::catch_unwind(|| team_agent::spec::load(&file, dir.path(), &catalog));
        assert!(
            result.is_ok(),
            "round {round} panicked on {:?}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn validate_result_reports_every_envelope_error() {
    let s = Scratch::new();
    let good = r#"{"schema_version":"result_envelope_v1","task_id":"t1","agent_id":"a","status":"success","summary":"done","changes":[],"tests":[{"command":"cargo test","status":"passed"}],"risks":[],"artifacts":[],"next_actions":[]}"#;
    std::fs::write(s.workspace().join("good.json"), good).unwrap();
    assert!(
        s.run(&plugins(), &["validate-result", "good.json"])
            .status
            .success()
    );
    let bad = r#"{"schema":"x","task_id":"","agent_id":"a","status":"great","summary":"s","changes":[{"path":"a","kind":"moved","description":"d"}],"tests":[],"risks":[],"artifacts":[],"next_actions":[]}"#;
    let out = s
        .command(&plugins())
        .args(["validate-result", "-", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(bad.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let found: Vec<String> = json(&out)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["path"].as_str().unwrap(),
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [
        "/schema unknown field \"schema\": the field is called schema_version",
        "/schema_version missing required field",
        "/task_id must not be empty",
        "/status must be one of",
        "/changes/0/kind must be one of",
    ] {
        assert!(
            found.iter().any(|f| f.starts_with(expected)),
            "{expected} not in {found:?}"
        );
    }
}

#[test]
fn deep_nesting_in_a_role_is_refused_before_it_is_parsed() {
    let s = Scratch::new();
    assert!(s.run(&plugins(), &["init", "team"]).status.success());
    let depth = 100_000;
    let role = format!(
        "---\nname: deep\nrole: worker\nprovider: scripted\nprovider_options:\n  x: {}1{}\n---\nDeep.\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    std::fs::write(s.workspace().join("team/agents/deep.md"), role).unwrap();
    let out = s.run(&plugins(), &["validate", "team", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let found = errors(&out);
    assert!(
        has(&found, "deep.md", "", "nested more than 64 levels"),
        "{found:?}"
    );
}

#[test]
fn version_answers_the_same_with_or_without_the_fast_path() {
    let s = Scratch::new();
    let fast = s.run(&plugins(), &["--version"]);
    let short = s.run(&plugins(), &["-V"]);
    // With another argument clap answers itself.
    let by_clap = s.run(&plugins(), &["--version", "--json"]);
    assert!(fast.status.success() && short.status.success() && by_clap.status.success());
    let want = format!("team-agent {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(stdout(&fast), want);
    assert_eq!(stdout(&short), want);
    assert_eq!(stdout(&by_clap), want);
}
