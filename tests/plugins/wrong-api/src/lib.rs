//! A well-behaved provider that claims plugin API version 999: the host must refuse it and name
//! both versions.

use team_agent_plugin_api::*;

#[derive(Default)]
pub struct WrongApi;

impl ProviderPlugin for WrongApi {
    const NAME: &'static str = "wrong-api";
    const EXECUTABLE: &'static str = "true";

    fn capabilities(&self) -> ProviderCapabilities {
        ProviderCapabilities::default()
    }
    fn launch_plan(&self, _: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        Err(PluginError::unsupported("never launched"))
    }
    fn handle_startup_prompts(&self, _: &str) -> Verdict<StartupDecision> {
        StartupDecision::Waiting.into()
    }
    fn capture_session_id(&self, _: &CaptureContext) -> Result<Option<SessionRecord>, PluginError> {
        Ok(None)
    }
    fn session_is_resumable(&self, _: &ResumeCheck) -> Resumability {
        Resumability::no(ResumeBlocker::Unsupported, "never")
    }
    fn classify_screen(&self, _: &str) -> Verdict<ScreenState> {
        ScreenState::Unknown.into()
    }
    fn approval_keys(&self, _: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        ApprovalDecision::Defer {
            reason: "never".into(),
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

export_provider!(@api 999, WrongApi, WrongApi);
