//! Drawing the dashboard: a title line, the workers' table, the selected worker's screen tail,
//! the event stream, and two lines at the bottom (what the last action did; the keys, or the
//! line being typed). A pure function of the app, the events and the time, so tests draw it into
//! ratatui's `TestBackend` and compare frames. Laid out for 80×24 and up.

use chrono::{DateTime, Utc};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Row as TableRow, Table, TableState};

use super::app::{App, Mode};
use super::model::Row;

pub const KEYS: &str =
    "Enter attach  s send  a answer  i interrupt  r restart  / filter  ? help  q quit";

const HELP: &[&str] = &[
    "↑/↓ or j/k  select a worker",
    "Enter       attach to its window (detach: tmux prefix, then d)",
    "s           send it a message (as `team-agent send`)",
    "a           answer its approval prompt with one of the choices shown",
    "i           interrupt its turn (as `team-agent interrupt`)",
    "r           restart it: `start-agent --force`, its session resumed",
    "/           filter the workers by id, provider, state or activity",
    "?           this help (any key closes it)",
    "q, Esc      quit",
];

/// How long ago `since` was, shortly: `12s`, `4m`, `3h`, `2d`.
pub fn age(since: Option<&str>, now: DateTime<Utc>) -> String {
    let Some(at) = since.and_then(|s| DateTime::parse_from_rfc3339(s).ok()) else {
        return String::new();
    };
    let secs = (now - at.with_timezone(&Utc)).num_seconds().max(0);
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// How long until an age on the dashboard reads differently (`12s` next second, `4m` at the
/// next minute …): the dashboard is drawn again then, not every second.
pub fn next_change(app: &App, now: DateTime<Utc>) -> std::time::Duration {
    let sinces = app.team.rows.iter().flat_map(|r| {
        [
            r.activity_since.as_deref(),
            r.task.as_ref().map(|(_, since)| since.as_str()),
        ]
    });
    let secs = sinces
        .flatten()
        .filter_map(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|at| (now - at.with_timezone(&Utc)).num_seconds().max(0))
        .map(|age| match age {
            a if a < 60 => 1,
            a if a < 3600 => 60 - a % 60,
            a if a < 86_400 => 3600 - a % 3600,
            _ => 3600,
        })
        .min()
        .unwrap_or(60);
    std::time::Duration::from_secs(secs as u64)
}

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame<'_>, app: &App, events: &[String], now: DateTime<Utc>) {
    let visible = app.visible();
    let table_height = (visible.len().max(1) as u16 + 3).min(frame.area().height / 3 + 2);
    let [title, table, screen, log, said, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(table_height),
        Constraint::Min(4),
        Constraint::Length(frame.area().height.saturating_sub(table_height + 3) * 2 / 5),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(title_line(app)), title);
    draw_table(frame, table, app, &visible, now);
    draw_screen(frame, screen, app);
    draw_tail(frame, log, " events ", events);
    frame.render_widget(Paragraph::new(app.said.as_str()), said);
    frame.render_widget(Paragraph::new(bottom_line(app)), keys);
    if app.mode == Mode::Help {
        draw_help(frame);
    }
}

fn title_line(app: &App) -> String {
    let team = app.team.name.as_deref().unwrap_or("(no team)");
    let coordinator = if app.team.coordinator_running {
        "coordinator running"
    } else {
        "coordinator NOT running"
    };
    let filter = if app.filter.is_empty() {
        String::new()
    } else {
        format!(" · filter \"{}\"", app.filter)
    };
    format!(
        "team-agent dash · team {team} · {} workers · {coordinator}{filter}",
        app.team.rows.len()
    )
}

fn activity_cell(row: &Row, now: DateTime<Utc>) -> String {
    let Some(activity) = row.activity.as_deref() else {
        // A blocked worker has no activity; why it is blocked says more.
        return row.detail.clone().unwrap_or_default();
    };
    let age = age(row.activity_since.as_deref(), now);
    if age.is_empty() {
        activity.to_string()
    } else {
        format!("{activity} {age}")
    }
}

