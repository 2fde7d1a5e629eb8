//! A display whose `open` adds a window to the leader's session and whose `close` forgets it:
//! the conformance suite must fail its `display.plan_symmetry`, whatever the machine has.

use serde::{Deserialize, Serialize};
use team_agent_plugin_api::*;

/// The window `open` creates and `close` leaves behind.
const WINDOW: &str = "window:ta-asymmetric";

#[derive(Default)]
pub struct AsymmetricDisplay;

/// What `open` records: the window it made.
#[derive(Serialize, Deserialize)]
pub struct AsymmetricHandle {
    window: String,
}

impl DisplayPlugin for AsymmetricDisplay {
    const NAME: &'static str = "asymmetric";
    const DESCRIPTION: &'static str = "opens a window that close never kills";

    fn probe(&self, _environment: &DisplayEnvironment) -> DisplayProbe {
        DisplayProbe {
            available: true,
            detail: "a window in the leader's session".into(),
        }
    }

    type Handle = AsymmetricHandle;

    fn open(&self, _view: &TeamView) -> Result<DisplayPlan<AsymmetricHandle>, PluginError> {
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
            handle: AsymmetricHandle {
                window: WINDOW.into(),
            },
        })
    }

    fn close(&self, _handle: &AsymmetricHandle) -> Result<DisplayPlan<()>, PluginError> {
        Ok(DisplayPlan::default())
    }

    /// Its `close` plans nothing, so a rebuild is just another `open`.
    fn rebuild(
        &self,
        _handle: &AsymmetricHandle,
        view: &TeamView,
    ) -> Result<DisplayPlan<AsymmetricHandle>, PluginError> {
        self.open(view)
    }
}

export_display!(AsymmetricDisplay);
