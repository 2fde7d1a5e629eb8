//! A team directory (`TEAM.md` + `agents/*.md`, Markdown with YAML front matter) compiled into
//! the full spec, remembering which file and field every part of the spec came from so an error
//! in the compiled spec is reported against the file the operator wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use super::diagnostic::Diagnostic;
use super::parse::{self, FrontMatter};
use super::schema::{self, Shape};
use super::{SourceFile, locate};

pub const TEAM_FILE: &str = "TEAM.md";
pub const AGENTS_DIR: &str = "agents";

/// True when `dir` looks like a team directory.
pub fn is_team_dir(dir: &Path) -> bool {
    dir.is_dir() && (dir.join(TEAM_FILE).is_file() || dir.join(AGENTS_DIR).is_dir())
}

/// One Markdown file of the directory, parsed.
struct Document {
    source: SourceFile,
    front: Value,
    body: String,
}

/// The compiled spec (as JSON) and the files it came from.
pub struct Compiled {
    pub spec: Value,
    pub team_file: Option<SourceFile>,
    /// The role file of each entry of `/agents`, in order.
    pub role_files: Vec<SourceFile>,
    /// Per entry of `/agents`: the agent's fields that came from TEAM.md's defaults, with the
    /// TEAM.md field each came from (`profile` ← `default_profile`).
    pub inherited: Vec<BTreeMap<String, String>>,
    /// Problems of the files themselves (syntax, front matter structure). When there are any,
    /// the compiled spec is incomplete: only the semantic checks run on it.
    pub file_errors: Vec<Diagnostic>,
}

impl Compiled {
    /// Where a pointer into the compiled spec was written: the file and the pointer in it.
    pub fn origin(&self, pointer: &str) -> Option<(&SourceFile, String)> {
        let mut parts = pointer.splitn(4, '/').skip(1);
        match (parts.next(), parts.next(), parts.next()) {
            (Some("agents"), Some(index), rest) => {
                let index = index.parse::<usize>().ok()?;
                let field = rest.map(|r| r.split('/').next().unwrap_or(r));
                if let Some(team_field) = field.and_then(|f| self.inherited.get(index)?.get(f)) {
                    let below = rest.and_then(|r| r.split_once('/')).map(|(_, b)| b);
                    let pointer = match below {
                        Some(b) => format!("/{team_field}/{b}"),
                        None => format!("/{team_field}"),
                    };
                    return Some((self.team_file.as_ref()?, pointer));
                }
                let file = self.role_files.get(index)?;
                let field = match rest {
                    Some(r) if r == "id" || r.starts_with("id/") => "/name".to_string(),
                    Some(r) if r.starts_with("system_prompt") => String::new(),
                    Some(r) => format!("/{r}"),
                    None => String::new(),
                };
                Some((file, field))
            }
            (Some("leader"), Some("provider"), _) => {
                Some((self.team_file.as_ref()?, "/provider".into()))
            }
            (Some("team" | "runtime" | "leader" | "communication"), Some(field), _) => {
                Some((self.team_file.as_ref()?, format!("/{field}")))
            }
            _ => None,
        }
    }
}

