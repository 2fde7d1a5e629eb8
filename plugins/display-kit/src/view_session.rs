/*!
View sessions: the read-only windows onto one worker that a display shows.

A view session is a tmux session on the team's private server, grouped with the team's session:
it shares the workers' windows but keeps a current window of its own. Pinned to one worker's
window, it lets a client watch that worker without moving anybody else's view, while messages
still reach the worker's pane by id. This module owns their names (deterministic from team and
agent, safe as tmux targets, recognisable when they come back in a handle), the steps that create
and destroy one, and the command a viewer runs to attach to one read-only.

Shared by both tmux-based displays (`display-tmux-overview`, `display-terminal`).
*/

use std::fmt;

use serde::{Deserialize, Serialize};
use team_agent_plugin_api::{PlanStep, PluginError, StepEffect, TeamView, TmuxServer, WorkerView};

const PREFIX: &str = "ta-view-";
/// Longest part of a team or agent name kept in a generated name; the fingerprint keeps
/// truncated names distinct.
const LABEL_MAX: usize = 24;
const FINGERPRINT_LEN: usize = 8;

/// A view session this display made (or would make). Deserialising one from a handle accepts only
/// names of that shape, so a tampered handle can never aim `kill-session` at the team's own
/// session or at anything else it did not create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ViewSession(String);

impl ViewSession {
    /// The view session of `agent_id` in `team`: `ta-view-<team>-<agent>-<fingerprint>`.
    pub fn for_worker(team: &str, agent_id: &str) -> Self {
        Self(format!(
            "{PREFIX}{}-{}-{}",
            label(team),
            label(agent_id),
            fingerprint(&[team, agent_id])
        ))
    }

    /// The resource name the plan's effects use for this session.
    pub fn resource(&self) -> String {
        format!("view:{}", self.0)
    }

    /// On the team's server: create the session in the team session's group, then make the
    /// worker's window its current one.
    pub fn create(&self, team_session: &SessionName, window_id: &WindowId) -> [PlanStep; 2] {
        [
            team_tmux(
                &[
                    "new-session",
                    "-d",
                    "-t",
                    &team_session.target(),
                    "-s",
                    &self.0,
                ],
                StepEffect::Creates {
                    resource: self.resource(),
                },
            ),
            team_tmux(
                &["select-window", "-t", &format!("={self}:{window_id}")],
                StepEffect::Adjusts,
            ),
        ]
    }

    /// On the team's server: kill the session. The worker's window lives on in the team's own
    /// session; only this view of it goes.
    pub fn destroy(&self) -> PlanStep {
        team_tmux(
            &["kill-session", "-t", &format!("={self}")],
            StepEffect::Destroys {
                resource: self.resource(),
            },
        )
    }

    /// The argv of a client that watches this session: read-only, and (`-r` also means
    /// `ignore-size`) never resizing the worker's window.
    pub fn attach_command(&self, tmux: &str, team_socket: &str) -> Vec<String> {
        // A viewer usually starts from inside some tmux (the leader's pane, or a host running in
        // one), and a tmux client refuses to start while TMUX is set.
        [
            "env",
            "-u",
            "TMUX",
            tmux,
            "-S",
            team_socket,
            "attach-session",
            "-r",
            "-t",
            &format!("={self}"),
        ]
        .map(String::from)
        .to_vec()
    }
}

impl TryFrom<String> for ViewSession {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        let shaped = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.rsplit_once('-'))
            .is_some_and(|(labels, fp)| {
                !labels.is_empty()
                    && fp.len() == FINGERPRINT_LEN
                    && fp.chars().all(|c| c.is_ascii_hexdigit())
            });
        if shaped
            && name.chars().all(is_label_char)
            && name.len() <= PREFIX.len() + 2 * LABEL_MAX + 2 + FINGERPRINT_LEN
        {
            Ok(Self(name))
        } else {
            Err(format!(
                "{name:?} is not a view session this display makes ({PREFIX}<team>-<agent>-<fingerprint>)"
            ))
        }
    }
}

impl From<ViewSession> for String {
    fn from(session: ViewSession) -> Self {
        session.0
    }
}

impl fmt::Display for ViewSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name of an existing tmux session, checked so that `=<name>` is a valid exact target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionName(String);

impl SessionName {
    /// `=<name>`: exactly this session, never one whose name merely starts the same.
    pub fn target(&self) -> String {
        format!("={}", self.0)
    }
}

