/*!
Handles: the record of what one `open` created, which the host keeps in the team's state and
gives back to `close` and `rebuild`.

Each display's handle is a JSON object of its own shape with a `display` field naming the display
that wrote it. The SDK writes it and reads its shape back at the plugin boundary; this module
owns what both tmux-based displays do with theirs alike beyond that: hold one read back to more
than its shape (a handle another display recorded, or one naming what this display would never
make, is an error naming what is wrong), and turn one into the plans of `close` and `rebuild`.
*/

use serde::Serialize;
use serde::de::DeserializeOwned;
use team_agent_plugin_api::{DisplayPlan, PlanStep, PluginError, read_handle};

/// A display's record of what one `open` created: everything `close` destroys and nothing else.
pub trait DisplayHandle: Serialize + DeserializeOwned {
    /// The display that writes this handle, recorded in its `display` field.
    const DISPLAY: &'static str;

    /// The `display` field as read back.
    fn recorded_by(&self) -> &str;

    /// What a handle read back must hold beyond its shape.
    fn check(&self) -> Result<(), PluginError> {
        Ok(())
    }

    /// The steps that undo the `open` this handle records.
    fn close_steps(&self) -> Vec<PlanStep>;

    /// Whether a handle of the right shape is one this display wrote: recorded by it, and
    /// passing [`check`](Self::check).
    fn verify(&self) -> Result<(), PluginError> {
        if self.recorded_by() != Self::DISPLAY {
            return Err(PluginError::invalid_request(format!(
                "this handle was recorded by the {:?} display, not {:?}",
                self.recorded_by(),
                Self::DISPLAY
            )));
        }
        self.check()
    }

    /// A handle as the host recorded it, read back strictly: its shape (as the SDK reads it at
    /// the boundary), then [`verify`](Self::verify).
    fn parse(recorded: &serde_json::Value) -> Result<Self, PluginError> {
        let handle: Self = read_handle(Self::DISPLAY, recorded)?;
        handle.verify()?;
        Ok(handle)
    }
}

/// `close`: the steps that undo what `handle` records; nothing is left to record.
pub fn close<H: DisplayHandle>(handle: &H) -> Result<DisplayPlan<()>, PluginError> {
    handle.verify()?;
    Ok(DisplayPlan {
        steps: handle.close_steps(),
        handle: (),
    })
}

/// `rebuild`: close what `handle` records, then `open` anew (after a restart).
pub fn rebuild<H: DisplayHandle>(
    handle: &H,
    open: impl FnOnce() -> Result<DisplayPlan<H>, PluginError>,
) -> Result<DisplayPlan<H>, PluginError> {
    handle.verify()?;
    let mut steps = handle.close_steps();
    let opened = open()?;
    steps.extend(opened.steps);
    Ok(DisplayPlan {
        steps,
        handle: opened.handle,
    })
}
