//! The dashboard's state and what each key does to it. Keys never act by themselves: they give
//! an [`Effect`] that the loop in `dash` carries out (through the commands' own code) and whose
//! outcome comes back as [`App::said`]. No terminal, no tmux here, so every key is testable.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::{Row, Team};

/// A worker of one of the teams shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub team: String,
    pub agent: String,
}

/// A worker is named by its id on the dashboard's lines (the title names the teams).
impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.agent)
    }
}

impl Target {
    fn of(row: &Row) -> Self {
        Self {
            team: row.team.clone(),
            agent: row.id.clone(),
        }
    }
}

/// What an operator asks of one worker, carried out as the command of the same name would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub target: Target,
    pub what: Do,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Do {
    /// `team-agent send AGENT TEXT`
    Send(String),
    /// `team-agent answer AGENT CHOICE`
    Answer(String),
    /// `team-agent interrupt AGENT`
    Interrupt,
    /// `team-agent start-agent AGENT --force`: its window replaced, its session resumed.
    Restart,
}

impl Action {
    fn effect(target: &Target, what: Do) -> Effect {
        Effect::Act(Action {
            target: target.clone(),
            what,
        })
    }

    /// The command line this action is the same as.
    pub fn command_line(&self) -> String {
        let agent = &self.target.agent;
        let team = &self.target.team;
        let line = match &self.what {
            Do::Send(_) => format!("send {agent} …"),
            Do::Answer(choice) => format!("answer {agent} {choice}"),
            Do::Interrupt => format!("interrupt {agent}"),
            Do::Restart => format!("start-agent {agent} --force"),
        };
        format!("team-agent --team {team} {line}")
    }
}

/// What the loop does after a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Nothing,
    Quit,
    /// Attach the terminal to the worker's window until the operator detaches.
    Attach(Target),
    Act(Action),
}

/// One choice of an approval prompt: the key that picks it and what `answer` is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub key: char,
    pub answer: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Typing a message for the agent.
    Send {
        agent: Target,
        input: String,
    },
    /// Picking one of the visible choices of the agent's approval prompt.
    Answer {
        agent: Target,
        prompt: String,
        choices: Vec<Choice>,
    },
    /// Confirming a restart.
    ConfirmRestart {
        agent: Target,
    },
    /// Typing the filter.
    Filter {
        input: String,
    },
    Help,
}

pub struct App {
    pub team: Team,
    /// The selected worker's row key, `team/id` (kept across refreshes and filters).
    pub selected: Option<String>,
    pub filter: String,
    pub mode: Mode,
    /// What the last action did, or why it was refused.
    pub said: String,
    /// The selected worker's screen tail, and whose it is (its row key).
    pub screen: Vec<String>,
    pub screen_of: Option<String>,
}

impl App {
    pub fn new(team: Team) -> Self {
        let mut app = Self {
            team,
            selected: None,
            filter: String::new(),
            mode: Mode::Normal,
            said: "? for help".into(),
            screen: Vec::new(),
            screen_of: None,
        };
        app.keep_selection();
        app
    }

    /// A newer read of the team; the selection stays on the same worker when it is still shown.
    pub fn set_team(&mut self, team: Team) {
        self.team = team;
        self.keep_selection();
    }

