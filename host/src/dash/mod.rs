/*! `team-agent dash`: the operator's full-screen view of the team (ratatui on crossterm). One
row per worker, the selected worker's screen tail, the event stream, and keys that act on the
selected worker.

The edges: what it shows is read in-process (`model`: the status code of `team-agent status`,
the message store, the event log), and read again only when one of the team's files changed;
what it does goes through the very commands of the same name, with their ownership rules, handed
in by the command line as an [`Act`] (so this module never reaches up into `cli`). Attaching
runs a tmux client in this terminal and comes back when it detaches.
*/

mod app;
mod model;
mod view;

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyEventKind};
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::{Terminal, backend::CrosstermBackend};

pub use app::{Action, Do, Target};
use app::{App, Effect};
use model::Source;

use crate::error::Refusal;
use crate::workspace::Workspace;

/// Carries out an action as its command would: what it did (`Ok`), or why it was refused.
pub type Act<'a> = &'a dyn Fn(&Action) -> Result<String, String>;

/// How often the loop looks at the team's files (a few `stat`s, no process).
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How many lines of the selected worker's screen are read.
const SCREEN_LINES: usize = 40;

/// Runs the dashboard on these teams (each workspace scoped to its team) until the operator
/// quits; refuses without a terminal.
pub fn run(teams: &[Workspace], act: Act<'_>) -> Result<(), Refusal> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(
            Refusal::new("dash needs a terminal (its stdin and stdout are not one)").action(
                "use `team-agent status` (or `status --json`, `watch`) where there is none",
            ),
        );
    }
    let mut source = Source::new(teams);
    let mut app = App::new(source.team());
    let mut screen =
        Screen::enter().map_err(|e| Refusal::new(format!("cannot set up the terminal: {e}")))?;
    let result = event_loop(&mut screen, &mut source, &mut app, teams, act);
    drop(screen);
    result
}

/// The terminal in raw mode on the alternate screen; put back as it was when dropped (also on a
/// panic).
struct Screen {
    terminal: Terminal<CrosstermBackend<std::io::Stdout>>,
}

impl Screen {
    fn enter() -> std::io::Result<Self> {
        enable_raw_mode()?;
        execute!(std::io::stdout(), EnterAlternateScreen)?;
        let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
        Ok(Self { terminal })
    }

    fn leave(&mut self) {
        let _ = disable_raw_mode();
        let _ = execute!(std::io::stdout(), LeaveAlternateScreen);
        let _ = self.terminal.show_cursor();
    }

    fn resume(&mut self) -> std::io::Result<()> {
        enable_raw_mode()?;
        execute!(std::io::stdout(), EnterAlternateScreen)?;
        self.terminal.clear()
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.leave();
    }
}

fn event_loop(
    screen: &mut Screen,
    source: &mut Source,
    app: &mut App,
    teams: &[Workspace],
    act: Act<'_>,
) -> Result<(), Refusal> {
    let mut dirty = true;
    let mut redraw_at = Instant::now();
    loop {
        if source.changed() {
            source.read_events();
            app.set_team(source.team());
            // Its screen may have changed with the state: read it again.
            app.screen_of = None;
            dirty = true;
        }
        if app.screen_of != app.selected {
            refresh_screen(source, app);
            dirty = true;
        }
        // The ages on screen move even when nothing else does.
        if dirty || Instant::now() >= redraw_at {
            let events: Vec<String> = source.events.iter().cloned().collect();
            let now = chrono::Utc::now();
            screen
                .terminal
                .draw(|frame| view::draw(frame, app, &events, now))
                .map_err(|e| Refusal::new(format!("cannot draw: {e}")))?;
            redraw_at = Instant::now() + view::next_change(app, now);
            dirty = false;
        }
        if !event::poll(LOOK_EVERY).map_err(|e| Refusal::new(e.to_string()))? {
            continue;
        }
        let Event::Key(key) = event::read().map_err(|e| Refusal::new(e.to_string()))? else {
            dirty = true;
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        dirty = true;
        match app.key(key) {
            Effect::Nothing => {}
            Effect::Quit => return Ok(()),
            Effect::Attach(target) => attach(screen, app, teams, &target),
            Effect::Act(action) => {
                app.said = match act(&action) {
                    Ok(did) => did,
                    Err(why) => format!("refused ({}): {why}", action.command_line()),
                };
                // What it did shows in the files at once; the screen too (drawn anew, whatever
                // the command's children printed on it).
                let _ = screen.terminal.clear();
                source.changed();
                app.set_team(source.team());
                source.read_events();
                refresh_screen(source, app);
            }
        }
    }
}

fn refresh_screen(source: &Source, app: &mut App) {
    app.screen_of.clone_from(&app.selected);
    app.screen = match app.selected_row() {
        Some(row) => source
            .screen(&row.team, &row.id, SCREEN_LINES)
            .unwrap_or_else(|why| vec![format!("({why})")]),
        None => vec!["(no worker)".into()],
    };
}

/// Enter: the worker's window in this terminal until the operator detaches, then back here.
fn attach(screen: &mut Screen, app: &mut App, teams: &[Workspace], to: &Target) {
    let agent = to.agent.as_str();
    let Some(workspace) = teams
        .iter()
        .find(|w| w.team() == Some(to.team.as_str()))
        .or(teams.first())
    else {
        app.said = format!("cannot attach to {agent}: no team");
        return;
    };
    let target = match crate::operator::attach_target(workspace, agent) {
        Ok(target) => target,
        Err(refusal) => {
            app.said = format!("cannot attach to {agent}: {}", refusal.message);
            return;
        }
    };
    screen.leave();
    let outcome = target
        .server
        .attach_and_wait(&target.session, &target.window);
    let resumed = screen.resume();
    app.said = match (outcome, resumed) {
        (_, Err(e)) => format!("the terminal did not come back after attaching: {e}"),
        (Ok(status), _) if status.success() => format!("back from {agent}'s window"),
        (Ok(status), _) => format!("tmux attach ended with {status}; try: {}", target.command),
        (Err(e), _) => format!("cannot run tmux attach: {e}; try: {}", target.command),
    };
}
