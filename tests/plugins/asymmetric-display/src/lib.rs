//! A display whose `open` adds a window to the leader's session and whose `close` forgets it:
//! the conformance suite must fail its `display.plan_symmetry`, whatever the machine has.

use team_agent_plugin_api::*;

/// The window `open` creates and `close` leaves behind.
const WINDOW: &str = "window:ta-asymmetric";

#[derive(Default)]
pub struct AsymmetricDisplay;

impl DisplayPlugin for AsymmetricDisplay {
    const NAME: &'static str = "asymmetric";
    const DESCRIPTION: &'static str = "opens a window that close never kills";

    fn probe(&self, _environment: &DisplayEnvironment) -> DisplayProbe {
        DisplayProbe {
            available: true,
            detail: "a window in the leader's session".into(),
        }
    }

    fn open(&self, _view: &TeamView) -> Result<DisplayPlan, PluginError> {
        Ok(DisplayPlan {
            steps: vec![PlanStep::Tmux {
                server: TmuxServer::Leader,
                args: ["new-window", "-d", "-n", "ta-asymmetric"]
                    .map(String::from)
                    .to_vec(),
                effect: StepEffect::Creates {
                    resource: WINDOW.into(),
                },
            }],
            handle: serde_json::json!({ "window": WINDOW }),
        })
    }

    fn close(&self, _handle: &serde_json::Value) -> Result<DisplayPlan, PluginError> {
        Ok(DisplayPlan::default())
    }

    /// Its `close` plans nothing, so a rebuild is just another `open`.
    fn rebuild(
        &self,
        _handle: &serde_json::Value,
        view: &TeamView,
    ) -> Result<DisplayPlan, PluginError> {
        self.open(view)
    }
}

export_display!(AsymmetricDisplay);