impl TryFrom<String> for SessionName {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        // tmux itself never names a session with `:` or `.` (they separate target parts).
        if name.is_empty() || name.contains([':', '.']) || name.chars().any(char::is_control) {
            Err(format!(
                "{name:?} is not a tmux session name (empty, or holds `:`, `.` or a control character)"
            ))
        } else {
            Ok(Self(name))
        }
    }
}

impl From<SessionName> for String {
    fn from(name: SessionName) -> Self {
        name.0
    }
}

/// A window id on the team's server (`@N`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowId(String);

impl WindowId {
    pub fn parse(id: &str) -> Option<Self> {
        let digits = id.strip_prefix('@')?;
        (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
            .then(|| Self(id.to_string()))
    }
}

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One worker of a team view and the view session pinned to it.
#[derive(Debug)]
pub struct PinnedWorker<'a> {
    pub worker: &'a WorkerView,
    pub window_id: WindowId,
    pub session: ViewSession,
}

/// What a display needs to show a team's workers, checked once: the team session and socket as
/// tmux arguments, and a view session per worker (window ids well-formed, agent ids unique so no
/// two workers share a view session).
#[derive(Debug)]
pub struct TeamViews<'a> {
    pub team_session: SessionName,
    pub team_socket: &'a str,
    pub workers: Vec<PinnedWorker<'a>>,
}

impl<'a> TeamViews<'a> {
    pub fn of(view: &'a TeamView) -> Result<Self, PluginError> {
        if view.team.is_empty() {
            return Err(PluginError::invalid_request(
                "the team view has no team name",
            ));
        }
        let team_session = SessionName::try_from(view.session_name.clone())
            .map_err(|e| PluginError::invalid_request(format!("the team session: {e}")))?;
        let team_socket = view.tmux_socket.to_str().ok_or_else(|| {
            PluginError::invalid_request(format!(
                "the team's tmux socket {} is not valid UTF-8",
                view.tmux_socket.display()
            ))
        })?;
        let mut workers: Vec<PinnedWorker<'a>> = Vec::with_capacity(view.workers.len());
        for worker in &view.workers {
            if worker.agent_id.is_empty() {
                return Err(PluginError::invalid_request(
                    "a worker has an empty agent id",
                ));
            }
            if workers.iter().any(|p| p.worker.agent_id == worker.agent_id) {
                return Err(PluginError::invalid_request(format!(
                    "worker {:?} appears twice in the team view",
                    worker.agent_id
                )));
            }
            let window_id = WindowId::parse(&worker.window_id).ok_or_else(|| {
                PluginError::invalid_request(format!(
                    "worker {:?}: window id {:?} is not a tmux window id (@N)",
                    worker.agent_id, worker.window_id
                ))
            })?;
            workers.push(PinnedWorker {
                worker,
                window_id,
                session: ViewSession::for_worker(&view.team, &worker.agent_id),
            });
        }
        Ok(Self {
            team_session,
            team_socket,
            workers,
        })
    }
}

/// `raw` cut to [`LABEL_MAX`] characters, each one outside `[A-Za-z0-9_-]` replaced by `_`.
pub fn label(raw: &str) -> String {
    raw.chars()
        .take(LABEL_MAX)
        .map(|c| if is_label_char(c) { c } else { '_' })
        .collect()
}

pub fn is_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Eight hex digits of FNV-1a over the parts (NUL-separated): stable across builds and
/// platforms, so a name made today is the name made after an upgrade.
pub fn fingerprint(parts: &[&str]) -> String {
    let hash = parts
        .join("\0")
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| {
            (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
        });
    format!("{hash:08x}")
}

