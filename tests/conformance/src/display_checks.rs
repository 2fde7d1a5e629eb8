//! The checks of a display plugin, all made in the suite's [`ProbeEnvironment`].

use std::collections::BTreeSet;

use team_agent_plugin_api::loader::{DisplayClient, FaultPolicy, LoadedPlugin};
use team_agent_plugin_api::{DisplayPlan, StepEffect};

use crate::probe_environment::ProbeEnvironment;
use crate::{Check, manifest_agrees};

/// The checks that call the display with the suite's environment or a team in it.
const ENVIRONMENT_CHECKS: [&str; 3] = [
    "display.probe",
    "display.plan_symmetry",
    "display.no_panic.garbage",
];

pub fn run(plugin: &LoadedPlugin, checks: &mut Vec<Check>) {
    let client = DisplayClient::new(plugin, FaultPolicy::KeepCalling)
        .expect("the loader only returns displays with a display table");
    checks.push(Check::from_result(
        "manifest.valid",
        manifest_valid(plugin, &client),
    ));
    let machine = match ProbeEnvironment::new() {
        Ok(machine) => machine,
        Err(e) => {
            checks.extend(ENVIRONMENT_CHECKS.map(|id| {
                Check::fail(
                    id,
                    format!("the suite could not set up its probe environment: {e}"),
                )
            }));
            return;
        }
    };
    checks.push(Check::from_result(
        "display.probe",
        probe(&client, &machine),
    ));
    checks.push(Check::from_result(
        "display.plan_symmetry",
        plan_symmetry(&client, &machine),
    ));
    checks.push(Check::from_result(
        "display.no_panic.garbage",
        no_panic(&client, &machine),
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

/// Either answer passes: a display may need more than the suite's environment has, and says so.
fn probe(client: &DisplayClient, machine: &ProbeEnvironment) -> Result<String, String> {
    let probe = client
        .probe(machine.environment())
        .map_err(|e| e.to_string())?;
    if probe.detail.trim().is_empty() {
        return Err("the probe gives no detail".into());
    }
    let verdict = if probe.available {
        "available"
    } else {
        "unavailable"
    };
    Ok(format!(
        "{verdict} in the suite's environment ({})",
        probe.detail
    ))
}

/// The resources the steps of `plan` create: what `display.plan_symmetry` holds a `close` to.
pub fn resources_created<H>(plan: &DisplayPlan<H>) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s.effect() {
            StepEffect::Creates { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect()
}

/// The resources the steps of `plan` destroy.
pub fn resources_destroyed<H>(plan: &DisplayPlan<H>) -> BTreeSet<String> {
    plan.steps
        .iter()
        .filter_map(|s| match s.effect() {
            StepEffect::Destroys { resource } => Some(resource.clone()),
            _ => None,
        })
        .collect()
}

/// `open` must plan: the suite's environment has every program a display may look for, so an
/// error is the display's own.
fn plan_symmetry(client: &DisplayClient, machine: &ProbeEnvironment) -> Result<String, String> {
    let view = machine.team_view();
    let opened = client
        .open(&view)
        .map_err(|e| format!("open, in the suite's environment: {e}"))?;
    let closed = client
        .close(&opened.handle)
        .map_err(|e| format!("close: {e}"))?;
    let created = resources_created(&opened);
    undoes("open", &created, "close", &resources_destroyed(&closed))?;
    if !resources_destroyed(&opened).is_empty() {
        return Err("open destroys something it did not create".into());
    }
    let rebuilt = client
        .rebuild(&opened.handle, &view)
        .map_err(|e| format!("rebuild: {e}"))?;
    let closed_again = client
        .close(&rebuilt.handle)
        .map_err(|e| format!("close after rebuild: {e}"))?;
    undoes(
        "rebuild",
        &resources_created(&rebuilt),
        "the close after it",
        &resources_destroyed(&closed_again),
    )?;
    Ok(format!(
        "open creates {} resource(s), close destroys the same",
        created.len()
    ))
}

/// Whether `closer` destroys exactly what `opener` created, naming the difference if not.
fn undoes(
    opener: &str,
    created: &BTreeSet<String>,
    closer: &str,
    destroyed: &BTreeSet<String>,
) -> Result<(), String> {
    let left: Vec<&String> = created.difference(destroyed).collect();
    let foreign: Vec<&String> = destroyed.difference(created).collect();
    let mut faults = Vec::new();
    if !left.is_empty() {
        faults.push(format!("{closer} leaves {left:?}, which {opener} created"));
    }
    if !foreign.is_empty() {
        faults.push(format!(
            "{closer} destroys {foreign:?}, which {opener} did not create"
        ));
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(faults.join("; "))
    }
}

fn no_panic(client: &DisplayClient, machine: &ProbeEnvironment) -> Result<String, String> {
    let handles = [
        serde_json::Value::Null,
        serde_json::json!("garbage"),
        serde_json::json!({"windows": [1, 2, {"x": null}], "pids": "nope"}),
        serde_json::json!([[[[[]]]]]),
    ];
    for handle in &handles {
        for result in [
            client.close(handle).map(drop),
            client.rebuild(handle, &machine.team_view()).map(drop),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn a_close_that_leaves_or_invents_a_resource_is_told_which() {
        let created = resources(&["window:a", "window:b"]);
        assert_eq!(undoes("open", &created, "close", &created), Ok(()));
        let why = undoes(
            "open",
            &created,
            "close",
            &resources(&["window:b", "pid:9"]),
        )
        .unwrap_err();
        assert_eq!(
            why,
            "close leaves [\"window:a\"], which open created; \
             close destroys [\"pid:9\"], which open did not create"
        );
    }
}
