/*!
The stable plugin API of [team-agent](https://github.com/): everything a provider or display
plugin depends on, and (feature `loader`) the host side that loads plugins.

A *provider* plugin teaches team-agent to drive one agent CLI: how to start it, answer its
startup dialogs, find its session files, read its screen, and submit a message. A *display*
plugin shows the team's workers to the operator. Plugins are pure deciders: they return plans
and decisions; the host runs tmux, spawns processes and keeps state.

# Writing a provider plugin

A plugin is a `cdylib` crate depending on `team-agent-plugin-api` (and `serde_json` if it reads
transcripts). Implement [`ProviderPlugin`] on a plain type and export it once:

```toml
[lib]
crate-type = ["cdylib", "rlib"]   # the rlib lets your unit tests call the type directly
```

```
use team_agent_plugin_api::{
    export_provider, ApprovalDecision, ApprovalPolicy, ApprovalRequest, CaptureContext,
    Confidence, LaunchMode, LaunchPlan, LaunchRequest, PluginError, ProviderCapabilities,
    ProviderPlugin, Resumability, ResumeBlocker, ResumeCheck, ScreenState, SessionRecord,
    StartupDecision, SubmitKeys, TurnState, Verdict,
};

/// Drives `echo-agent`, a CLI that prints `ready>` when it waits for input, `thinking` while it
/// works, and keeps each session in `~/.echo-agent/<id>.log`.
#[derive(Default)]
pub struct EchoAgent;

// The name, aliases, description and executable are said once; with the crate's version they
// make the plugin's manifest.
impl ProviderPlugin for EchoAgent {
    const NAME: &'static str = "echo";
    const ALIASES: &'static [&'static str] = &["echo-agent"];
    const DESCRIPTION: &'static str = "echo-agent, a toy CLI";
    const EXECUTABLE: &'static str = "echo-agent";

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities {
            resume: true,
            preassigned_session_id: true,
            ..Default::default()
        }
    }

    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        let mut argv = vec!["echo-agent".to_string()];
        let session_id = match &request.mode {
            LaunchMode::Fresh => request.new_session_id.clone(),
            LaunchMode::Resume { session_id } if !session_id.is_empty() => session_id.clone(),
            LaunchMode::Resume { .. } => {
                return Err(PluginError::invalid_request("resume needs a session id"))
            }
            LaunchMode::Fork { .. } => return Err(PluginError::unsupported("echo-agent cannot fork")),
        };
        argv.extend(["--session".to_string(), session_id.clone()]);
        Ok(LaunchPlan {
            argv,
            expected_session_id: Some(session_id),
            env_unset: vec!["TMUX".into(), "TMUX_PANE".into()],
            ..Default::default()
        })
    }

    fn handle_startup_prompts(&self, screen: &str) -> Verdict<StartupDecision> {
        if screen.contains("Trust this folder? [y/n]") {
            Verdict::by_rule(
                StartupDecision::Answer { prompt: "trust".into(), keys: vec!["y".into()] },
                "trust_prompt",
            )
        } else if screen.lines().any(|l| l.starts_with("ready>")) {
            Verdict::by_rule(StartupDecision::Ready, "input_prompt")
        } else {
            StartupDecision::Waiting.into()
        }
    }

    fn capture_session_id(&self, context: &CaptureContext) -> Result<Option<SessionRecord>, PluginError> {
        let Some(id) = &context.expected_session_id else { return Ok(None) };
        let path = context.home.join(".echo-agent").join(format!("{id}.log"));
        Ok(path.exists().then(|| SessionRecord {
            session_id: id.clone(),
            transcript_path: Some(path),
            attributed_by: "preassigned_id".into(),
            confidence: Confidence::High,
        }))
    }

    fn session_is_resumable(&self, check: &ResumeCheck) -> Resumability {
        match &check.record {
            None => Resumability::no(ResumeBlocker::NoPersistedSessionId, "never started"),
            Some(r) if r.transcript_path.as_ref().is_some_and(|p| p.exists()) => Resumability::yes(),
            Some(_) => Resumability::no(ResumeBlocker::SessionBackingStoreMissing, "log deleted"),
        }
    }

    fn classify_screen(&self, screen: &str) -> Verdict<ScreenState> {
        match screen.lines().rev().find(|l| !l.trim().is_empty()) {
            Some(l) if l.contains("thinking") => ScreenState::Busy.into(),
            Some(l) if l.starts_with("ready>") => ScreenState::Idle.into(),
            _ => ScreenState::Unknown.into(),
        }
    }

    fn approval_keys(&self, request: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        match &request.policy {
            ApprovalPolicy::Choose { choice } if choice == "yes" => {
                ApprovalDecision::Answer { keys: vec!["y".into()], choice: "yes".into() }.into()
            }
            _ => ApprovalDecision::Defer { reason: "echo-agent never asks".into() }.into(),
        }
    }

    fn turn_state(&self, transcript_tail: &str) -> Verdict<TurnState> {
        match transcript_tail.lines().last() {
            Some("done") => TurnState::Idle.into(),
            Some(_) => TurnState::Working.into(),
            None => TurnState::Unknown.into(),
        }
    }

    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys { delay_ms: 0, keys: vec!["Enter".into()] }
    }
}

export_provider!(EchoAgent);

// Unit tests call the type directly; `team-agent plugins check` and the conformance crate
// (`team-agent-conformance`) test the built library the way the host loads it.
assert_eq!(
    EchoAgent.handle_startup_prompts("ready> ").value,
    StartupDecision::Ready,
);
```

Build it with `cargo build --release`, copy `target/release/lib<crate>.so` (named
`libteam_agent_<name>.so`) into `~/.local/share/team-agent/plugins/`, and check it with
`team-agent plugins check PATH`. `plugins/scripted` in the team-agent repository is a complete
provider to copy from.

Captured screens and transcripts with the verdicts they must get can travel inside the library:
keep them in the crate's `fixtures/`, embed them from `build.rs` with `fixture_dir::embed()`
(feature `fixture-dir`, as a build dependency), and answer `fixtures` with
[`embedded_fixtures!`]; the conformance suite checks each one.

# Rules of the road

- Every method must be a pure function of its inputs; read the provider's own files if needed,
  never write, spawn or sleep. Keys are tmux `send-keys` names (`Enter`, `Down`, `Escape`, `1`).
- Never panic on purpose. If you do, the SDK catches it and the host marks the plugin faulted and
  stops calling it. Build with `panic = "unwind"` (the default): with `panic = "abort"` a panic
  kills the host.
- The method tables of [`ffi`] are frozen (abi_stable refuses a plugin whose table layout
  differs): methods added later travel through each table's `extension` entry, which a plugin
  built earlier answers `Unsupported` and the host then falls back; request and answer types are
  JSON and grow by fields with defaults. A plugin built today keeps loading.
*/

pub mod display;
pub mod escapes;
pub mod ffi;
#[cfg(feature = "fixture-dir")]
pub mod fixture_dir;
mod glue;
#[cfg(feature = "loader")]
pub mod loader;
pub mod provider;
mod sdk;

pub use display::*;
pub use ffi::PLUGIN_API_VERSION;
pub use provider::*;
pub use sdk::{
    close_recorded, read_handle, rebuild_recorded, DisplayPlugin, ErrorKind, PluginError,
    PluginInfo, PluginKind, ProviderPlugin,
};

#[doc(hidden)]
pub mod __private {
    pub use crate::glue::{call_loader, display_root, lib_header, provider_root, Exported};
    pub use abi_stable::library::{LibHeader, RootModuleResult};
}
