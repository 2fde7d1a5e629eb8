//! The `none` display: nothing to show. For headless servers and CI; `team-agent attach AGENT`
//! still reaches any worker.

use team_agent_plugin_api::{
    DisplayEnvironment, DisplayPlan, DisplayPlugin, DisplayProbe, PluginError, TeamView,
    export_display,
};

#[derive(Debug, Default)]
pub struct NoDisplay;

impl DisplayPlugin for NoDisplay {
    const NAME: &'static str = "none";
    const DESCRIPTION: &'static str =
        "shows nothing; use `team-agent attach AGENT` to look at a worker";

    fn probe(&self, _environment: &DisplayEnvironment) -> DisplayProbe {
        DisplayProbe {
            available: true,
            detail: "nothing to show".into(),
        }
    }

    /// Nothing is made, so nothing is recorded.
    type Handle = ();

    fn open(&self, _view: &TeamView) -> Result<DisplayPlan<()>, PluginError> {
        Ok(DisplayPlan::default())
    }

    fn close(&self, _handle: &()) -> Result<DisplayPlan<()>, PluginError> {
        Ok(DisplayPlan::default())
    }

    fn rebuild(&self, _handle: &(), _view: &TeamView) -> Result<DisplayPlan<()>, PluginError> {
        Ok(DisplayPlan::default())
    }
}

export_display!(NoDisplay);
