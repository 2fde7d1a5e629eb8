//! The checks a schema cannot express: unique agent ids, providers some installed plugin serves,
//! assignees and dependencies that exist, no dependency cycle, prompt and profile files that
//! exist. They run on the compiled spec (as JSON) and report JSON pointers into it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde_json::Value;

use super::schema::nearest;

/// The installed plugins a spec may name.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Every provider name and alias.
    pub providers: Vec<String>,
    /// The installed providers' main names (for messages).
    pub provider_names: Vec<String>,
    /// Every display name and alias.
    pub displays: Vec<String>,
}

/// One finding: the pointer into the spec, the message, and whether it is only a warning.
pub struct Finding {
    pub pointer: String,
    pub message: String,
    pub warning: bool,
}

pub(super) fn error(pointer: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        pointer: pointer.into(),
        message: message.into(),
        warning: false,
    }
}

fn warning(pointer: impl Into<String>, message: impl Into<String>) -> Finding {
    Finding {
        pointer: pointer.into(),
        message: message.into(),
        warning: true,
    }
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Runs every check. `spec_dir` resolves relative prompt files; `workspace` finds profiles.
pub fn check(spec: &Value, catalog: &Catalog, spec_dir: &Path, workspace: &Path) -> Vec<Finding> {
    let mut found = Vec::new();
    let agents = spec["agents"].as_array().cloned().unwrap_or_default();
    let leader_id = spec["leader"]["id"].as_str().unwrap_or("leader");
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, agent) in agents.iter().enumerate() {
        let Some(id) = agent["id"].as_str() else {
            continue;
        };
        if id == leader_id {
            found.push(error(
                format!("/agents/{i}/id"),
                format!("agent id \"{id}\" is the leader's id; pick another"),
            ));
        } else if let Some(first) = seen.insert(id, i) {
            found.push(error(
                format!("/agents/{i}/id"),
                format!("duplicate agent id \"{id}\" (also /agents/{first}/id)"),
            ));
        }
        if let Some(provider) = agent["provider"].as_str()
            && !catalog.providers.iter().any(|p| p == provider)
        {
            found.push(error(
                format!("/agents/{i}/provider"),
                unknown_provider(provider, catalog),
            ));
        }
        if let Some(file) = agent["system_prompt"]["file"].as_str() {
            let path = spec_dir.join(file);
            if !path.is_file() {
                found.push(error(
                    format!("/agents/{i}/system_prompt/file"),
                    format!("the prompt file {} does not exist", path.display()),
                ));
            }
        }
        if let Some(profile) = agent["profile"].as_str() {
            let path = workspace
                .join(".team")
                .join("profiles")
                .join(format!("{profile}.env"));
            if !path.is_file() {
                found.push(error(
                    format!("/agents/{i}/profile"),
                    format!(
                        "no profile file {} (KEY=VALUE lines, mode 0600)",
                        path.display()
                    ),
                ));
            }
        }
    }
    if let Some(provider) = spec["leader"]["provider"].as_str()
        && !catalog.providers.iter().any(|p| p == provider)
    {
        found.push(warning(
            "/leader/provider",
            format!("no installed provider plugin serves the leader's \"{provider}\": leader messages are submitted with a plain Enter"),
        ));
    }
    if let Some(display) = spec["runtime"]["display_backend"].as_str() {
        let mapped = super::model::map_display_backend(display);
        if mapped != super::model::AUTO_DISPLAY && !catalog.displays.contains(&mapped) {
            found.push(warning(
                "/runtime/display_backend",
                format!("no installed display plugin \"{mapped}\" (installed: {}); the team starts without one", list(&catalog.displays)),
            ));
        }
    }
    let ids: Vec<&str> = agents.iter().filter_map(|a| a["id"].as_str()).collect();
    check_assignees(spec, leader_id, &ids, &mut found);
    check_tasks(spec, &mut found);
    super::worktrees::check(spec, workspace, &mut found);
    found
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn unknown_provider(provider: &str, catalog: &Catalog) -> String {
    let mut message = format!(
        "no installed provider plugin serves \"{provider}\" (installed: {})",
        list(&catalog.provider_names)
    );
    if let Some(near) = nearest(provider, &catalog.providers) {
        message.push_str(&format!("; did you mean \"{near}\"?"));
    }
    message.push_str("; see `team-agent plugins list`");
    message
}

fn check_assignees(spec: &Value, leader_id: &str, ids: &[&str], found: &mut Vec<Finding>) {
    let known: Vec<String> = std::iter::once(leader_id)
        .chain(ids.iter().copied())
        .map(str::to_string)
        .collect();
    let mut check = |pointer: String, value: &Value| {
        if let Some(name) = value.as_str()
            && !known.iter().any(|k| k == name)
        {
            let mut message = format!("unknown assignee \"{name}\" (agents: {})", ids.join(", "));
            if let Some(near) = nearest(name, &known) {
                message.push_str(&format!("; did you mean \"{near}\"?"));
            }
            found.push(error(pointer, message));
        }
    };
    check(
        "/routing/default_assignee".into(),
        &spec["routing"]["default_assignee"],
    );
    for (i, rule) in spec["routing"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        check(format!("/routing/rules/{i}/assign_to"), &rule["assign_to"]);
    }
    for (i, task) in spec["tasks"].as_array().into_iter().flatten().enumerate() {
        check(format!("/tasks/{i}/assignee"), &task["assignee"]);
    }
    for (i, id) in strings(&spec["runtime"]["startup_order"])
        .into_iter()
        .enumerate()
    {
        if !ids.contains(&id) {
            found.push(error(
                format!("/runtime/startup_order/{i}"),
                format!("unknown agent \"{id}\" in startup_order"),
            ));
        }
    }
}

fn check_tasks(spec: &Value, found: &mut Vec<Finding>) {
    let tasks = spec["tasks"].as_array().cloned().unwrap_or_default();
    let mut deps: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, task) in tasks.iter().enumerate() {
        let Some(id) = task["id"].as_str() else {
            continue;
        };
        if deps.contains_key(id) {
            found.push(error(
                format!("/tasks/{i}/id"),
                format!("duplicate task id \"{id}\""),
            ));
        }
        deps.insert(id, strings(&task["deps"]));
    }
    for (i, task) in tasks.iter().enumerate() {
        for (k, dep) in strings(&task["deps"]).into_iter().enumerate() {
            if !deps.contains_key(dep) {
                found.push(error(
                    format!("/tasks/{i}/deps/{k}"),
                    format!("unknown dependency \"{dep}\": no task has that id"),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(&deps) {
        found.push(error(
            "/tasks",
            format!("dependency cycle: {}", cycle.join(" -> ")),
        ));
    }
}

/// A dependency cycle as `a -> b -> a`, if there is one.
fn find_cycle<'a>(deps: &BTreeMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        deps: &BTreeMap<&'a str, Vec<&'a str>>,
        marks: &mut HashMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Active) => {
                let start = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle = path[start..].to_vec();
                cycle.push(node);
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node, Mark::Active);
        path.push(node);
        for next in deps.get(node).into_iter().flatten() {
            if deps.contains_key(next)
                && let Some(cycle) = visit(next, deps, marks, path)
            {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = HashMap::new();
    for node in deps.keys() {
        if let Some(cycle) = visit(node, deps, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_printed_as_a_path() {
        let deps: BTreeMap<&str, Vec<&str>> = [
            ("a", vec!["b"]),
            ("b", vec!["c"]),
            ("c", vec!["a"]),
            ("d", vec![]),
        ]
        .into_iter()
        .collect();
        assert_eq!(find_cycle(&deps), Some(vec!["a", "b", "c", "a"]));
        let acyclic: BTreeMap<&str, Vec<&str>> =
            [("a", vec!["b"]), ("b", vec![])].into_iter().collect();
        assert_eq!(find_cycle(&acyclic), None);
    }
}
