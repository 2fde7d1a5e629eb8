//! Unit tests of the Claude Code provider, called directly (the conformance test in `tests/`
//! loads the built library the way the host does).

mod approvals;
mod capture;
mod hooks;
mod launch;
mod screens;
mod turns;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::Claude;

/// The provider with the built-in rules only, whatever the developer's own config holds; one
/// for all tests, since compiling the rule book is the slow part.
fn claude() -> &'static Claude {
    static CLAUDE: OnceLock<Claude> = OnceLock::new();
    CLAUDE.get_or_init(|| Claude::with_rules(Claude::builtin_rules()))
}

/// A fixture from `fixtures/` by file name.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// A transcript as Claude Code 2.1.330 writes it at the first message (records cut down to the
/// fields that matter, in the real shapes): `mode`, `permission-mode`, the first `user` record,
/// the `prompt_snapshot` attachment carrying the system prompt, an API error reply.
struct Transcript<'a> {
    id: &'a str,
    cwd: &'a Path,
    started: DateTime<Utc>,
    system_prompt: Option<String>,
    first_message: &'a str,
}

impl<'a> Transcript<'a> {
    fn new(id: &'a str, cwd: &'a Path, started: DateTime<Utc>) -> Self {
        Self {
            id,
            cwd,
            started,
            system_prompt: None,
            first_message: "say hello",
        }
    }

    fn for_worker(mut self, agent_id: &str) -> Self {
        self.system_prompt = Some(format!(
            "You are Team Agent worker `{agent_id}` (role: reviewer).\nUse the team tools."
        ));
        self
    }

    fn lines(&self) -> String {
        let ts = self
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (id, cwd) = (self.id, self.cwd);
        let mut records = vec![
            json!({"type": "mode", "mode": "normal", "sessionId": id}),
            json!({"type": "permission-mode", "permissionMode": "manual", "sessionId": id}),
            json!({"parentUuid": null, "isSidechain": false, "type": "user",
                "message": {"role": "user", "content": self.first_message},
                "uuid": "f293ef02-662d-4036-95c0-11863876fd81", "timestamp": ts,
                "cwd": cwd, "sessionId": id, "version": "2.1.330"}),
        ];
        let mut snapshot =
            vec!["\nYou are an agent working with the user toward their goals.".to_string()];
        snapshot.extend(self.system_prompt.clone());
        records.push(json!({"parentUuid": "f293ef02-662d-4036-95c0-11863876fd81",
            "isSidechain": false, "type": "attachment",
            "attachment": {"type": "prompt_snapshot", "systemPrompt": snapshot},
            "uuid": "47c7d028-544e-4e7b-9f8f-ccef5b0af3e2", "timestamp": ts,
            "cwd": cwd, "sessionId": id, "version": "2.1.330"}));
        records.push(json!({"parentUuid": "47c7d028-544e-4e7b-9f8f-ccef5b0af3e2",
            "type": "assistant", "timestamp": ts, "cwd": cwd, "sessionId": id,
            "message": {"role": "assistant", "model": "<synthetic>", "stop_reason": "stop_sequence",
                "content": [{"type": "text", "text": "Not logged in · Please run /login"}]},
            "error": "authentication_failed", "isApiErrorMessage": true}));
        records.iter().map(|r| format!("{r}\n")).collect()
    }

    /// Writes it where Claude would, under `home`; returns the path.
    fn write(&self, home: &Path) -> PathBuf {
        let dir = crate::transcript::project_dir(home, self.cwd);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.jsonl", self.id));
        std::fs::write(&path, self.lines()).unwrap();
        path
    }
}
