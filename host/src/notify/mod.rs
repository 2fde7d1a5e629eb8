/*! Telling the operator, outside the team, that a human is needed: an approval passed to the
leader, a worker blocked at a sign-in or trust screen, a stuck worker, an API error episode, a
team gone all idle. The coordinator's detectors decide *that* (once per episode); this module
decides *whether* (at most one notice per kind and agent a minute) and *how*: the team's
`notify` setting picks the desktop (freedesktop notifications over D-Bus, the notification centre
on macOS), a command that gets the notice as JSON on stdin (ntfy, a Slack webhook …), or none.

It uses no other module of the host: a sink's outcome goes back through a callback, and the
caller logs it. Nothing here blocks a tick: each notice is sent on a thread of its own, and a
command gets [`COMMAND_BUDGET`] before it is killed.
*/

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The `notify` setting of a team (`TEAM.md` front matter, `runtime.notify` in a spec):
/// `desktop`, `none`, or `{command: [PROGRAM, ARG…]}`. Absent: [`Sink::auto`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Setting {
    Desktop,
    None,
    Command(Vec<String>),
}

/// Why a human is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An approval prompt the coordinator may not answer was passed to the leader.
    Approval,
    /// A worker stands at a screen only a person gets past (sign-in, trust).
    Blocked,
    /// A worker claims to work without any progress.
    Stuck,
    /// A worker's provider API fails (its turn ended on it, or it retries for long).
    ApiError,
    /// Every worker is idle: the next step is a person's.
    AllIdle,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Approval => "approval",
            Kind::Blocked => "blocked",
            Kind::Stuck => "stuck",
            Kind::ApiError => "api_error",
            Kind::AllIdle => "all_idle",
        }
    }
}

/// One notice: what a sink shows, and (for a command) the JSON on its stdin.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: Kind,
    pub team: String,
    /// The worker it is about (none for the whole team).
    pub agent: Option<String>,
    /// One line: the notification's title.
    pub summary: String,
    /// What to do about it: the notification's body.
    pub body: String,
    /// The facts of the detector that raised it (prompt, class, last lines …).
    pub detail: Value,
}

impl Notice {
    /// The JSON a command gets on stdin.
    pub fn to_json(&self, at: &str) -> Value {
        json!({
            "event": "team_agent.human_needed",
            "kind": self.kind,
            "team": self.team,
            "agent": self.agent,
            "summary": self.summary,
            "body": self.body,
            "detail": self.detail,
            "at": at,
        })
    }
}

/// Where notices go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sink {
    Desktop,
    Command(Vec<String>),
    Off,
}

impl Sink {
    /// The sink a setting asks for; without one, the desktop when there is one to talk to.
    pub fn of(setting: Option<&Setting>) -> Sink {
        match setting {
            Some(Setting::Desktop) => Sink::Desktop,
            Some(Setting::None) => Sink::Off,
            Some(Setting::Command(argv)) => Sink::Command(argv.clone()),
            None => Sink::auto(),
        }
    }

    /// The desktop where a session bus is announced (or on macOS), else none.
    pub fn auto() -> Sink {
        let bus = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty());
        if bus || cfg!(target_os = "macos") {
            Sink::Desktop
        } else {
            Sink::Off
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Sink::Desktop => "desktop",
            Sink::Command(_) => "command",
            Sink::Off => "none",
        }
    }
}

/// What [`Notifier::tell`] did with a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Told {
    /// Handed to the sink (which reports its outcome through the callback).
    Sent(&'static str),
    /// The same kind for the same agent went out less than the minimum interval ago.
    RateLimited,
    /// Notifications are off.
    Off,
    /// Not sent, for this reason (the outcome callback is not called).
    Failed(String),
}

/// How long a notify command may run before it is killed.
pub const COMMAND_BUDGET: Duration = Duration::from_secs(30);
/// At most one notice per kind and agent in this long.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// A sink and the memory of what went out lately.
pub struct Notifier {
    sink: Sink,
    min_interval: Duration,
    sent: Mutex<HashMap<(Kind, Option<String>), Instant>>,
}

/// A sink's outcome for one notice: `Err` with what went wrong.
pub type Outcome = Box<dyn FnOnce(Result<(), String>) + Send + 'static>;

impl Notifier {
    pub fn new(sink: Sink) -> Self {
        Self {
            sink,
            min_interval: MIN_INTERVAL,
            sent: Mutex::new(HashMap::new()),
        }
    }

    /// The same, with another minimum interval between two notices of a kind for an agent.
    pub fn with_min_interval(mut self, interval: Duration) -> Self {
        self.min_interval = interval;
        self
    }

    /// Follows a change of the team's setting, keeping what went out lately.
    pub fn set_sink(&mut self, sink: Sink) {
        self.sink = sink;
    }

    pub fn sink(&self) -> &Sink {
        &self.sink
    }

    /// Sends `notice` unless notices are off or one of its kind for its agent went out lately;
    /// `outcome` hears from the sink once it is done.
    pub fn tell(&self, notice: &Notice, at: &str, outcome: Outcome) -> Told {
        if self.sink == Sink::Off {
            return Told::Off;
        }
        let key = (notice.kind, notice.agent.clone());
        {
            let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
            if sent
                .get(&key)
                .is_some_and(|last| last.elapsed() < self.min_interval)
            {
                return Told::RateLimited;
            }
            sent.insert(key, Instant::now());
        }
        let sink = self.sink.clone();
        let payload = notice.to_json(at);
        let (summary, body) = (notice.summary.clone(), notice.body.clone());
        let spawned = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                let result = match &sink {
                    Sink::Desktop => desktop(&summary, &body),
                    Sink::Command(argv) => run_command(argv, &payload),
                    Sink::Off => Ok(()),
                };
                outcome(result);
            });
        match spawned {
            Ok(_) => Told::Sent(self.sink.name()),
            Err(e) => Told::Failed(format!("cannot start the notify thread: {e}")),
        }
    }
}

