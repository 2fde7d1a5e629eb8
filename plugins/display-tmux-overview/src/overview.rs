/*!
Overview windows: the windows this display adds to the leader's tmux session.

Each window tiles up to [`WORKERS_PER_WINDOW`] panes side by side, every pane a read-only client
of one worker's view session. This module owns their names (deterministic from the team, so a
handle can name them and a rebuild makes the same ones) and the steps on the leader's server that
create and destroy one. Every step addresses the window by exact name with `-d`, so neither the
leader's pane nor the window the operator is looking at is ever touched.
*/

use std::fmt;

use serde::{Deserialize, Serialize};
use team_agent_plugin_api::{PlanStep, StepEffect, TmuxServer};

use team_agent_display_kit::view_session::{SessionName, fingerprint, is_label_char, label};

pub const WORKERS_PER_WINDOW: usize = 3;

const PREFIX: &str = "ta-";
const SUFFIX: &str = "-overview";

/// An overview window's name. Deserialising one from a handle accepts only names of that shape,
/// so a tampered handle can never aim `kill-window` at one of the operator's own windows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OverviewWindow(String);

impl OverviewWindow {
    /// The `index`th window (from 0) of `team`: `ta-<team>-overview`, then `…-overview-2`, ….
    /// A team name that had to be cut or sanitised also gets a fingerprint, so two teams sharing
    /// a leader session never share a window name.
    pub fn nth(team: &str, index: usize) -> Self {
        let team_label = label(team);
        let base = if team_label == team {
            format!("{PREFIX}{team_label}{SUFFIX}")
        } else {
            format!("{PREFIX}{team_label}-{}{SUFFIX}", fingerprint(&[team]))
        };
        Self(match index {
            0 => base,
            n => format!("{base}-{}", n + 1),
        })
    }

    /// The resource name the plan's effects use for this window.
    pub fn resource(&self) -> String {
        format!("window:{}", self.0)
    }

    /// Exactly this window of the leader's session (`=` on both parts: `ta-x-overview` must not
    /// find `ta-x-overview-2` by prefix once it is gone).
    fn target(&self, leader_session: &SessionName) -> String {
        format!("{}:={}", leader_session.target(), self.0)
    }

    /// Steps on the leader's server that create this window showing `viewers` (the attach
    /// commands of at most [`WORKERS_PER_WINDOW`] workers, left to right).
    pub fn create(&self, leader_session: &SessionName, viewers: &[Vec<String>]) -> Vec<PlanStep> {
        let Some((first, others)) = viewers.split_first() else {
            return Vec::new();
        };
        let target = self.target(leader_session);
        // `=<session>:` (empty window part) is the session's next free index.
        let mut steps = vec![leader_tmux(
            [
                "new-window",
                "-d",
                "-t",
                &format!("{}:", leader_session.target()),
                "-n",
                &self.0,
                "--",
            ],
            first,
            StepEffect::Creates {
                resource: self.resource(),
            },
        )];
        // A `-d` split goes right of the window's active pane, which stays the first one; adding
        // the others last to first therefore leaves them in order.
        for viewer in others.iter().rev() {
            steps.push(leader_tmux(
                ["split-window", "-d", "-h", "-t", &target, "--"],
                viewer,
                StepEffect::Adjusts,
            ));
        }
        if !others.is_empty() {
            steps.push(leader_tmux(
                ["select-layout", "-t", &target, "even-horizontal"],
                &[],
                StepEffect::Adjusts,
            ));
        }
        steps
    }

    /// The step on the leader's server that kills this window (its panes' viewers exit with it).
    pub fn destroy(&self, leader_session: &SessionName) -> PlanStep {
        leader_tmux(
            ["kill-window", "-t", &self.target(leader_session)],
            &[],
            StepEffect::Destroys {
                resource: self.resource(),
            },
        )
    }
}

impl TryFrom<String> for OverviewWindow {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let overview = name.strip_prefix(PREFIX).is_some_and(|rest| {
            let numbered = rest
                .rsplit_once('-')
                .filter(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
                .map_or(rest, |(head, _)| head);
            numbered.len() > SUFFIX.len() && numbered.ends_with(SUFFIX)
        });
        if overview && name.chars().all(is_label_char) {
            Ok(Self(name))
        } else {
            Err(format!(
                "{name:?} is not an overview window this display makes ({PREFIX}<team>{SUFFIX}[-N])"
            ))
        }
    }
}

impl From<OverviewWindow> for String {
    fn from(window: OverviewWindow) -> Self {
        window.0
    }
}

