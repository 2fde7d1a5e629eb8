/*!
The `tmux-overview` display (alias `adaptive`): the team's workers shown in windows of the
leader's own tmux session.

`open` adds windows named `ta-<team>-overview`, `ta-<team>-overview-2`, … to the leader's session,
each tiling up to three panes side by side. Each pane is a read-only tmux client of one worker's
view session on the team's private server (see `view_session`): the operator watches every worker
without typing into it or resizing its window, and neither the leader's pane nor the window the
operator is in changes. The handle records what was made; `close` destroys exactly that, and
`rebuild` (after a restart) closes what the handle names, then opens for the new view.

The plan `open` returns, in the order the host runs it:
1. on the team's server, per worker: `new-session -d -t =<team session> -s <view session>`
   (creates `view:<view session>`), `select-window -t =<view session>:<window id>`;
2. on the leader's server, per window of up to three workers:
   `new-window -d -t =<leader session>: -n <window> -- <viewer>` (creates `window:<window>`),
   `split-window -d -h -t =<leader session>:=<window> -- <viewer>` per further worker, and
   `select-layout -t =<leader session>:=<window> even-horizontal`;

where `<viewer>` is `env -u TMUX <tmux> -S <team socket> attach-session -r -t =<view session>`.
`close` returns `kill-window -t =<leader session>:=<window>` per window (leader's server), then
`kill-session -t =<view session>` per view session (team's server).
*/

mod handle;
mod overview;

use team_agent_display_kit::handle as display_handle;
use team_agent_display_kit::programs;
use team_agent_display_kit::view_session::{SessionName, TeamViews};
use team_agent_plugin_api::{
    DisplayEnvironment, DisplayPlan, DisplayPlugin, DisplayProbe, PluginError, TeamView,
    export_display,
};

use crate::handle::{LeaderRecord, OverviewHandle};
use crate::overview::{OverviewWindow, WORKERS_PER_WINDOW};

#[derive(Debug, Default)]
pub struct TmuxOverview;

impl DisplayPlugin for TmuxOverview {
    const NAME: &'static str = "tmux-overview";
    const ALIASES: &'static [&'static str] = &["adaptive"];
    const DESCRIPTION: &'static str =
        "windows in the leader's tmux session, each showing up to three workers read-only";

    fn probe(&self, environment: &DisplayEnvironment) -> DisplayProbe {
        match environment.env.get("TMUX").filter(|v| !v.is_empty()) {
            Some(tmux) => DisplayProbe {
                available: true,
                detail: format!(
                    "the leader runs inside tmux (server {}): windows of up to three workers are \
                     added to its session",
                    // TMUX is `<socket>,<server pid>,<session index>`.
                    tmux.split(',').next().unwrap_or(tmux)
                ),
            },
            None => DisplayProbe {
                available: false,
                detail: "the leader is not inside tmux (TMUX is not set), so there is no leader \
                         session to add windows to; start the leader inside tmux, or use the \
                         `terminal` or `none` display"
                    .into(),
            },
        }
    }

    type Handle = OverviewHandle;

    fn open(&self, view: &TeamView) -> Result<DisplayPlan<OverviewHandle>, PluginError> {
        open_plan(view)
    }

    fn close(&self, handle: &OverviewHandle) -> Result<DisplayPlan<()>, PluginError> {
        display_handle::close(handle)
    }

    fn rebuild(
        &self,
        handle: &OverviewHandle,
        view: &TeamView,
    ) -> Result<DisplayPlan<OverviewHandle>, PluginError> {
        display_handle::rebuild(handle, || open_plan(view))
    }
}

