//! The checks of a display plugin.

use std::collections::BTreeSet;
use std::path::PathBuf;

use team_agent_plugin_api::loader::{DisplayClient, FaultPolicy, LoadedPlugin};
use team_agent_plugin_api::{
    DisplayEnvironment, DisplayPlan, LeaderPane, StepEffect, TeamView, WorkerView,
};

use crate::{Check, manifest_agrees};

pub fn run(plugin: &LoadedPlugin, checks: &mut Vec<Check>) {
    let client = DisplayClient::new(plugin, FaultPolicy::KeepCalling)
        .expect("the loader only returns displays with a display table");
    checks.push(Check::from_result(
        "manifest.valid",
        manifest_valid(plugin, &client),
    ));
    checks.push(Check::from_result("display.probe", probe(&client)));
    checks.push(Check::from_result(
        "display.plan_symmetry",
        plan_symmetry(&client),
    ));
    checks.push(Check::from_result(
        "display.no_panic.garbage",
        no_panic(&client),
    ));
}

fn manifest_valid(plugin: &LoadedPlugin, client: &DisplayClient) -> Result<String, String> {
    let manifest = client.manifest().map_err(|e| e.to_string())?;
    manifest_agrees(
        &plugin.info,
        &manifest.name,
        &manifest.aliases,
        &manifest.version,
    )?;
    Ok(format!("{} {}", manifest.name, manifest.version))
}

fn environment() -> DisplayEnvironment {
    DisplayEnvironment {
        os: std::env::consts::OS.into(),
        env: [("TMUX".to_string(), "/tmp/tmux-1000/default,1,0".to_string())]
            .into_iter()
            .collect(),
        path_dirs: vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")],
    }
}

fn view() -> TeamView {
    TeamView {
        team: "conformance".into(),
        session_name: "team-conformance".into(),
        tmux_socket: PathBuf::from("/tmp/ta-conformance/sock"),
        workers: (1..=4)
            .map(|i| WorkerView {
                agent_id: format!("worker-{i}"),
                window_id: format!("@{i}"),
                pane_id: format!("%{i}"),
            })
            .collect(),
        leader: Some(LeaderPane {
            socket: PathBuf::from("/tmp/tmux-1000/default"),
            pane_id: "%0".into(),
            session_name: "main".into(),
        }),
        environment: environment(),
    }
}

fn probe(client: &DisplayClient) -> Result<String, String> {
    let probe = client.probe(&environment()).map_err(|e| e.to_string())?;
    if probe.detail.trim().is_empty() {
        return Err("the probe gives no detail".into());
    }
    Ok(format!("available: {} ({})", probe.available, probe.detail))
}

/// The resources the steps of `plan` create: what `display.plan_symmetry` holds a `close` to.
pub fn resources_created(plan: &DisplayPlan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s.effect() {
            StepEffect::Creates { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect()
}

/// The resources the steps of `plan` destroy.
pub fn resources_destroyed(plan: &DisplayPlan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s.effect() {
            StepEffect::Destroys { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect()
}

fn plan_symmetry(client: &DisplayClient) -> Result<String, String> {
    let view = view();
    let opened = client.open(&view).map_err(|e| format!("open: {e}"))?;
    let closed = client
        .close(&opened.handle)
        .map_err(|e| format!("close: {e}"))?;
    let created = resources_created(&opened);
    let destroyed = resources_destroyed(&closed);
    if created != destroyed {
        return Err(format!(
            "open creates {created:?} but close destroys {destroyed:?}"
        ));
    }
    if !resources_destroyed(&opened).is_empty() {
        return Err("open destroys something it did not create".into());
    }
    let rebuilt = client
        .rebuild(&opened.handle, &view)
        .map_err(|e| format!("rebuild: {e}"))?;
    let closed_again = client
        .close(&rebuilt.handle)
        .map_err(|e| format!("close after rebuild: {e}"))?;
    if resources_created(&rebuilt) != resources_destroyed(&closed_again) {
        return Err("close does not undo what rebuild created".into());
    }
    Ok(format!(
        "open creates {} resource(s), close destroys the same",
        created.len()
    ))
}

fn no_panic(client: &DisplayClient) -> Result<String, String> {
    let handles = [
        serde_json::Value::Null,
        serde_json::json!("garbage"),
        serde_json::json!({"windows": [1, 2, {"x": null}], "pids": "nope"}),
        serde_json::json!([[[[[]]]]]),
    ];
    for handle in &handles {
        for result in [
            client.close(handle).map(drop),
            client.rebuild(handle, &view()).map(drop),
        ] {
            if let Err(e) = result
                && e.is_panic()
            {
                return Err(format!("handle {handle}: {e}"));
            }
        }
    }
    Ok(format!(
        "{} garbage handles answered without a panic",
        handles.len()
    ))
}
