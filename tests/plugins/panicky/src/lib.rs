//! A provider whose every method panics: the host must contain it.

use team_agent_plugin_api::*;

#[derive(Default)]
pub struct Panicky;

impl ProviderPlugin for Panicky {
    const NAME: &'static str = "panicky";
    const EXECUTABLE: &'static str = "panicky";

    fn capabilities(&self) -> ProviderCapabilities {
        panic!("panicky manifest")
    }
    fn launch_plan(&self, _: &LaunchRequest) -> Result<LaunchPlan, PluginError> {
        panic!("panicky launch_plan")
    }
    fn handle_startup_prompts(&self, _: &str) -> Verdict<StartupDecision> {
        panic!("panicky handle_startup_prompts")
    }
    fn capture_session_id(&self, _: &CaptureContext) -> Result<Option<SessionRecord>, PluginError> {
        panic!("panicky capture_session_id")
    }
    fn session_is_resumable(&self, _: &ResumeCheck) -> Resumability {
        panic!("panicky session_is_resumable")
    }
    fn classify_screen(&self, _: &str) -> Verdict<ScreenState> {
        panic!("panicky classify_screen")
    }
    fn approval_keys(&self, _: &ApprovalRequest) -> Verdict<ApprovalDecision> {
        panic!("panicky approval_keys")
    }
    fn turn_state(&self, _: &str) -> Verdict<TurnState> {
        panic!("panicky turn_state")
    }
    fn submit_keys(&self) -> SubmitKeys {
        panic!("panicky submit_keys")
    }
}

export_provider!(Panicky);