fn team_tmux(args: &[&str], effect: StepEffect) -> PlanStep {
    PlanStep::Tmux {
        server: TmuxServer::Team,
        args: args.iter().map(|a| a.to_string()).collect(),
        effect,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn team_view(workers: &[(&str, &str)]) -> TeamView {
        TeamView {
            team: "alpha".into(),
            session_name: "team-alpha".into(),
            tmux_socket: PathBuf::from("/tmp/ta/sock"),
            workers: workers
                .iter()
                .enumerate()
                .map(|(i, (agent, window))| WorkerView {
                    agent_id: agent.to_string(),
                    window_id: window.to_string(),
                    pane_id: format!("%{i}"),
                })
                .collect(),
            leader: None,
            environment: Default::default(),
        }
    }

    #[test]
    fn a_view_session_name_is_deterministic_and_tmux_safe() {
        let a = ViewSession::for_worker("my team", "w.1");
        assert_eq!(a, ViewSession::for_worker("my team", "w.1"));
        assert!(a.to_string().starts_with("ta-view-my_team-w_1-"));
        assert!(a.to_string().chars().all(is_label_char));
    }

    #[test]
    fn names_that_sanitise_alike_still_get_distinct_view_sessions() {
        let dotted = ViewSession::for_worker("t", "w.1");
        let underscored = ViewSession::for_worker("t", "w_1");
        assert_ne!(dotted, underscored);
        // The dash that joins team and agent could otherwise make two pairs collide.
        assert_ne!(
            ViewSession::for_worker("a-b", "c"),
            ViewSession::for_worker("a", "b-c")
        );
    }

    #[test]
    fn long_names_are_cut_but_stay_distinct_and_parseable() {
        let long = "x".repeat(200);
        let one = ViewSession::for_worker(&long, "agent-1");
        let two = ViewSession::for_worker(&format!("{long}y"), "agent-1");
        assert_ne!(one, two);
        assert_eq!(ViewSession::try_from(one.to_string()), Ok(one));
    }

    #[test]
    fn only_names_this_display_makes_come_back_from_a_handle() {
        for foreign in [
            "team-alpha",
            "ta-view-",
            "ta-view-x-1234567",
            "ta-view-x-1234567g",
            "ta-view-x:1-12345678",
            "",
        ] {
            assert!(
                ViewSession::try_from(foreign.to_string()).is_err(),
                "{foreign:?} was accepted"
            );
        }
    }

    #[test]
    fn a_view_session_is_created_in_the_team_group_and_pinned_to_the_worker_window() {
        let session = ViewSession::for_worker("alpha", "w1");
        let team = SessionName::try_from("team-alpha".to_string()).unwrap();
        let [create, pin] = session.create(&team, &WindowId::parse("@7").unwrap());
        let name = session.to_string();
        assert_eq!(
            create,
            PlanStep::Tmux {
                server: TmuxServer::Team,
                args: ["new-session", "-d", "-t", "=team-alpha", "-s", &name]
                    .map(String::from)
                    .to_vec(),
                effect: StepEffect::Creates {
                    resource: format!("view:{name}")
                },
            }
        );
        assert_eq!(
            pin,
            PlanStep::Tmux {
                server: TmuxServer::Team,
                args: ["select-window", "-t", &format!("={name}:@7")]
                    .map(String::from)
                    .to_vec(),
                effect: StepEffect::Adjusts,
            }
        );
        assert_eq!(
            session.destroy(),
            PlanStep::Tmux {
                server: TmuxServer::Team,
                args: ["kill-session", "-t", &format!("={name}")]
                    .map(String::from)
                    .to_vec(),
                effect: StepEffect::Destroys {
                    resource: format!("view:{name}")
                },
            }
        );
    }

    #[test]
    fn the_viewer_attaches_read_only_with_tmux_unset() {
        let session = ViewSession::for_worker("alpha", "w1");
        let argv = session.attach_command("/usr/bin/tmux", "/tmp/ta/sock");
        let target = format!("={session}");
        assert_eq!(
            argv,
            [
                "env",
                "-u",
                "TMUX",
                "/usr/bin/tmux",
                "-S",
                "/tmp/ta/sock",
                "attach-session",
                "-r",
                "-t",
                &target
            ]
        );
    }

    #[test]
    fn session_names_that_cannot_be_exact_targets_are_refused() {
        for bad in ["", "a:b", "a.b", "a\nb"] {
            assert!(SessionName::try_from(bad.to_string()).is_err(), "{bad:?}");
        }
        assert_eq!(
            SessionName::try_from("main".to_string()).unwrap().target(),
            "=main"
        );
    }

    #[test]
    fn the_team_views_check_window_ids_and_unique_agents() {
        let ok = team_view(&[("w1", "@1"), ("w2", "@2")]);
        let views = TeamViews::of(&ok).unwrap();
        assert_eq!(views.workers.len(), 2);
        assert_eq!(views.team_socket, "/tmp/ta/sock");

        let bad_window = team_view(&[("w1", "1")]);
        let e = TeamViews::of(&bad_window).unwrap_err();
        assert!(e.message.contains("\"w1\""), "{e}");

        let twice = team_view(&[("w1", "@1"), ("w1", "@2")]);
        assert!(TeamViews::of(&twice).unwrap_err().message.contains("twice"));

        let mut no_session = team_view(&[]);
        no_session.session_name = "a:b".into();
        assert!(TeamViews::of(&no_session).is_err());
    }

    #[test]
    fn the_fingerprint_is_fnv1a_and_separates_parts() {
        // FNV-1a 32 of the empty string is its offset basis.
        assert_eq!(fingerprint(&[""]), "811c9dc5");
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
    }
}