fn open_plan(view: &TeamView) -> Result<DisplayPlan<OverviewHandle>, PluginError> {
    let leader = view.leader.as_ref().ok_or_else(|| {
        PluginError::unsupported(
            "the leader is not inside tmux, so there is no leader session to add windows to; \
             the team runs on without a display (`team-agent attach AGENT` shows a worker)",
        )
    })?;
    let leader_session = SessionName::try_from(leader.session_name.clone())
        .map_err(|e| PluginError::invalid_request(format!("the leader's session: {e}")))?;
    let leader_socket = leader.socket.to_str().ok_or_else(|| {
        PluginError::invalid_request(format!(
            "the leader's tmux socket {} is not valid UTF-8",
            leader.socket.display()
        ))
    })?;
    let views = TeamViews::of(view)?;
    let tmux = programs::tmux(&view.environment);

    let mut steps = Vec::new();
    for pinned in &views.workers {
        steps.extend(
            pinned
                .session
                .create(&views.team_session, &pinned.window_id),
        );
    }
    let mut windows = Vec::new();
    for (index, group) in views.workers.chunks(WORKERS_PER_WINDOW).enumerate() {
        let window = OverviewWindow::nth(&view.team, index);
        let viewers: Vec<Vec<String>> = group
            .iter()
            .map(|p| p.session.attach_command(&tmux, views.team_socket))
            .collect();
        steps.extend(window.create(&leader_session, &viewers));
        windows.push(window);
    }

    let handle = OverviewHandle::new(
        LeaderRecord {
            socket: leader_socket.to_string(),
            session: leader_session,
        },
        windows,
        views.workers.into_iter().map(|p| p.session).collect(),
    );
    Ok(DisplayPlan { steps, handle })
}