    /// The rows the filter lets through.
    pub fn visible(&self) -> Vec<&Row> {
        let filter = self.filter.to_lowercase();
        self.team
            .rows
            .iter()
            .filter(|r| {
                filter.is_empty()
                    || [
                        r.id.as_str(),
                        r.team.as_str(),
                        r.provider.as_str(),
                        r.status.as_str(),
                        r.activity.as_deref().unwrap_or_default(),
                    ]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&filter))
            })
            .collect()
    }

    pub fn selected_row(&self) -> Option<&Row> {
        let key = self.selected.as_deref()?;
        self.team.rows.iter().find(|r| r.key() == key)
    }

    fn keep_selection(&mut self) {
        let visible: Vec<String> = self.visible().iter().map(|r| r.key()).collect();
        if !self.selected.as_ref().is_some_and(|s| visible.contains(s)) {
            self.selected = visible.first().cloned();
        }
    }

    fn move_selection(&mut self, by: isize) {
        let visible: Vec<String> = self.visible().iter().map(|r| r.key()).collect();
        if visible.is_empty() {
            return;
        }
        let at = self
            .selected
            .as_ref()
            .and_then(|s| visible.iter().position(|v| v == s))
            .unwrap_or(0) as isize;
        let next = (at + by).clamp(0, visible.len() as isize - 1) as usize;
        self.selected = Some(visible[next].clone());
    }

    /// What a key does.
    pub fn key(&mut self, key: KeyEvent) -> Effect {
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Effect::Quit;
        }
        match std::mem::replace(&mut self.mode, Mode::Normal) {
            Mode::Normal => self.normal_key(key),
            Mode::Help => Effect::Nothing,
            Mode::Send { agent, input } => self.send_key(key, agent, input),
            Mode::Filter { input } => self.filter_key(key, input),
            Mode::Answer {
                agent,
                prompt,
                choices,
            } => self.answer_key(key, agent, prompt, choices),
            Mode::ConfirmRestart { agent } => match key.code {
                KeyCode::Char('y') => Action::effect(&agent, Do::Restart),
                _ => {
                    self.said = format!("{} not restarted", agent.agent);
                    Effect::Nothing
                }
            },
        }
    }

    fn normal_key(&mut self, key: KeyEvent) -> Effect {
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => return Effect::Quit,
            KeyCode::Down | KeyCode::Char('j') => self.move_selection(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_selection(-1),
            KeyCode::Char('?') => self.mode = Mode::Help,
            KeyCode::Char('/') => {
                self.mode = Mode::Filter {
                    input: self.filter.clone(),
                }
            }
            _ => return self.worker_key(key),
        }
        Effect::Nothing
    }

    /// The keys that act on the selected worker.
    fn worker_key(&mut self, key: KeyEvent) -> Effect {
        let Some(row) = self.selected_row().cloned() else {
            if matches!(
                key.code,
                KeyCode::Enter | KeyCode::Char('s' | 'a' | 'i' | 'r')
            ) {
                self.said = "no worker selected".into();
            }
            return Effect::Nothing;
        };
        let agent = Target::of(&row);
        match key.code {
            KeyCode::Enter => return Effect::Attach(agent),
            KeyCode::Char('s') => {
                self.mode = Mode::Send {
                    agent,
                    input: String::new(),
                }
            }
            KeyCode::Char('a') => self.start_answer(&row),
            KeyCode::Char('i') => return Action::effect(&agent, Do::Interrupt),
            KeyCode::Char('r') => self.mode = Mode::ConfirmRestart { agent },
            _ => {}
        }
        Effect::Nothing
    }

    fn start_answer(&mut self, row: &Row) {
        if !row.awaiting_approval() {
            self.said = format!(
                "{} is not waiting for an approval (activity: {}): nothing to answer",
                row.id,
                row.activity.as_deref().unwrap_or("unknown")
            );
            return;
        }
        let prompt = row.detail.clone().unwrap_or_default();
        let shown = if self.screen_of.as_deref() == Some(row.key().as_str()) {
            &self.screen[..]
        } else {
            &[]
        };
        self.mode = Mode::Answer {
            agent: Target::of(row),
            prompt,
            choices: choices(shown),
        };
    }

    fn send_key(&mut self, key: KeyEvent, agent: Target, mut input: String) -> Effect {
        match key.code {
            KeyCode::Enter if input.trim().is_empty() => {
                self.said = "nothing sent: the message is empty".into()
            }
            KeyCode::Enter => return Action::effect(&agent, Do::Send(input)),
            KeyCode::Esc => self.said = format!("nothing sent to {}", agent.agent),
            KeyCode::Backspace => {
                input.pop();
                self.mode = Mode::Send { agent, input };
            }
            KeyCode::Char(c) => {
                input.push(c);
                self.mode = Mode::Send { agent, input };
            }
            _ => self.mode = Mode::Send { agent, input },
        }
        Effect::Nothing
    }

    fn filter_key(&mut self, key: KeyEvent, mut input: String) -> Effect {
        match key.code {
            KeyCode::Enter => self.filter = input,
            KeyCode::Esc => self.filter.clear(),
            KeyCode::Backspace => {
                input.pop();
                self.filter.clone_from(&input);
                self.mode = Mode::Filter { input };
            }
            KeyCode::Char(c) => {
                input.push(c);
                self.filter.clone_from(&input);
                self.mode = Mode::Filter { input };
            }
            _ => self.mode = Mode::Filter { input },
        }
        self.keep_selection();
        Effect::Nothing
    }

    fn answer_key(
        &mut self,
        key: KeyEvent,
        agent: Target,
        prompt: String,
        choices: Vec<Choice>,
    ) -> Effect {
        let KeyCode::Char(c) = key.code else {
            self.said = format!("{}'s approval left unanswered", agent.agent);
            return Effect::Nothing;
        };
        match choices.iter().find(|choice| choice.key == c) {
            Some(choice) => Action::effect(&agent, Do::Answer(choice.answer.clone())),
            None => {
                self.mode = Mode::Answer {
                    agent,
                    prompt,
                    choices,
                };
                Effect::Nothing
            }
        }
    }
}