fn read_document(path: &Path, shape: Shape, errors: &mut Vec<Diagnostic>) -> Option<Document> {
    let text = match parse::read_text(path) {
        Ok(t) => t,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    let Some(FrontMatter {
        yaml,
        yaml_line,
        body,
    }) = parse::split_front_matter(&text)
    else {
        if shape == Shape::TeamFrontMatter {
            // TEAM.md without front matter: all defaults, the text is the objective.
            let body = text.clone();
            return Some(Document {
                source: SourceFile {
                    path: path.to_path_buf(),
                    text,
                    first_line: 1,
                },
                front: json!({}),
                body,
            });
        }
        errors.push(Diagnostic::error(
            path,
            "",
            "no YAML front matter: start the file with a `---` line, then name:, role:, provider:, then `---`",
        ).at(Some(1), None));
        return None;
    };
    let source = SourceFile {
        path: path.to_path_buf(),
        text: yaml.to_string(),
        first_line: yaml_line,
    };
    let front = match parse::parse_document(yaml, path, yaml_line) {
        Ok(Value::Null) => json!({}),
        Ok(v) => v,
        Err(e) => {
            errors.push(e);
            return None;
        }
    };
    for mut d in schema::validate(shape, &front, path) {
        d.line = locate::line_of(&source.text, &d.path).map(|l| l + yaml_line - 1);
        errors.push(d);
    }
    Some(Document {
        source,
        front,
        body: body.trim().to_string(),
    })
}

/// Compiles `dir` for `workspace`. Unreadable files and a missing `agents/` are fatal; problems
/// inside readable files come back in `file_errors` with what could be compiled.
pub fn compile(dir: &Path, workspace: &Path) -> Result<Compiled, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let team_path = dir.join(TEAM_FILE);
    let team = if team_path.exists() {
        read_document(&team_path, Shape::TeamFrontMatter, &mut errors)
    } else {
        None
    };
    let agents_dir = dir.join(AGENTS_DIR);
    let mut role_paths: Vec<PathBuf> = std::fs::read_dir(&agents_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "md") && p.is_file())
                .collect()
        })
        .unwrap_or_default();
    role_paths.sort();
    if role_paths.is_empty() {
        return Err(vec![Diagnostic::error(
            &agents_dir,
            "",
            "no role files: add agents/<name>.md with front matter (name, role, provider) for each worker",
        )]);
    }
    let roles: Vec<Document> = role_paths
        .iter()
        .filter_map(|p| read_document(p, Shape::RoleFrontMatter, &mut errors))
        .collect();
    let empty = json!({});
    let front = team.as_ref().map(|d| &d.front).unwrap_or(&empty);
    let spec = build_spec(
        dir,
        workspace,
        front,
        team.as_ref().map(|d| d.body.as_str()).unwrap_or(""),
        &roles,
    );
    let inherited = roles.iter().map(|r| inherited(front, &r.front)).collect();
    Ok(Compiled {
        spec,
        team_file: team.map(|d| d.source),
        role_files: roles.into_iter().map(|d| d.source).collect(),
        inherited,
        file_errors: errors,
    })
}

fn str_of<'a>(map: &'a Value, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Value::as_str)
}

/// `team-<name>` with anything but `[A-Za-z0-9_-]` turned into `-`.
fn session_name_for(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    let mut session = format!("team-{}", if slug.is_empty() { "team" } else { slug });
    session.truncate(64);
    session
}

fn build_spec(
    dir: &Path,
    workspace: &Path,
    front: &Value,
    body: &str,
    roles: &[Document],
) -> Value {
    let dir_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "team".into());
    let name = str_of(front, "name")
        .map(str::to_string)
        .unwrap_or(dir_name);
    let objective = str_of(front, "objective")
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    let leader_provider = str_of(front, "provider").unwrap_or("claude").to_string();
    let default_model = front
        .get("default_model")
        .or_else(|| front.get("model"))
        .cloned()
        .unwrap_or(Value::Null);
    let agents: Vec<Value> = roles
        .iter()
        .map(|role| agent_spec(front, &default_model, role))
        .collect();
    let ids: Vec<Value> = agents.iter().map(|a| a["id"].clone()).collect();
    let runtime = runtime_spec(front, &name, &ids);
    let team_dir_rel = dir
        .strip_prefix(workspace)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| dir.to_path_buf());
    json!({
        "version": 1,
        "team": {
            "name": name,
            "mode": "supervisor_worker",
            "objective": objective,
            "workspace": workspace.to_string_lossy(),
        },
        "leader": {
            "id": "leader",
            "role": str_of(front, "leader_role").unwrap_or("leader"),
            "provider": leader_provider,
            "model": front.get("model").cloned().unwrap_or(Value::Null),
            "tools": ["fs_read", "fs_list", "mcp_team"],
            "context_policy": { "keep_user_thread": true, "receive_worker_outputs": "summary_only", "max_worker_result_tokens": 2000 },
        },
        "agents": agents,
        "routing": { "default_assignee": ids.first().cloned().unwrap_or(json!("leader")), "rules": [] },
        "communication": {
            "protocol": "mcp_inbox",
            "topology": "leader_centered",
            "worker_to_worker": front.get("worker_to_worker").cloned().unwrap_or(json!(true)),
            "ack_timeout_sec": 60,
            "result_format": "result_envelope_v1",
            "message_store": { "sqlite": ".team/runtime/team.db", "mirror_files": null },
        },
        "runtime": runtime,
        "context": {
            "state_file": team_dir_rel.join("team_state.md").to_string_lossy(),
            "artifact_dir": ".team/artifacts",
            "log_dir": ".team/logs",
            "summarization": { "worker_full_logs": "retain_outside_leader_context", "state_update": "after_each_result" },
        },
        "tasks": [],
    })
}