fn draw_table(frame: &mut Frame<'_>, area: Rect, app: &App, visible: &[&Row], now: DateTime<Utc>) {
    let several = app.team.name.as_deref().is_some_and(|n| n.contains(", "));
    let header = TableRow::new([
        if several { "TEAM/AGENT" } else { "AGENT" },
        "PROVIDER",
        "STATE",
        "ACTIVITY",
        "PEND",
        "TASK",
        "RESULT",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let rows: Vec<TableRow<'_>> = visible
        .iter()
        .map(|r| {
            let task = r
                .task
                .as_ref()
                .map(|(task, since)| format!("{task} {}", age(Some(since), now)))
                .unwrap_or_default();
            TableRow::new([
                if several { r.key() } else { r.id.clone() },
                r.provider.clone(),
                r.status.clone(),
                activity_cell(r, now),
                r.pending.to_string(),
                task,
                r.last_result.clone().unwrap_or_default(),
            ])
        })
        .collect();
    // The first column fits its names (`team/agent` with several teams), within reason.
    let names = visible.iter().map(|r| match several {
        true => r.key().chars().count(),
        false => r.id.chars().count(),
    });
    let first = names.max().unwrap_or(0).clamp(9, 18) as u16;
    let widths = [
        Constraint::Length(first),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(21),
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(" workers "))
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
        .highlight_symbol("›");
    let mut state = TableState::default().with_selected(
        app.selected
            .as_ref()
            .and_then(|s| visible.iter().position(|r| &r.key() == s)),
    );
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_screen(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let title = match (app.selected_row(), app.screen_of.as_deref()) {
        (Some(row), Some(of)) if of == row.key() => {
            let detail = row
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            format!(" {}'s screen{detail} ", row.id)
        }
        (Some(row), _) => format!(" {}'s screen ", row.id),
        (None, _) => " screen ".into(),
    };
    draw_tail(frame, area, &title, &app.screen);
}

/// The last lines of `lines` that fit in a bordered box.
fn draw_tail(frame: &mut Frame<'_>, area: Rect, title: &str, lines: &[String]) {
    let fits = area.height.saturating_sub(2) as usize;
    let shown: Vec<Line<'_>> = lines[lines.len().saturating_sub(fits)..]
        .iter()
        .map(|l| Line::raw(l.as_str()))
        .collect();
    let block = Block::default()
        .borders(Borders::ALL)
        .title(title.to_string());
    frame.render_widget(Paragraph::new(shown).block(block), area);
}

fn bottom_line(app: &App) -> String {
    match &app.mode {
        Mode::Normal | Mode::Help => KEYS.into(),
        Mode::Send { agent, input } => {
            format!("send to {agent} (Enter sends, Esc cancels): {input}█")
        }
        Mode::Filter { input } => format!("filter (Enter keeps, Esc clears): {input}█"),
        Mode::ConfirmRestart { agent } => {
            format!(
                "restart {agent} (start-agent {agent} --force: new window, session resumed)? y/n"
            )
        }
        Mode::Answer { agent, choices, .. } => {
            let options: Vec<String> = choices
                .iter()
                .map(|c| format!("{} {}", c.key, short(&c.label, 18)))
                .collect();
            format!(
                "answer {}: {} · Esc cancels",
                agent.agent,
                options.join(" · ")
            )
        }
    }
}

/// At most `n` characters of `text`, an ellipsis ending one that was cut.
fn short(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(n - 1).collect();
    cut.push('…');
    cut
}

fn draw_help(frame: &mut Frame<'_>) {
    let area = frame.area();
    let width = area.width.min(74);
    let height = (HELP.len() as u16 + 2).min(area.height);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, popup);
    let lines: Vec<Line<'_>> = HELP.iter().map(|l| Line::raw(*l)).collect();
    let block = Block::default().borders(Borders::ALL).title(" keys ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dash::model::{Row, Team};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    const NOW: &str = "2026-12-04T12:00:00Z";

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(NOW)
            .unwrap()
            .with_timezone(&Utc)
    }

    /// A team in every state a worker can be in.
    fn team() -> Team {
        let row = |id: &str, status: &str, activity: Option<&str>, since: &str| Row {
            team: "team".into(),
            id: id.into(),
            provider: "scripted".into(),
            status: status.into(),
            activity: activity.map(str::to_string),
            activity_since: Some(since.into()),
            ..Row::default()
        };
        let mut busy = row("bob", "running", Some("working"), "2026-12-04T11:57:00Z");
        busy.pending = 2;
        busy.task = Some(("t-42".into(), "2026-12-04T11:50:00Z".into()));
        let mut asking = row(
            "carol",
            "running",
            Some("awaiting_approval"),
            "2026-12-04T11:59:48Z",
        );
        asking.detail = Some("Allow tool call: shell.rm?".into());
        let mut blocked = row("dave", "blocked", None, NOW);
        blocked.detail = Some("not signed in".into());
        let mut idle = row("alice", "running", Some("idle"), "2026-12-04T10:00:00Z");
        idle.last_result = Some("success: fixed the test".into());
        Team {
            name: Some("team".into()),
            message: "team 'team' is up (5 agents)".into(),
            coordinator_running: true,
            rows: vec![
                idle,
                busy,
                asking,
                blocked,
                row("erin", "exited", Some("exited"), NOW),
            ],
        }
    }

    fn frame(app: &App, events: &[String]) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal.draw(|f| draw(f, app, events, now())).unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
                    .trim_end()
                    .to_string()
            })
            .collect()
    }

    fn app_on_carol() -> App {
        let mut app = App::new(team());
        app.selected = Some("team/carol".into());
        app.screen_of = Some("team/carol".into());
        app.screen = [
            "› Team Agent message from leader: … (+4 lines)",
            "Allow tool call: shell.rm?",
            "❯ 1. Yes",
            "  2. Yes, and don't ask again for this session",
            "  3. No",
            "↑/↓ to move · Enter to select · digit to choose",
        ]
        .map(String::from)
        .to_vec();
        app
    }

    fn events() -> Vec<String> {
        [
            "11:59:48 agent.activity carol activity=awaiting_approval source=screen",
            "11:59:48 approval.needs_leader carol prompt=Allow tool call: shell.rm?",
            "11:59:49 notify.sent carol kind=approval sink=command",
        ]
        .map(String::from)
        .to_vec()
    }

    #[test]
    fn a_team_in_every_state_fits_80_by_24() {
        let expected = [
            "team-agent dash · team team · 5 workers · coordinator running",
            "┌ workers ─────────────────────────────────────────────────────────────────────┐",
            "│ AGENT     PROVIDER STATE    ACTIVITY              PEND TASK      RESULT      │",
            "│ alice     scripted running  idle 2h               0              success: fix│",
            "│ bob       scripted running  working 3m            2    t-42 10m              │",
            "│›carol     scripted running  awaiting_approval 12s 0                          │",
            "│ dave      scripted blocked  not signed in         0                          │",
            "│ erin      scripted exited   exited 0s             0                          │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ carol's screen: Allow tool call: shell.rm? ──────────────────────────────────┐",
            "│› Team Agent message from leader: … (+4 lines)                                │",
            "│Allow tool call: shell.rm?                                                    │",
            "│❯ 1. Yes                                                                      │",
            "│  2. Yes, and don't ask again for this session                                │",
            "│  3. No                                                                       │",
            "│↑/↓ to move · Enter to select · digit to choose                               │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "┌ events ──────────────────────────────────────────────────────────────────────┐",
            "│11:59:48 agent.activity carol activity=awaiting_approval source=screen        │",
            "│11:59:48 approval.needs_leader carol prompt=Allow tool call: shell.rm?        │",
            "│11:59:49 notify.sent carol kind=approval sink=command                         │",
            "└──────────────────────────────────────────────────────────────────────────────┘",
            "? for help",
            "Enter attach  s send  a answer  i interrupt  r restart  / filter  ? help  q quit",
        ];
        let got = frame(&app_on_carol(), &events());
        assert_eq!(got, expected, "got:\n{}", got.join("\n"));
    }

    #[test]
    fn answering_shows_the_prompts_choices_and_sending_shows_the_input_line() {
        let mut app = app_on_carol();
        app.key(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::NONE));
        let lines = frame(&app, &events());
        assert_eq!(
            lines[23],
            "answer carol: 1 Yes · 2 Yes, and don't as… · 3 No · Esc cancels"
        );
        let mut app = app_on_carol();
        for c in "sship it".chars() {
            app.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
        }
        assert_eq!(
            frame(&app, &events())[23],
            "send to carol (Enter sends, Esc cancels): ship it█"
        );
    }

    #[test]
    fn the_help_lists_every_key_over_the_dashboard() {
        let mut app = app_on_carol();
        app.key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
        let text = frame(&app, &events()).join("\n");
        for key in ["Enter", "s ", "a ", "i ", "r ", "/ ", "q, Esc"] {
            assert!(
                text.contains(&format!("│{key}")),
                "help lacks {key}:\n{text}"
            );
        }
    }

    #[test]
    fn the_next_drawing_is_when_an_age_changes() {
        let mut app = App::new(team());
        assert_eq!(next_change(&app, now()).as_secs(), 1, "carol's 12 s");
        app.team.rows.retain(|r| r.id == "alice");
        assert_eq!(next_change(&app, now()).as_secs(), 3600, "alice idle 2 h");
        app.team.rows[0].activity_since = Some("2026-12-04T11:58:30Z".into());
        assert_eq!(next_change(&app, now()).as_secs(), 30);
    }

    #[test]
    fn ages_read_shortly() {
        assert_eq!(age(Some("2026-12-04T11:59:59Z"), now()), "1s");
        assert_eq!(age(Some("2026-12-04T11:00:00Z"), now()), "1h");
        assert_eq!(age(Some("2026-12-01T12:00:00Z"), now()), "3d");
        assert_eq!(age(None, now()), "");
    }
}