/// The choices an approval prompt shows: its numbered options when the screen lists them
/// (`❯ 1. Yes`), else yes, no and always, as `team-agent answer` takes them.
pub fn choices(screen: &[String]) -> Vec<Choice> {
    let numbered: Vec<Choice> = screen
        .iter()
        .filter_map(|line| {
            let rest = line
                .trim_start()
                .trim_start_matches(['❯', '>', '›', '→'])
                .trim_start();
            let (number, label) = rest.split_once(". ")?;
            let key = number.parse::<u8>().ok().filter(|n| (1..=9).contains(n))?;
            Some(Choice {
                key: char::from(b'0' + key),
                answer: key.to_string(),
                label: label.trim().to_string(),
            })
        })
        .collect();
    // The options of the prompt are the last run of them on the screen, 1 first.
    let start = numbered.iter().rposition(|c| c.key == '1');
    match start {
        Some(at) => numbered[at..]
            .iter()
            .enumerate()
            .take_while(|(i, c)| c.key == char::from(b'1' + *i as u8))
            .map(|(_, c)| c.clone())
            .collect(),
        None => [("y", "yes"), ("n", "no"), ("a", "always")]
            .iter()
            .map(|(key, answer)| Choice {
                key: key.chars().next().unwrap_or('y'),
                answer: answer.to_string(),
                label: answer.to_string(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn act(agent: &str, what: Do) -> Effect {
        Effect::Act(Action {
            target: Target {
                team: "team".into(),
                agent: agent.into(),
            },
            what,
        })
    }

    fn press(app: &mut App, code: KeyCode) -> Effect {
        app.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(app: &mut App, text: &str) {
        for c in text.chars() {
            press(app, KeyCode::Char(c));
        }
    }

    fn team() -> Team {
        let row = |id: &str, activity: &str| Row {
            team: "team".into(),
            id: id.into(),
            provider: "scripted".into(),
            status: "running".into(),
            activity: Some(activity.into()),
            detail: (activity == "awaiting_approval").then(|| "Allow tool call: shell.rm?".into()),
            ..Row::default()
        };
        Team {
            name: Some("team".into()),
            message: "team 'team' is up (2 agents)".into(),
            coordinator_running: true,
            rows: vec![row("alice", "awaiting_approval"), row("bob", "idle")],
        }
    }

    #[test]
    fn s_opens_an_input_line_whose_enter_sends_to_the_selected_worker() {
        let mut app = App::new(team());
        press(&mut app, KeyCode::Down);
        assert_eq!(app.selected.as_deref(), Some("team/bob"));
        press(&mut app, KeyCode::Char('s'));
        typed(&mut app, "review it");
        press(&mut app, KeyCode::Backspace);
        let effect = press(&mut app, KeyCode::Enter);
        assert_eq!(effect, act("bob", Do::Send("review i".into())));
        press(&mut app, KeyCode::Char('s'));
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Nothing);
        assert!(app.said.contains("empty"), "{}", app.said);
    }

    #[test]
    fn a_offers_the_prompts_visible_choices_and_refuses_without_a_prompt() {
        let mut app = App::new(team());
        app.screen_of = Some("team/alice".into());
        app.screen = [
            "Allow tool call: shell.rm?",
            "❯ 1. Yes",
            "  2. Yes, and don't ask again for this session",
            "  3. No",
            "↑/↓ to move · Enter to select · digit to choose",
        ]
        .map(String::from)
        .to_vec();
        press(&mut app, KeyCode::Char('a'));
        let Mode::Answer {
            choices, prompt, ..
        } = &app.mode
        else {
            panic!("{:?}", app.mode)
        };
        assert_eq!(prompt, "Allow tool call: shell.rm?");
        let labels: Vec<&str> = choices.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Yes", "Yes, and don't ask again for this session", "No"]
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('7')),
            Effect::Nothing,
            "not a choice"
        );
        assert_eq!(
            press(&mut app, KeyCode::Char('3')),
            act("alice", Do::Answer("3".into()))
        );
        press(&mut app, KeyCode::Down);
        press(&mut app, KeyCode::Char('a'));
        assert_eq!(app.mode, Mode::Normal);
        assert!(
            app.said.contains("bob is not waiting for an approval"),
            "{}",
            app.said
        );
    }

    #[test]
    fn without_numbered_options_the_choices_are_yes_no_always() {
        let keys: Vec<char> = choices(&["Allow? [y/n]".to_string()])
            .iter()
            .map(|c| c.key)
            .collect();
        assert_eq!(keys, ['y', 'n', 'a']);
    }

    #[test]
    fn restart_asks_first_and_the_filter_narrows_the_rows() {
        let mut app = App::new(team());
        press(&mut app, KeyCode::Char('r'));
        assert_eq!(press(&mut app, KeyCode::Char('n')), Effect::Nothing);
        assert!(app.said.contains("not restarted"));
        press(&mut app, KeyCode::Char('r'));
        assert_eq!(
            press(&mut app, KeyCode::Char('y')),
            act("alice", Do::Restart)
        );
        press(&mut app, KeyCode::Char('/'));
        typed(&mut app, "idle");
        press(&mut app, KeyCode::Enter);
        let ids: Vec<&str> = app.visible().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["bob"]);
        assert_eq!(app.selected.as_deref(), Some("team/bob"));
        let bob = Target {
            team: "team".into(),
            agent: "bob".into(),
        };
        assert_eq!(press(&mut app, KeyCode::Enter), Effect::Attach(bob));
        assert_eq!(
            press(&mut app, KeyCode::Char('i')),
            act("bob", Do::Interrupt)
        );
        assert_eq!(press(&mut app, KeyCode::Char('q')), Effect::Quit);
    }
}
