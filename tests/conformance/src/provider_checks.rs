//! The checks of a provider plugin.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use team_agent_plugin_api::loader::{CallError, FaultPolicy, LoadedPlugin, ProviderClient};
use team_agent_plugin_api::{
    ApprovalPolicy, ApprovalRequest, ErrorKind, Fixture, HookPayload, HookSetup, LaunchMode,
    LaunchRequest, PermissionMode, ProviderManifest, StartupDecision,
};

use crate::{Check, garbage, manifest_agrees};

const SAMPLE_SESSION: &str = "0b7e3f5c-1d2a-4c6b-9e8f-a1b2c3d4e5f6";
const NEW_SESSION: &str = "5f1c2d3e-4b5a-4978-8a6b-0c1d2e3f4a5b";

pub fn run(plugin: &LoadedPlugin, extra: &[(Fixture, String)], checks: &mut Vec<Check>) {
    let client = ProviderClient::new(plugin, FaultPolicy::KeepCalling)
        .expect("the loader only returns providers with a provider table");
    let manifest = match client.manifest() {
        Ok(m) => {
            checks.push(Check::from_result(
                "manifest.valid",
                manifest_valid(plugin, &m),
            ));
            m
        }
        Err(e) => {
            checks.push(Check::fail("manifest.valid", e.to_string()));
            // Go on with what the root module declares, so every other failure shows too.
            ProviderManifest {
                name: plugin.info.name.clone(),
                aliases: plugin.info.aliases.clone(),
                version: plugin.info.version.clone(),
                description: String::new(),
                executable: String::new(),
                capabilities: Default::default(),
            }
        }
    };
    checks.push(Check::from_result(
        "provider.launch_plan.fresh",
        launch_fresh(&client, &manifest),
    ));
    checks.push(Check::from_result(
        "provider.launch_plan.resume_needs_session",
        launch_resume(&client, &manifest),
    ));
    checks.push(Check::from_result(
        "provider.launch_plan.fork",
        launch_fork(&client, &manifest),
    ));
    checks.push(Check::from_result(
        "provider.hooks",
        hooks(&client, &manifest),
    ));
    checks.push(Check::from_result(
        "provider.startup.empty_screen",
        empty_screen(&client),
    ));
    checks.push(Check::from_result(
        "provider.submit_keys",
        submit_keys(&client),
    ));
    checks.push(Check::from_result(
        "provider.no_panic.garbage",
        no_panic(&client),
    ));
    checks.push(Check::from_result(
        "provider.deterministic",
        deterministic(&client),
    ));
    checks.push(Check::from_result(
        "provider.thread_safe",
        thread_safe(&client),
    ));
    checks.push(call_time(&client));
    // Each with the expectation file it came from: a plugin's own `fixtures/` for those it
    // ships (its build script embeds that folder).
    let mut fixtures: Vec<(Fixture, String)> = match client.fixtures() {
        Ok(shipped) => shipped
            .into_iter()
            .map(|f| {
                let file = format!("fixtures/{}.expect.json (shipped in the library)", f.name);
                (f, file)
            })
            .collect(),
        Err(e) => {
            checks.push(Check::fail("fixtures.shipped", e.to_string()));
            Vec::new()
        }
    };
    // A fixture given with --fixtures that the plugin also ships is checked once, and named by
    // the file given.
    for (fixture, file) in extra {
        match fixtures.iter_mut().find(|(f, _)| f.name == fixture.name) {
            Some((_, known)) => known.clone_from(file),
            None => fixtures.push((fixture.clone(), file.clone())),
        }
    }
    for (fixture, file) in &fixtures {
        let verdict = run_fixture(&client, fixture).map_err(|e| {
            format!(
                "{file}: {e}. Make the plugin give what the expectation says (or correct the expectation if the capture shows otherwise)"
            )
        });
        checks.push(Check::from_result(
            &format!("fixture.{}", fixture.name),
            verdict,
        ));
    }
}

fn manifest_valid(plugin: &LoadedPlugin, manifest: &ProviderManifest) -> Result<String, String> {
    manifest_agrees(
        &plugin.info,
        &manifest.name,
        &manifest.aliases,
        &manifest.version,
    )?;
    if manifest.executable.trim().is_empty() {
        return Err("manifest names no executable".into());
    }
    Ok(format!(
        "{} {} runs `{}`",
        manifest.name, manifest.version, manifest.executable
    ))
}

