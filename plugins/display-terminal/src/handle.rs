/*!
The handle: the record of what one `open` created, which the host keeps in the team's state and
gives back to `close` and `rebuild`.

It lists, per worker, the terminal window the host spawned (the host knows it by the resource
`terminal:<agent>`, under which it recorded the pid) and the view session the window attached to —
everything `close` destroys and nothing else. A handle is read back strictly: anything that is not
a handle this display wrote is an error naming what is wrong.
*/

use serde::{Deserialize, Serialize};
use team_agent_display_kit::handle::DisplayHandle;
use team_agent_display_kit::view_session::ViewSession;
use team_agent_plugin_api::{DisplayPlugin, PlanStep, PluginError, StepEffect};

/// One worker's window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalRecord {
    pub agent_id: String,
    pub view_session: ViewSession,
}

impl TerminalRecord {
    /// The resource the host records the spawned terminal's pid under.
    pub fn resource(&self) -> String {
        terminal_resource(&self.agent_id)
    }
}

pub fn terminal_resource(agent_id: &str) -> String {
    format!("terminal:{agent_id}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalHandle {
    /// Always `terminal`: a handle another display recorded is refused, not misread.
    display: String,
    pub terminals: Vec<TerminalRecord>,
}

impl TerminalHandle {
    pub fn new(terminals: Vec<TerminalRecord>) -> Self {
        Self {
            display: Self::DISPLAY.into(),
            terminals,
        }
    }
}

impl DisplayHandle for TerminalHandle {
    const DISPLAY: &'static str = <crate::TerminalDisplay as DisplayPlugin>::NAME;

    fn recorded_by(&self) -> &str {
        &self.display
    }

    fn check(&self) -> Result<(), PluginError> {
        match self
            .terminals
            .iter()
            .find(|t| t.agent_id.is_empty() || t.agent_id.chars().any(char::is_control))
        {
            Some(bad) => Err(PluginError::invalid_request(format!(
                "the handle names a terminal for agent {:?}, which is not an agent id",
                bad.agent_id
            ))),
            None => Ok(()),
        }
    }

    /// Undo the open, worker by worker: stop the terminal the host spawned, then kill the view
    /// session it showed (which also ends its tmux client where a terminal outlived the signal).
    fn close_steps(&self) -> Vec<PlanStep> {
        self.terminals
            .iter()
            .flat_map(|t| {
                [
                    PlanStep::Terminate {
                        effect: StepEffect::Destroys {
                            resource: t.resource(),
                        },
                    },
                    t.view_session.destroy(),
                ]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use team_agent_plugin_api::{ErrorKind, TmuxServer};

    use super::*;

    fn handle() -> TerminalHandle {
        TerminalHandle::new(vec![TerminalRecord {
            agent_id: "w1".into(),
            view_session: ViewSession::for_worker("alpha", "w1"),
        }])
    }

    #[test]
    fn a_handle_reads_back_as_written() {
        let value = serde_json::to_value(handle()).unwrap();
        assert_eq!(value["display"], "terminal");
        assert_eq!(value["terminals"][0]["agent_id"], "w1");
        assert_eq!(TerminalHandle::parse(&value), Ok(handle()));
    }

    #[test]
    fn closing_stops_each_terminal_then_kills_its_view_session() {
        let steps = handle().close_steps();
        assert_eq!(
            steps[0],
            PlanStep::Terminate {
                effect: StepEffect::Destroys {
                    resource: "terminal:w1".into()
                }
            }
        );
        assert!(matches!(
            &steps[1],
            PlanStep::Tmux { server: TmuxServer::Team, args, effect: StepEffect::Destroys { resource } }
                if args[0] == "kill-session" && resource.starts_with("view:ta-view-alpha-w1-")
        ));
        assert_eq!(steps.len(), 2);
    }

    #[test]
    fn garbage_is_an_error_that_says_why() {
        for garbage in [
            serde_json::Value::Null,
            json!("garbage"),
            json!([[[[[]]]]]),
            json!({"windows": [1, 2, {"x": null}], "pids": "nope"}),
            json!({"display": "terminal", "terminals": [{"agent_id": "w1"}]}),
        ] {
            let e = TerminalHandle::parse(&garbage).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidRequest);
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn a_handle_aiming_at_a_foreign_session_or_agent_is_refused() {
        let mut value = serde_json::to_value(handle()).unwrap();
        value["terminals"][0]["view_session"] = json!("team-alpha");
        assert!(TerminalHandle::parse(&value).is_err());
        let mut value = serde_json::to_value(handle()).unwrap();
        value["terminals"][0]["agent_id"] = json!("");
        assert!(TerminalHandle::parse(&value).is_err());
        let mut value = serde_json::to_value(handle()).unwrap();
        value["display"] = json!("tmux-overview");
        assert!(
            TerminalHandle::parse(&value)
                .unwrap_err()
                .message
                .contains("\"tmux-overview\"")
        );
    }
}