impl fmt::Display for OverviewWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn leader_tmux<const N: usize>(head: [&str; N], tail: &[String], effect: StepEffect) -> PlanStep {
    PlanStep::Tmux {
        server: TmuxServer::Leader,
        args: head
            .iter()
            .map(|a| a.to_string())
            .chain(tail.iter().cloned())
            .collect(),
        effect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(name: &str) -> SessionName {
        SessionName::try_from(name.to_string()).unwrap()
    }

    fn viewer(agent: &str) -> Vec<String> {
        vec!["attach".into(), agent.into()]
    }

    fn args(step: &PlanStep) -> Vec<&str> {
        match step {
            PlanStep::Tmux { args, .. } => args.iter().map(String::as_str).collect(),
            other => panic!("not a tmux step: {other:?}"),
        }
    }

    #[test]
    fn windows_are_named_after_the_team_and_numbered_from_two() {
        assert_eq!(
            OverviewWindow::nth("alpha", 0).to_string(),
            "ta-alpha-overview"
        );
        assert_eq!(
            OverviewWindow::nth("alpha", 1).to_string(),
            "ta-alpha-overview-2"
        );
    }

    #[test]
    fn teams_whose_names_sanitise_alike_get_different_windows() {
        let spaced = OverviewWindow::nth("my team", 0);
        let underscored = OverviewWindow::nth("my_team", 0);
        assert_ne!(spaced, underscored);
        assert!(spaced.to_string().chars().all(is_label_char));
        assert_eq!(OverviewWindow::try_from(spaced.to_string()), Ok(spaced));
    }

    #[test]
    fn only_overview_window_names_come_back_from_a_handle() {
        for foreign in [
            "main",
            "ta-overview",
            "ta--overview",
            "ta-x-overview-",
            "ta-x-overview-2b",
            "ta-x:1-overview",
            "vim",
        ] {
            assert!(
                OverviewWindow::try_from(foreign.to_string()).is_err(),
                "{foreign:?} was accepted"
            );
        }
        for ours in ["ta-x-overview", "ta-x-overview-12"] {
            assert!(OverviewWindow::try_from(ours.to_string()).is_ok(), "{ours}");
        }
    }

    #[test]
    fn a_window_of_three_keeps_its_workers_in_order_without_switching_anything() {
        let window = OverviewWindow::nth("alpha", 0);
        let steps = window.create(
            &session("main"),
            &[viewer("w1"), viewer("w2"), viewer("w3")],
        );
        let shown: Vec<Vec<&str>> = steps.iter().map(args).collect();
        assert_eq!(
            shown,
            [
                vec![
                    "new-window",
                    "-d",
                    "-t",
                    "=main:",
                    "-n",
                    "ta-alpha-overview",
                    "--",
                    "attach",
                    "w1"
                ],
                vec![
                    "split-window",
                    "-d",
                    "-h",
                    "-t",
                    "=main:=ta-alpha-overview",
                    "--",
                    "attach",
                    "w3"
                ],
                vec![
                    "split-window",
                    "-d",
                    "-h",
                    "-t",
                    "=main:=ta-alpha-overview",
                    "--",
                    "attach",
                    "w2"
                ],
                vec![
                    "select-layout",
                    "-t",
                    "=main:=ta-alpha-overview",
                    "even-horizontal"
                ],
            ]
        );
        assert_eq!(
            steps[0].effect(),
            &StepEffect::Creates {
                resource: "window:ta-alpha-overview".into()
            }
        );
        assert!(
            steps[1..]
                .iter()
                .all(|s| s.effect() == &StepEffect::Adjusts)
        );
        assert!(steps.iter().all(|s| matches!(
            s,
            PlanStep::Tmux {
                server: TmuxServer::Leader,
                ..
            }
        )));
    }

    #[test]
    fn a_window_of_one_is_a_single_new_window() {
        let steps = OverviewWindow::nth("alpha", 1).create(&session("main"), &[viewer("w4")]);
        assert_eq!(steps.len(), 1);
        assert_eq!(args(&steps[0])[5], "ta-alpha-overview-2");
    }

    #[test]
    fn destroying_a_window_names_it_exactly() {
        let step = OverviewWindow::nth("alpha", 0).destroy(&session("main"));
        assert_eq!(
            args(&step),
            ["kill-window", "-t", "=main:=ta-alpha-overview"]
        );
        assert_eq!(
            step.effect(),
            &StepEffect::Destroys {
                resource: "window:ta-alpha-overview".into()
            }
        );
    }
}