fn sample_request(mode: LaunchMode) -> LaunchRequest {
    let base = std::env::temp_dir().join("team-agent-conformance");
    LaunchRequest {
        agent_id: "conformance-worker".into(),
        role: "checks the plugin".into(),
        model: None,
        cwd: base.join("workspace"),
        system_prompt: "You are Team Agent worker `conformance-worker`.".into(),
        permission_mode: PermissionMode::Restricted,
        mode,
        new_session_id: NEW_SESSION.into(),
        mcp_server: None,
        profile_env: BTreeMap::new(),
        host_bin_dir: PathBuf::from("/nonexistent/team-agent/bin"),
        home: base.join("home"),
        options: BTreeMap::new(),
        hooks: Some(HookSetup {
            command: vec![
                "/nonexistent/team-agent/bin/team-agent".into(),
                "hook".into(),
                "--agent".into(),
                "conformance-worker".into(),
            ],
            dir: base.join("hooks"),
        }),
    }
}

/// A provider that declares hook events plans their configuration inside the directory it was
/// given, and reads a payload it cannot make sense of without panicking; one that declares none
/// plans no files.
fn hooks(client: &ProviderClient, manifest: &ProviderManifest) -> Result<String, String> {
    let request = sample_request(LaunchMode::Fresh);
    let dir = request
        .hooks
        .as_ref()
        .map(|h| h.dir.clone())
        .unwrap_or_default();
    let plan = client.launch_plan(&request).map_err(|e| e.to_string())?;
    if let Some(stray) = plan.files.iter().find(|f| !f.path.starts_with(&dir)) {
        return Err(format!(
            "the plan writes {} outside the hook directory it was given ({})",
            stray.path.display(),
            dir.display()
        ));
    }
    let declared = &manifest.capabilities.hook_events;
    if declared.is_empty() {
        if !plan.files.is_empty() {
            return Err(
                "the plan writes hook files but the manifest declares no hook_events".into(),
            );
        }
        return Ok("declares no hook events".into());
    }
    const KINDS: [&str; 7] = [
        "session_started",
        "prompt_submitted",
        "tool_started",
        "tool_finished",
        "awaiting_approval",
        "awaiting_input",
        "turn_ended",
    ];
    if let Some(unknown) = declared.iter().find(|k| !KINDS.contains(&k.as_str())) {
        return Err(format!(
            "hook_events names '{unknown}', which is no hook event kind (one of {})",
            KINDS.join(", ")
        ));
    }
    for payload in ["", "{", "\u{0}\u{1b}[2J", "{\"hook_event_name\": 7}"] {
        let call = HookPayload {
            event: "Stop".into(),
            payload: payload.into(),
            session_id: None,
        };
        match client.hook_event(&call) {
            Err(e) if e.is_panic() => {
                return Err(format!("hook_event panicked on {payload:?}: {e}"));
            }
            Err(CallError::Plugin { error, .. }) if error.kind == ErrorKind::Unsupported => {
                return Err("hook_events are declared but hook_event is unsupported".into());
            }
            _ => {}
        }
    }
    Ok(format!("emits {}", declared.join(", ")))
}

fn launch_fresh(client: &ProviderClient, manifest: &ProviderManifest) -> Result<String, String> {
    let plan = client
        .launch_plan(&sample_request(LaunchMode::Fresh))
        .map_err(|e| e.to_string())?;
    if plan.argv.is_empty() || plan.argv[0].trim().is_empty() {
        return Err("the plan has no program to run".into());
    }
    if let Some(bad) = plan.argv.iter().find(|a| a.contains('\0')) {
        return Err(format!("argument {bad:?} contains a NUL byte"));
    }
    if manifest.capabilities.preassigned_session_id
        && plan.expected_session_id.as_deref() != Some(NEW_SESSION)
    {
        return Err(format!(
            "the manifest claims pre-assigned session ids but the plan expects {:?}, not the request's new_session_id",
            plan.expected_session_id
        ));
    }
    Ok(format!("runs {}", plan.argv.join(" ")))
}

