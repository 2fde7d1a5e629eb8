//! A provider that starts a worker like any other and then never answers `classify_screen`
//! (nor `plugins probe`): the host must give up on it, mark it faulted and go on.

use std::time::Duration;

use team_agent_plugin_api::*;

#[derive(Default)]
pub struct Hangs;

fn forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

impl ProviderPlugin for Hangs {
    const NAME: &'static str = "hangs";
    const DESCRIPTION: &'static str = "test plugin: classify_screen never returns";
    const EXECUTABLE: &'static str = "sh";

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities::default()
    }
    fn launch_plan(&self, _: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        Ok(LaunchPlan {
            argv: ["sh", "-c", "printf 'hangs> '; exec cat"]
                .map(String::from)
                .to_vec(),
            ..LaunchPlan::default()
        })
    }
    fn handle_startup_prompts(&self, _: &str) -> Verdict<StartupDecision> {
        StartupDecision::Ready.into()
    }
    fn capture_session_id(&self, _: &CaptureContext) -> Result<Option<SessionRecord>, PluginError> {
        Ok(None)
    }
    fn session_is_resumable(&self, _: &ResumeCheck) -> Resumability {
        Resumability::no(ResumeBlocker::Unsupported, "hangs keeps no sessions")
    }
    fn classify_screen(&self, _: &str) -> Verdict<ScreenState> {
        forever()
    }
    fn approval_keys(&self, _: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        ApprovalDecision::Defer {
            reason: "hangs never asks".into(),
        }
        .into()
    }
    fn turn_state(&self, _: &str) -> Verdict<TurnState> {
        TurnState::Unknown.into()
    }
    fn submit_keys(&self) -> SubmitKeys {
        SubmitKeys {
            delay_ms: 0,
            keys: vec!["Enter".into()],
        }
    }
}

export_provider!(Hangs);
