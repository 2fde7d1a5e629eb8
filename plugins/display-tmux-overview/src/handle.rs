/*!
The handle: the record of what one `open` created, which the host keeps in the team's state and
gives back to `close` and `rebuild`.

It names the leader's server and session, the overview windows made there and the view sessions
made on the team's server — everything `close` destroys and nothing else. A handle is read back
strictly: anything that is not a handle this display wrote is an error naming what is wrong.
*/

use serde::{Deserialize, Serialize};
use team_agent_display_kit::handle::DisplayHandle;
use team_agent_display_kit::view_session::{SessionName, ViewSession};
use team_agent_plugin_api::{DisplayPlugin, PlanStep};

use crate::overview::OverviewWindow;

/// Where the overview windows were made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderRecord {
    /// The socket of the leader's tmux server.
    pub socket: String,
    pub session: SessionName,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewHandle {
    /// Always `tmux-overview`: a handle another display recorded is refused, not misread.
    display: String,
    pub leader: LeaderRecord,
    pub windows: Vec<OverviewWindow>,
    pub view_sessions: Vec<ViewSession>,
}

impl OverviewHandle {
    pub fn new(
        leader: LeaderRecord,
        windows: Vec<OverviewWindow>,
        view_sessions: Vec<ViewSession>,
    ) -> Self {
        Self {
            display: Self::DISPLAY.into(),
            leader,
            windows,
            view_sessions,
        }
    }
}

impl DisplayHandle for OverviewHandle {
    const DISPLAY: &'static str = <crate::TmuxOverview as DisplayPlugin>::NAME;

    fn recorded_by(&self) -> &str {
        &self.display
    }

    /// Undo the open: the windows first, so their panes do not die one by one as their view
    /// sessions go, then the view sessions.
    fn close_steps(&self) -> Vec<PlanStep> {
        self.windows
            .iter()
            .map(|w| w.destroy(&self.leader.session))
            .chain(self.view_sessions.iter().map(ViewSession::destroy))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use team_agent_plugin_api::{StepEffect, TmuxServer};

    use super::*;

    fn handle() -> OverviewHandle {
        OverviewHandle::new(
            LeaderRecord {
                socket: "/tmp/tmux-1000/default".into(),
                session: SessionName::try_from("main".to_string()).unwrap(),
            },
            vec![OverviewWindow::nth("alpha", 0)],
            vec![ViewSession::for_worker("alpha", "w1")],
        )
    }

    #[test]
    fn a_handle_reads_back_as_written() {
        let original = handle();
        let value = serde_json::to_value(&original).unwrap();
        assert_eq!(value["display"], "tmux-overview");
        assert_eq!(value["leader"]["session"], "main");
        assert_eq!(value["windows"][0], "ta-alpha-overview");
        assert_eq!(OverviewHandle::parse(&value), Ok(original));
    }

    #[test]
    fn closing_kills_the_windows_on_the_leader_then_the_view_sessions() {
        let steps = handle().close_steps();
        assert!(matches!(
            &steps[0],
            PlanStep::Tmux { server: TmuxServer::Leader, args, effect: StepEffect::Destroys { resource } }
                if args[0] == "kill-window" && resource == "window:ta-alpha-overview"
        ));
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
        ] {
            let e = OverviewHandle::parse(&garbage).unwrap_err();
            assert_eq!(e.kind, team_agent_plugin_api::ErrorKind::InvalidRequest);
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn a_handle_aiming_at_foreign_windows_or_sessions_is_refused() {
        let mut value = serde_json::to_value(handle()).unwrap();
        value["windows"] = json!(["vim"]);
        assert!(
            OverviewHandle::parse(&value)
                .unwrap_err()
                .message
                .contains("\"vim\"")
        );
        let mut value = serde_json::to_value(handle()).unwrap();
        value["view_sessions"] = json!(["team-alpha"]);
        assert!(OverviewHandle::parse(&value).is_err());
        let mut value = serde_json::to_value(handle()).unwrap();
        value["leader"]["session"] = json!("a:b");
        assert!(OverviewHandle::parse(&value).is_err());
    }

    #[test]
    fn a_handle_of_another_display_is_refused() {
        let mut value = serde_json::to_value(handle()).unwrap();
        value["display"] = json!("terminal");
        let e = OverviewHandle::parse(&value).unwrap_err();
        assert!(e.message.contains("\"terminal\""), "{e}");
    }
}