fn expect_refusal(
    result: Result<team_agent_plugin_api::LaunchPlan, CallError>,
    what: &str,
) -> Result<(), String> {
    match result {
        Ok(plan) => Err(format!(
            "{what} gave a plan ({}) instead of an error",
            plan.argv.join(" ")
        )),
        Err(e) if e.is_panic() => Err(format!("{what} panicked: {e}")),
        Err(CallError::Plugin { error, .. })
            if matches!(
                error.kind,
                ErrorKind::InvalidRequest | ErrorKind::Unsupported | ErrorKind::Failed
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(format!("{what}: {e}")),
    }
}

fn launch_resume(client: &ProviderClient, manifest: &ProviderManifest) -> Result<String, String> {
    let empty = client.launch_plan(&sample_request(LaunchMode::Resume {
        session_id: String::new(),
    }));
    expect_refusal(empty, "a resume with an empty session id")?;
    let with_id = client.launch_plan(&sample_request(LaunchMode::Resume {
        session_id: SAMPLE_SESSION.into(),
    }));
    if manifest.capabilities.resume {
        let plan = with_id.map_err(|e| format!("a resume with a session id failed: {e}"))?;
        if !plan.argv.iter().any(|a| a.contains(SAMPLE_SESSION)) {
            return Err(format!(
                "the resume plan does not use the session id: {}",
                plan.argv.join(" ")
            ));
        }
        Ok("refuses an empty id; resumes the given id".into())
    } else {
        match with_id {
            Err(CallError::Plugin { error, .. }) if error.kind == ErrorKind::Unsupported => {
                Ok("resume not claimed and refused as unsupported".into())
            }
            Err(e) => Err(format!(
                "resume is not claimed, so it must be `unsupported`; got: {e}"
            )),
            Ok(plan) => Err(format!(
                "resume is not claimed, so it must be `unsupported`; got a plan: {}",
                plan.argv.join(" ")
            )),
        }
    }
}

fn launch_fork(client: &ProviderClient, manifest: &ProviderManifest) -> Result<String, String> {
    let fork = client.launch_plan(&sample_request(LaunchMode::Fork {
        source_session_id: SAMPLE_SESSION.into(),
    }));
    if manifest.capabilities.fork {
        let plan = fork.map_err(|e| format!("a fork failed: {e}"))?;
        if !plan.argv.iter().any(|a| a.contains(SAMPLE_SESSION)) {
            return Err(format!(
                "the fork plan does not name the source session: {}",
                plan.argv.join(" ")
            ));
        }
        expect_refusal(
            client.launch_plan(&sample_request(LaunchMode::Fork {
                source_session_id: String::new(),
            })),
            "a fork with an empty source session id",
        )?;
        Ok("forks the given session; refuses an empty one".into())
    } else {
        match fork {
            Err(CallError::Plugin { error, .. }) if error.kind == ErrorKind::Unsupported => {
                Ok("fork not claimed and refused as unsupported".into())
            }
            Err(e) => Err(format!(
                "fork is not claimed, so it must be `unsupported`; got: {e}"
            )),
            Ok(plan) => Err(format!(
                "fork is not claimed, so it must be `unsupported`; got a plan: {}",
                plan.argv.join(" ")
            )),
        }
    }
}

fn empty_screen(client: &ProviderClient) -> Result<String, String> {
    for screen in ["", "\n\n\n", "   \n \n"] {
        let verdict = client
            .handle_startup_prompts(screen)
            .map_err(|e| e.to_string())?;
        if verdict.value != StartupDecision::Waiting {
            return Err(format!(
                "a blank screen {screen:?} gave {:?}, expected waiting",
                verdict.value
            ));
        }
    }
    Ok("blank screens are `waiting`".into())
}

fn submit_keys(client: &ProviderClient) -> Result<String, String> {
    let keys = client.submit_keys().map_err(|e| e.to_string())?;
    if keys.keys.is_empty() {
        return Err("no keys to submit with".into());
    }
    if let Some(bad) = keys
        .keys
        .iter()
        .find(|k| k.is_empty() || k.chars().any(char::is_control))
    {
        return Err(format!("{bad:?} is not a tmux key name"));
    }
    if keys.delay_ms > 5_000 {
        return Err(format!(
            "a {} ms delay before submitting is too long",
            keys.delay_ms
        ));
    }
    Ok(format!(
        "{} after {} ms",
        keys.keys.join(" "),
        keys.delay_ms
    ))
}

/// Every screen-reading method on one input, as comparable text.
fn answers(client: &ProviderClient, input: &str) -> Result<String, CallError> {
    let startup = client.handle_startup_prompts(input)?;
    let screen = client.classify_screen(input)?;
    let turn = client.turn_state(input)?;
    let approval = client.approval_keys(&ApprovalRequest {
        screen: input.to_string(),
        policy: ApprovalPolicy::AllowTools {
            server: "team".into(),
            tools: vec!["send_message".into()],
            commands: Vec::new(),
        },
    })?;
    let chosen = client.approval_keys(&ApprovalRequest {
        screen: input.to_string(),
        policy: ApprovalPolicy::Choose { choice: "1".into() },
    })?;
    Ok(format!(
        "{startup:?}|{screen:?}|{turn:?}|{approval:?}|{chosen:?}"
    ))
}

fn no_panic(client: &ProviderClient) -> Result<String, String> {
    let inputs = garbage::inputs();
    // method → (inputs it panicked on, the first message)
    let mut panics: BTreeMap<&str, (usize, String)> = BTreeMap::new();
    for (_, input) in &inputs {
        let allow = ApprovalRequest {
            screen: input.clone(),
            policy: ApprovalPolicy::AllowTools {
                server: "team".into(),
                tools: vec!["send_message".into()],
                commands: Vec::new(),
            },
        };
        let outcomes = [
            (
                "handle_startup_prompts",
                client.handle_startup_prompts(input).map(drop),
            ),
            ("classify_screen", client.classify_screen(input).map(drop)),
            ("turn_state", client.turn_state(input).map(drop)),
            ("approval_keys", client.approval_keys(&allow).map(drop)),
        ];
        for (method, outcome) in outcomes {
            if let Err(e) = outcome {
                let entry = panics.entry(method).or_insert((0, e.to_string()));
                entry.0 += 1;
            }
        }
    }
    if panics.is_empty() {
        return Ok(format!(
            "{} hostile inputs, every screen method answered",
            inputs.len()
        ));
    }
    Err(panics
        .iter()
        .map(|(method, (n, first))| {
            format!(
                "{method} failed on {n} of {} inputs ({first})",
                inputs.len()
            )
        })
        .collect::<Vec<_>>()
        .join("; "))
}

fn samples() -> Vec<String> {
    let mut inputs: Vec<String> = garbage::inputs()
        .into_iter()
        .map(|(_, s)| s)
        .take(4)
        .collect();
    inputs.push(garbage::timing_screen());
    inputs
}

fn deterministic(client: &ProviderClient) -> Result<String, String> {
    for input in samples() {
        let first = answers(client, &input).map_err(|e| e.to_string())?;
        let second = answers(client, &input).map_err(|e| e.to_string())?;
        if first != second {
            return Err(format!(
                "two calls on the same input differ: {first} vs {second}"
            ));
        }
    }
    let request = sample_request(LaunchMode::Fresh);
    let a = client.launch_plan(&request).map_err(|e| e.to_string())?;
    let b = client.launch_plan(&request).map_err(|e| e.to_string())?;
    if a != b {
        return Err("two launch plans for the same request differ".into());
    }
    Ok("same input, same answer".into())
}

fn thread_safe(client: &ProviderClient) -> Result<String, String> {
    let inputs = samples();
    let expected: Vec<String> = inputs
        .iter()
        .map(|i| answers(client, i).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (inputs, expected) = (&inputs, &expected);
                scope.spawn(move || {
                    for round in 0..3 {
                        for k in 0..inputs.len() {
                            let i = (k + t + round) % inputs.len();
                            let got = answers(client, &inputs[i]).map_err(|e| e.to_string())?;
                            if got != expected[i] {
                                return Err(format!(
                                    "thread {t} got a different answer for input {i}"
                                ));
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err("a thread died".into())))
            .collect()
    });
    match results.into_iter().find_map(Result::err) {
        Some(e) => Err(e),
        None => Ok("8 threads × 3 rounds agree with the single-threaded answers".into()),
    }
}

fn call_time(client: &ProviderClient) -> Check {
    let screen = garbage::timing_screen();
    let mut parts = Vec::new();
    let mut slow = false;
    let mut time = |name: &str, call: &dyn Fn() -> Result<(), CallError>| {
        let runs = 5;
        let started = Instant::now();
        for _ in 0..runs {
            if call().is_err() {
                parts.push(format!("{name} failed"));
                return;
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        slow |= ms > 50.0;
        parts.push(format!("{name} {ms:.2} ms"));
    };
    time("classify_screen", &|| {
        client.classify_screen(&screen).map(drop)
    });
    time("handle_startup_prompts", &|| {
        client.handle_startup_prompts(&screen).map(drop)
    });
    time("turn_state", &|| client.turn_state(&screen).map(drop));
    let mut check = Check::pass(
        "provider.call_time",
        format!("per call on 1 MiB: {}", parts.join(", ")),
    );
    if slow {
        check.warning = true;
        check
            .detail
            .push_str(" (above 50 ms: the coordinator calls these every tick)");
    }
    check
}

fn run_fixture(client: &ProviderClient, fixture: &Fixture) -> Result<String, String> {
    let expect = fixture
        .expect
        .as_object()
        .ok_or_else(|| "the expectation is not a JSON object".to_string())?;
    for key in expect.keys() {
        if !["startup", "keys", "screen", "turn_state", "note"].contains(&key.as_str()) {
            return Err(format!(
                "unknown expectation '{key}' (use startup, keys, screen, turn_state)"
            ));
        }
    }
    let mut seen = Vec::new();
    if let Some(screen) = &fixture.screen {
        if let Some(want) = expect.get("startup").and_then(|v| v.as_str()) {
            let verdict = client
                .handle_startup_prompts(screen)
                .map_err(|e| e.to_string())?;
            let got = serde_json::to_value(&verdict.value).map_err(|e| e.to_string())?;
            let decision = got.get("decision").and_then(|v| v.as_str()).unwrap_or("");
            if decision != want {
                return Err(format!(
                    "startup: expected {want}, got {decision} (rule {})",
                    rule(&verdict.rule)
                ));
            }
            if let (Some(want_keys), StartupDecision::Answer { keys, .. }) =
                (expect.get("keys"), &verdict.value)
            {
                let want_keys: Vec<String> = serde_json::from_value(want_keys.clone())
                    .map_err(|_| "keys must be a list of strings".to_string())?;
                if &want_keys != keys {
                    return Err(format!(
                        "startup keys: expected {want_keys:?}, got {keys:?}"
                    ));
                }
            }
            seen.push(format!("startup {decision}"));
        }
        if let Some(want) = expect.get("screen").and_then(|v| v.as_str()) {
            let verdict = client.classify_screen(screen).map_err(|e| e.to_string())?;
            let got = serde_json::to_value(&verdict.value).map_err(|e| e.to_string())?;
            let state = got.get("state").and_then(|v| v.as_str()).unwrap_or("");
            if state != want {
                return Err(format!(
                    "screen: expected {want}, got {state} (rule {})",
                    rule(&verdict.rule)
                ));
            }
            seen.push(format!("screen {state}"));
        }
    }
    if let Some(transcript) = &fixture.transcript
        && let Some(want) = expect.get("turn_state").and_then(|v| v.as_str())
    {
        let verdict = client.turn_state(transcript).map_err(|e| e.to_string())?;
        let got = serde_json::to_value(verdict.value).map_err(|e| e.to_string())?;
        if got.as_str() != Some(want) {
            return Err(format!(
                "turn_state: expected {want}, got {got} (rule {})",
                rule(&verdict.rule)
            ));
        }
        seen.push(format!("turn_state {want}"));
    }
    if seen.is_empty() {
        return Err(
            "nothing to check: the expectation names no verdict for this kind of capture".into(),
        );
    }
    Ok(seen.join(", "))
}

fn rule(rule: &Option<String>) -> &str {
    rule.as_deref().unwrap_or("unnamed")
}