/// The workers' settings TEAM.md gives defaults for: (agent field, TEAM.md field). A role's
/// own value replaces the team's.
const TEAM_DEFAULTS: [(&str, &str); 5] = [
    ("profile", "default_profile"),
    ("auto_approve", "auto_approve"),
    ("isolation", "isolation"),
    ("worktree_base", "worktree_base"),
    ("worktree_setup", "worktree_setup"),
];

/// The agent's fields a role takes from TEAM.md (it does not set them itself).
fn inherited(front: &Value, role: &Value) -> BTreeMap<String, String> {
    TEAM_DEFAULTS
        .iter()
        .filter(|(field, team_field)| {
            role.get(*field).is_none_or(Value::is_null)
                && front.get(*team_field).is_some_and(|v| !v.is_null())
        })
        .map(|(field, team_field)| (field.to_string(), team_field.to_string()))
        .collect()
}

/// One role file as a spec agent: its front matter over the team's defaults (model, profile,
/// auto-approve list, isolation), its body as the system prompt.
fn agent_spec(front: &Value, default_model: &Value, role: &Document) -> Value {
    let f = &role.front;
    let id = str_of(f, "name");
    let provider = str_of(f, "provider").unwrap_or_default();
    let role_text = str_of(f, "role").unwrap_or_default();
    let model = f
        .get("model")
        .filter(|m| !m.is_null())
        .or_else(|| front.get("provider_models").and_then(|m| m.get(provider)))
        .cloned()
        .unwrap_or_else(|| default_model.clone());
    let prompt = if role.body.is_empty() {
        role_text.to_string()
    } else {
        role.body.clone()
    };
    let mut agent = json!({
        "id": id,
        "role": role_text,
        "provider": f.get("provider").cloned().unwrap_or(Value::Null),
        "model": model,
        "working_directory": str_of(f, "working_directory").unwrap_or("."),
        "system_prompt": { "inline": prompt, "file": null },
        "tools": f.get("tools").cloned().unwrap_or_else(|| json!(["fs_read", "fs_write", "fs_list", "execute_bash", "mcp_team"])),
        "permission_mode": str_of(f, "permission_mode").unwrap_or("restricted"),
        "preferred_for": [id.unwrap_or_default(), role_text],
        "avoid_for": [],
        "output_contract": { "format": "result_envelope_v1", "required_fields": ["task_id", "status", "summary", "artifacts"] },
    });
    let object = agent.as_object_mut().expect("built as an object");
    for key in [
        "paused",
        "auth_mode",
        "dangerously_skip_permissions",
        "provider_options",
    ] {
        if let Some(v) = f.get(key) {
            object.insert(key.to_string(), v.clone());
        }
    }
    if let Some(profile) = f
        .get("profile")
        .filter(|p| !p.is_null())
        .or_else(|| front.get("default_profile").filter(|p| !p.is_null()))
    {
        object.insert("profile".into(), profile.clone());
    }
    // A role's own value replaces the team's (an empty auto_approve list approves nothing).
    for key in [
        "auto_approve",
        "isolation",
        "worktree_base",
        "worktree_setup",
    ] {
        if let Some(value) = f
            .get(key)
            .filter(|v| !v.is_null())
            .or_else(|| front.get(key).filter(|v| !v.is_null()))
        {
            object.insert(key.into(), value.clone());
        }
    }
    agent
}

/// The spec's `runtime` from the team's front matter.
fn runtime_spec(front: &Value, name: &str, ids: &[Value]) -> Map<String, Value> {
    let mut runtime = Map::new();
    runtime.insert("backend".into(), json!("tmux"));
    runtime.insert(
        "session_name".into(),
        json!(
            str_of(front, "session_name")
                .map(str::to_string)
                .unwrap_or_else(|| session_name_for(name))
        ),
    );
    runtime.insert("auto_launch".into(), json!(true));
    runtime.insert(
        "require_user_approval_before_launch".into(),
        front
            .get("require_user_approval_before_launch")
            .cloned()
            .unwrap_or(json!(false)),
    );
    runtime.insert("max_active_agents".into(), json!(ids.len().max(1)));
    runtime.insert("startup_order".into(), Value::Array(ids.to_vec()));
    for key in [
        "display_backend",
        "dangerous_auto_approve",
        "fast",
        "tick_interval_sec",
        "push_min_interval_sec",
        "stuck_timeout_sec",
        "long_tool_notice_sec",
        "consume_timeout_sec",
        "startup_answer_window_sec",
        "notify",
    ] {
        if let Some(v) = front.get(key) {
            runtime.insert(key.into(), v.clone());
        }
    }
    runtime.entry("tick_interval_sec").or_insert(json!(2));
    runtime
}
