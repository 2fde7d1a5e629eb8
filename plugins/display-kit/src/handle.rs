/*!
Handles: the record of what one `open` created, which the host keeps in the team's state and
gives back to `close` and `rebuild`.

Each display's handle is a JSON object of its own shape with a `display` field naming the display
that wrote it. This module owns what both tmux-based displays do with theirs alike: read one back
strictly (no handle, a handle another display recorded, or anything that is not a handle this
display wrote is an error naming what is wrong), write one, and turn one into the plans of `close`
and `rebuild`.
*/

use serde::Serialize;
use serde::de::DeserializeOwned;
use team_agent_plugin_api::{DisplayPlan, PlanStep, PluginError};

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

    fn parse(handle: &serde_json::Value) -> Result<Self, PluginError> {
        if handle.is_null() {
            return Err(PluginError::invalid_request(
                "no handle: nothing was recorded for this display (call open instead)",
            ));
        }
        let parsed: Self = serde_json::from_value(handle.clone()).map_err(|e| {
            PluginError::invalid_request(format!("not a {} display handle: {e}", Self::DISPLAY))
        })?;
        if parsed.recorded_by() != Self::DISPLAY {
            return Err(PluginError::invalid_request(format!(
                "this handle was recorded by the {:?} display, not {:?}",
                parsed.recorded_by(),
                Self::DISPLAY
            )));
        }
        parsed.check()?;
        Ok(parsed)
    }

    fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a handle is plain strings and lists")
    }
}

/// `close`: the steps that undo what `handle` records; nothing is left to record.
pub fn close<H: DisplayHandle>(handle: &serde_json::Value) -> Result<DisplayPlan, PluginError> {
    Ok(DisplayPlan {
        steps: H::parse(handle)?.close_steps(),
        handle: serde_json::Value::Null,
    })
}

/// `rebuild`: close what `handle` records, then `open` anew (after a restart).
pub fn rebuild<H: DisplayHandle>(
    handle: &serde_json::Value,
    open: impl FnOnce() -> Result<DisplayPlan, PluginError>,
) -> Result<DisplayPlan, PluginError> {
    let mut steps = H::parse(handle)?.close_steps();
    let opened = open()?;
    steps.extend(opened.steps);
    Ok(DisplayPlan {
        steps,
        handle: opened.handle,
    })
}