/// A desktop notification (freedesktop's Notifications service, the macOS notification centre).
fn desktop(summary: &str, body: &str) -> Result<(), String> {
    notify_rust::Notification::new()
        .appname("team-agent")
        .summary(summary)
        .body(body)
        .show()
        .map(|_| ())
        .map_err(|e| format!("desktop notification failed: {e}"))
}

/// Runs the command with the notice as JSON on stdin; its exit code must be 0 within
/// [`COMMAND_BUDGET`].
fn run_command(argv: &[String], payload: &Value) -> Result<(), String> {
    let (program, args) = argv
        .split_first()
        .ok_or("the notify command is empty (notify: {command: [PROGRAM, ARG…]})")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run the notify command {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin is not a failure.
        let _ = writeln!(stdin, "{payload}");
    }
    let until = Instant::now() + COMMAND_BUDGET;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                let err: String = err.trim().chars().take(300).collect();
                return Err(format!(
                    "the notify command {program} failed ({status}): {err}"
                ));
            }
            Ok(None) if Instant::now() >= until => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "the notify command {program} ran past {} s and was killed",
                    COMMAND_BUDGET.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("the notify command {program}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn notice(kind: Kind, agent: &str) -> Notice {
        Notice {
            kind,
            team: "t".into(),
            agent: Some(agent.into()),
            summary: format!("{agent} needs you"),
            body: "answer it".into(),
            detail: json!({"prompt": "Allow tool call: shell.rm?"}),
        }
    }

    fn outcome() -> (Outcome, mpsc::Receiver<Result<(), String>>) {
        let (tx, rx) = mpsc::channel();
        (Box::new(move |r| tx.send(r).unwrap()), rx)
    }

    #[test]
    fn the_setting_reads_as_a_word_or_a_command() {
        let word: Setting = serde_json::from_value(json!("desktop")).unwrap();
        assert_eq!(word, Setting::Desktop);
        let none: Setting = serde_json::from_value(json!("none")).unwrap();
        assert_eq!(Sink::of(Some(&none)), Sink::Off);
        let command: Setting =
            serde_json::from_value(json!({"command": ["ntfy", "publish", "t"]})).unwrap();
        assert_eq!(
            Sink::of(Some(&command)),
            Sink::Command(vec!["ntfy".into(), "publish".into(), "t".into()])
        );
        assert!(serde_json::from_value::<Setting>(json!("loud")).is_err());
    }

    #[test]
    fn a_command_gets_the_notice_as_json_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("got.json");
        let argv = vec![
            "sh".into(),
            "-c".into(),
            format!("cat > '{}'", file.display()),
        ];
        let notifier = Notifier::new(Sink::Command(argv));
        let (done, rx) = outcome();
        let told = notifier.tell(
            &notice(Kind::Approval, "alice"),
            "2026-01-01T00:00:00Z",
            done,
        );
        assert_eq!(told, Told::Sent("command"));
        rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        let got: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(got["kind"], "approval");
        assert_eq!(got["agent"], "alice");
        assert_eq!(got["detail"]["prompt"], "Allow tool call: shell.rm?");
    }

    #[test]
    fn one_notice_per_kind_and_agent_within_the_interval() {
        let notifier = Notifier::new(Sink::Command(vec!["true".into()]));
        let at = "2026-01-01T00:00:00Z";
        let (a, _ra) = outcome();
        let (b, _rb) = outcome();
        let (c, _rc) = outcome();
        let (d, _rd) = outcome();
        assert_eq!(
            notifier.tell(&notice(Kind::Stuck, "bob"), at, a),
            Told::Sent("command")
        );
        assert_eq!(
            notifier.tell(&notice(Kind::Stuck, "bob"), at, b),
            Told::RateLimited
        );
        assert_eq!(
            notifier.tell(&notice(Kind::Stuck, "alice"), at, c),
            Told::Sent("command")
        );
        assert_eq!(
            notifier.tell(&notice(Kind::ApiError, "bob"), at, d),
            Told::Sent("command")
        );
        let quick = Notifier::new(Sink::Command(vec!["true".into()]))
            .with_min_interval(Duration::from_millis(1));
        let (e, _re) = outcome();
        let (f, _rf) = outcome();
        assert_eq!(
            quick.tell(&notice(Kind::Stuck, "bob"), at, e),
            Told::Sent("command")
        );
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            quick.tell(&notice(Kind::Stuck, "bob"), at, f),
            Told::Sent("command")
        );
    }

    #[test]
    fn a_failing_command_says_what_it_printed_and_off_sends_nothing() {
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "echo webhook refused >&2; exit 3".into(),
        ];
        let notifier = Notifier::new(Sink::Command(argv));
        let (done, rx) = outcome();
        notifier.tell(&notice(Kind::Blocked, "carol"), "now", done);
        let err = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("webhook refused"),
            "{err}"
        );
        let missing = Notifier::new(Sink::Command(vec!["/nonexistent/notifier".into()]));
        let (done, rx) = outcome();
        missing.tell(&notice(Kind::Blocked, "carol"), "now", done);
        let err = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap_err();
        assert!(err.contains("/nonexistent/notifier"), "{err}");
        let (done, _rx) = outcome();
        assert_eq!(
            Notifier::new(Sink::Off).tell(&notice(Kind::Blocked, "carol"), "now", done),
            Told::Off
        );
    }
}