export_display!(TmuxOverview);

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use team_agent_conformance::{resources_created, resources_destroyed};
    use team_agent_display_kit::view_session::ViewSession;
    use team_agent_plugin_api::{
        ErrorKind, LeaderPane, PlanStep, TmuxServer, WorkerView, close_recorded, rebuild_recorded,
    };

    use super::*;

    fn team(workers: usize) -> TeamView {
        TeamView {
            team: "alpha".into(),
            session_name: "team-alpha".into(),
            tmux_socket: PathBuf::from("/tmp/ta-x/sock"),
            workers: (1..=workers)
                .map(|i| WorkerView {
                    agent_id: format!("w{i}"),
                    window_id: format!("@{i}"),
                    pane_id: format!("%{i}"),
                })
                .collect(),
            leader: Some(LeaderPane {
                socket: PathBuf::from("/tmp/tmux-1000/default"),
                pane_id: "%42".into(),
                session_name: "main".into(),
            }),
            environment: DisplayEnvironment::default(),
        }
    }

    fn tmux_steps(plan: &DisplayPlan<OverviewHandle>, on: TmuxServer) -> Vec<Vec<String>> {
        plan.steps
            .iter()
            .filter_map(|s| match s {
                PlanStep::Tmux { server, args, .. } if *server == on => Some(args.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn probe_is_available_only_inside_tmux_and_says_why() {
        let mut environment = DisplayEnvironment::default();
        let outside = TmuxOverview.probe(&environment);
        assert!(!outside.available);
        assert!(
            outside.detail.contains("TMUX is not set"),
            "{}",
            outside.detail
        );

        environment
            .env
            .insert("TMUX".into(), "/tmp/tmux-1000/default,123,0".into());
        let inside = TmuxOverview.probe(&environment);
        assert!(inside.available);
        assert!(
            inside.detail.contains("/tmp/tmux-1000/default)"),
            "{}",
            inside.detail
        );
    }

    #[test]
    fn four_workers_open_as_one_view_session_each_and_windows_of_three_and_one() {
        let plan = TmuxOverview.open(&team(4)).unwrap();
        let team_steps = tmux_steps(&plan, TmuxServer::Team);
        assert_eq!(team_steps.len(), 8);
        assert!(team_steps.iter().step_by(2).all(|a| a[0] == "new-session"));
        assert!(
            team_steps
                .iter()
                .skip(1)
                .step_by(2)
                .all(|a| a[0] == "select-window")
        );
        assert_eq!(
            team_steps[7][2],
            format!("={}:@4", ViewSession::for_worker("alpha", "w4"))
        );

        let leader_steps = tmux_steps(&plan, TmuxServer::Leader);
        let verbs: Vec<&str> = leader_steps.iter().map(|a| a[0].as_str()).collect();
        assert_eq!(
            verbs,
            [
                "new-window",
                "split-window",
                "split-window",
                "select-layout",
                "new-window"
            ]
        );
        assert_eq!(
            resources_created(&plan)
                .into_iter()
                .filter(|r| r.starts_with("window:"))
                .collect::<Vec<_>>(),
            ["window:ta-alpha-overview", "window:ta-alpha-overview-2"]
        );
        // View sessions exist before any pane attaches to one.
        let first_leader_step = plan
            .steps
            .iter()
            .position(|s| {
                matches!(
                    s,
                    PlanStep::Tmux {
                        server: TmuxServer::Leader,
                        ..
                    }
                )
            })
            .unwrap();
        assert_eq!(first_leader_step, 8);
    }

    #[test]
    fn every_pane_attaches_read_only_to_its_own_worker_view() {
        let plan = TmuxOverview.open(&team(1)).unwrap();
        let new_window = &tmux_steps(&plan, TmuxServer::Leader)[0];
        let view = ViewSession::for_worker("alpha", "w1");
        let expected: Vec<String> = [
            "new-window",
            "-d",
            "-t",
            "=main:",
            "-n",
            "ta-alpha-overview",
            "--",
            "env",
            "-u",
            "TMUX",
            "tmux",
            "-S",
            "/tmp/ta-x/sock",
            "attach-session",
            "-r",
            "-t",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("={view}")])
        .collect();
        assert_eq!(new_window, &expected);
    }

    #[test]
    fn the_leader_pane_and_current_window_are_never_touched() {
        let plan = TmuxOverview.open(&team(7)).unwrap();
        for args in tmux_steps(&plan, TmuxServer::Leader) {
            assert!(!args.iter().any(|a| a.contains("%42")), "{args:?}");
            if args[0] == "new-window" || args[0] == "split-window" {
                assert_eq!(args[1], "-d", "{args:?}");
            }
            let target = &args[args.iter().position(|a| a == "-t").unwrap() + 1];
            assert!(target.starts_with("=main:"), "{args:?}");
        }
    }

    #[test]
    fn close_destroys_exactly_what_open_created() {
        let opened = TmuxOverview.open(&team(5)).unwrap();
        let closed = TmuxOverview.close(&opened.handle).unwrap();
        assert_eq!(resources_created(&opened), resources_destroyed(&closed));
        assert_eq!(resources_created(&opened).len(), 5 + 2);
        assert!(resources_destroyed(&opened).is_empty());
    }

    #[test]
    fn rebuild_closes_the_recorded_display_then_opens_the_new_view() {
        let opened = TmuxOverview.open(&team(2)).unwrap();
        let mut restarted = team(4);
        restarted.leader.as_mut().unwrap().session_name = "work".into();
        let rebuilt = TmuxOverview.rebuild(&opened.handle, &restarted).unwrap();

        let close = TmuxOverview.close(&opened.handle).unwrap();
        let open = TmuxOverview.open(&restarted).unwrap();
        assert_eq!(rebuilt.steps[..close.steps.len()], close.steps[..]);
        assert_eq!(rebuilt.steps[close.steps.len()..], open.steps[..]);
        assert_eq!(rebuilt.handle, open.handle);
        assert_eq!(
            serde_json::to_value(&rebuilt.handle).unwrap()["leader"]["session"],
            "work"
        );
    }

    #[test]
    fn open_without_a_leader_in_tmux_is_an_error_with_the_reason() {
        let mut view = team(2);
        view.leader = None;
        let e = TmuxOverview.open(&view).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("not inside tmux"), "{e}");
    }

    #[test]
    fn a_team_without_workers_opens_nothing_but_still_records_a_handle() {
        let plan = TmuxOverview.open(&team(0)).unwrap();
        assert!(plan.steps.is_empty());
        assert!(TmuxOverview.close(&plan.handle).unwrap().steps.is_empty());
    }

    #[test]
    fn the_viewer_runs_the_tmux_found_on_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let tmux = dir.path().join("tmux");
        std::fs::write(&tmux, "").unwrap();
        std::fs::set_permissions(&tmux, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut view = team(1);
        view.environment.path_dirs = vec![dir.path().to_path_buf()];
        let plan = TmuxOverview.open(&view).unwrap();
        let new_window = &tmux_steps(&plan, TmuxServer::Leader)[0];
        assert_eq!(new_window[10], tmux.to_str().unwrap());
    }

    #[test]
    fn garbage_handles_are_errors_for_close_and_rebuild() {
        for garbage in [
            serde_json::Value::Null,
            serde_json::json!({"display": "tmux-overview"}),
            serde_json::json!(42),
        ] {
            assert!(close_recorded(&TmuxOverview, &garbage).is_err());
            assert!(rebuild_recorded(&TmuxOverview, &garbage, &team(1)).is_err());
        }
    }
}
