/*! The command line: clap definitions (each command's help, examples and `--json` shape live
with it), dispatch, and the rendering of answers and errors. Commands are thin: they parse, call
the module that owns the work, and build a [`Reply`].
*/

#[macro_use]
mod output;
mod demo_cmd;
mod doctor_cmd;
mod leader_cmd;
mod lifecycle_cmd;
mod manual_cmd;
mod messaging_cmd;
mod operator_cmd;
mod plugins_cmd;
mod plugins_new;
mod review_cmd;
pub(crate) mod spec_cmd;

pub(crate) use output::{Reply, UserError};

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::lifecycle::{self, teams};
use crate::workspace::Workspace;

const ABOUT: &str =
    "Lead a team of AI coding-agent CLIs (Codex, Claude Code, …) from one leader agent.";

const EXAMPLES: &str = "\
Examples:
  team-agent demo                         a real team of three scripted workers, start to finish
  team-agent init my-team                 write a starter team (two scripted workers)
  team-agent validate my-team             check a team directory or team.spec.yaml
  team-agent up my-team                   start the team's workers in tmux
  team-agent status                       who runs, who is busy, sessions, pending messages
  team-agent send alice \"fix the test\" --task t1
  team-agent wait --task t1               block until alice reports the result
  team-agent claude --model opus          Claude Code as the leader, in tmux, with the team's tools
  team-agent shutdown && team-agent restart
                                          stop tonight, resume the same sessions tomorrow
  team-agent diff alice && team-agent merge alice
                                          review a worktree worker's work, merge it into the base
  team-agent plugins list                 which provider and display plugins are installed
  team-agent plugins check PATH           run the conformance suite on a plugin library
  team-agent plugins probe scripted --screen pane.txt
                                          why does team-agent think this screen is busy?
  team-agent completions bash             shell completions (bash, zsh, fish, elvish, powershell)
  team-agent man --out ~/.local/share/man/man1
                                          one man page per command

Every command takes --json (a stable JSON object on stdout) and --workspace DIR (default: the
current directory). Exit codes: 0 success, 1 refused or failed, 2 usage.";

const DASH_HELP: &str = "\
Keys: ↑/↓ select · Enter attach (detach with the tmux prefix, then d, to come back) · s send ·
a answer the approval prompt with one of its visible choices · i interrupt · r restart
(start-agent --force) · / filter · ? help · q quit.

Examples:
  team-agent dash
  ssh build-box -t 'cd ~/ws && team-agent dash'   works over ssh, in 80x24 and up";

#[derive(Debug, Parser)]
#[command(name = "team-agent", version, about = ABOUT, after_help = EXAMPLES)]
pub(crate) struct Cli {
    /// The workspace the team works in (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,

    /// Answer with one JSON object on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// The team a command acts on, when the workspace holds several (default: the one that
    /// runs, or the only one there is).
    #[arg(long, global = true, value_name = "NAME", env = "TEAM_AGENT_TEAM")]
    pub team: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run a real team of three scripted workers in a temporary workspace: start it, give each a
    /// task, collect the results, shut it down. No network, no API key.
    #[command(
        after_help = "Example:\n  team-agent demo --keep   # leave it running to look around"
    )]
    Demo {
        /// Leave the team running and print how to attach.
        #[arg(long)]
        keep: bool,
    },

    /// Write a starter team: TEAM.md and two scripted workers in agents/.
    #[command(after_help = "Example:\n  team-agent init my-team && team-agent validate my-team")]
    Init {
        /// The team directory to create (default: ./team).
        dir: Option<PathBuf>,
        /// Overwrite the starter files in a directory that is not empty.
        #[arg(long)]
        force: bool,
    },

    /// Check a team directory (TEAM.md + agents/*.md) or a team.spec.yaml; report every error.
    ///
    /// JSON: {"ok","errors":[{"file","path","line","message"}],"warnings":[…],"team","agents":[…]}.
    /// Exit 1 on any error.
    #[command(
        after_help = "Examples:\n  team-agent validate my-team\n  team-agent validate team.spec.yaml --json"
    )]
    Validate {
        /// A team directory or a spec file (YAML or JSON).
        path: PathBuf,
    },

    /// Compile a team directory into a full spec that stands alone.
    #[command(after_help = "Example:\n  team-agent compile my-team --out team.spec.yaml")]
    Compile {
        /// The team directory.
        dir: PathBuf,
        /// Where to write the spec (default: DIR/team.spec.yaml).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },

    /// Check a result envelope (result_envelope_v1) from a file or stdin (`-`).
    #[command(
        name = "validate-result",
        after_help = "Example:\n  team-agent validate-result result.json"
    )]
    ValidateResult {
        /// The envelope file, or `-` for stdin.
        file: PathBuf,
    },

    /// Start a team: every worker in its own window on the workspace's private tmux server.
    ///
    /// JSON: {"ok","team","session_name","tmux_socket","agents":[{"id","provider","status","pane_id",
    /// "session_id"}],"coordinator":{"pid"}}. Run from a tmux pane, that pane becomes the leader.
    #[command(
        visible_alias = "quick-start",
        after_help = "Examples:\n  team-agent up my-team\n  team-agent up team.spec.yaml --yes --json"
    )]
    Up {
        /// A team directory (TEAM.md + agents/*.md) or a team.spec.yaml.
        definition: PathBuf,
        /// Approve the launch where the spec asks for approval (runtime.require_user_approval_before_launch).
        #[arg(long)]
        yes: bool,
        /// Start over even though a previous team's sessions could be resumed (`restart`).
        #[arg(long)]
        fresh: bool,
        /// How to show the workers: tmux-overview, terminal, none, auto (default: the team's
        /// display_backend, else auto = tmux-overview when run from tmux, none otherwise).
        #[arg(long, value_name = "NAME")]
        display: Option<String>,
    },

    /// What runs: each agent's lifecycle, activity, session and pending messages; the coordinator.
    ///
    /// JSON: {"team","session_name","tmux_socket","agents":[{"id","provider","status","activity",
    /// "activity_source" (screen, transcript, hook; none when nothing watches),"activity_since",
    /// "pane_id","session_id","capture_state","transcript_path","first_send_at","last_output_age_s",
    /// "pending_messages","turn":{"state","since","rule","source"},"worktree":{"path","branch","base",
    /// "ahead","dirty","exists"} (only for isolation: worktree)}],"coordinator":{"status","pid"},
    /// "leader":{…}}.
    Status {
        /// Only this agent.
        agent: Option<String>,
    },

    /// Stop the team: keep every worker's scrollback, stop the coordinator, end its tmux server.
    /// Session records are kept for `restart`. A second shutdown says nothing was running.
    Shutdown,

    /// Resume every worker's provider session after a shutdown or a reboot; refuses (creating
    /// nothing) when a worker that was given work cannot be resumed.
    #[command(
        after_help = "Examples:\n  team-agent restart\n  team-agent restart --allow-fresh   # start unresumable workers fresh"
    )]
    Restart {
        /// Start workers whose session cannot be resumed fresh (they lose their context).
        #[arg(long)]
        allow_fresh: bool,
        /// How to show the workers (default: the display the team had).
        #[arg(long, value_name = "NAME")]
        display: Option<String>,
    },

    /// Start (or resume) one worker; with --force, replace its running window.
    #[command(name = "start-agent")]
    StartAgent {
        agent: String,
        #[arg(long)]
        force: bool,
        /// Start it fresh if its session cannot be resumed.
        #[arg(long)]
        allow_fresh: bool,
    },

    /// Stop one worker, keeping its session for a later start-agent.
    #[command(name = "stop-agent")]
    StopAgent { agent: String },

    /// Discard one worker's session and start it fresh (a worktree worker keeps its worktree
    /// and branch, unless --discard-changes).
    #[command(
        name = "reset-agent",
        after_help = "Examples:\n  team-agent reset-agent alice --discard-session\n  team-agent reset-agent alice --discard-session --discard-changes   # its branch back at its base"
    )]
    ResetAgent {
        agent: String,
        /// Confirms that the session (and the worker's context) is thrown away.
        #[arg(long)]
        discard_session: bool,
        /// Also put its worktree's branch back at its base, dropping its commits and uncommitted
        /// changes (the old head is named in the answer, to recover it).
        #[arg(long)]
        discard_changes: bool,
    },

    /// A worktree worker's changes against its base, committed and not.
    #[command(long_about = None, after_help = review_cmd::DIFF_HELP)]
    Diff {
        agent: String,
        /// Only which files changed and how much.
        #[arg(long)]
        stat: bool,
    },

    /// Merge a worktree worker's branch (its uncommitted changes committed first) into the base
    /// branch of the workspace's own worktree; refuses, changing nothing, on a conflict.
    #[command(after_help = review_cmd::MERGE_HELP)]
    Merge {
        agent: String,
        /// One commit of the worker's changes instead of a merge commit.
        #[arg(long)]
        squash: bool,
        /// The merge's (or squashed commit's) message.
        #[arg(long, value_name = "M")]
        message: Option<String>,
    },

    /// Add a worker from a role file (front matter name, role, provider) and start it.
    #[command(
        name = "add-agent",
        after_help = "Example:\n  team-agent add-agent carol --role-file carol.md"
    )]
    AddAgent {
        id: String,
        #[arg(long, value_name = "FILE")]
        role_file: PathBuf,
    },

    /// Start a new worker from a copy of another's provider session (providers that can fork).
    #[command(
        name = "fork-agent",
        after_help = "Example:\n  team-agent fork-agent alice --as alice2 --label \"second opinion\""
    )]
    ForkAgent {
        /// The worker whose session is copied.
        source: String,
        /// The new worker's id.
        #[arg(long = "as", value_name = "NEW")]
        new_id: String,
        /// The new worker's role (default: the source's).
        #[arg(long)]
        label: Option<String>,
    },

    /// Remove a worker (with --force if it runs); its role file is kept under .team/runtime/removed/.
    /// A worktree worker's worktree is removed only when nothing in it is unmerged (--force
    /// commits its uncommitted changes to its branch first); its branch is always kept.
    #[command(name = "remove-agent")]
    RemoveAgent {
        agent: String,
        #[arg(long)]
        force: bool,
    },

    /// Send a message to a worker (or `leader`, several with --to a,b, everyone with `*`).
    ///
    /// Stored first, then pasted into the recipient's pane and submitted; a recipient that cannot
    /// take input now (busy, starting, …) gets it queued and the coordinator delivers it.
    /// JSON: {"ok","message_id","to","status"}; exit 0 when submitted or queued. With
    /// `--wait consumed` it returns once the worker's CLI took the message (its transcript shows
    /// it): status `consumed`, exit 1 when that did not happen within --timeout.
    #[command(
        after_help = "Examples:\n  team-agent send alice \"review src/lib.rs\" --task review-1\n  \
team-agent send --to alice,bob \"stand up\"\n  team-agent send '*' \"stop and report\"\n  git diff | team-agent send bob - --task t2\n  \
team-agent send alice \"go\" --wait consumed --timeout 30"
    )]
    Send {
        /// The recipient (agent id, `leader`, or `*`), unless --to is given.
        #[arg(value_name = "AGENT")]
        target: Option<String>,
        /// The message text, or `-` for stdin.
        message: Option<String>,
        /// Recipients, comma-separated (instead of AGENT).
        #[arg(long, value_delimiter = ',')]
        to: Vec<String>,
        /// The task the message is about (need not be in the spec).
        #[arg(long)]
        task: Option<String>,
        /// Read the message from a file (`-` for stdin).
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
        /// Store and return; the coordinator delivers it.
        #[arg(long, conflicts_with = "wait")]
        no_wait: bool,
        /// How far to follow the message before returning: `submitted` (the default: pasted and
        /// submitted, or queued) or `consumed` (the worker's CLI took it).
        #[arg(long, value_enum, value_name = "RECEIPT")]
        wait: Option<messaging_cmd::Receipt>,
        /// With --wait consumed: how many seconds to wait.
        #[arg(long, default_value_t = 60.0, value_name = "SECONDS")]
        timeout: f64,
    },

    /// Report a result (result_envelope_v1) for your task: from a worker, the agent comes from
    /// TEAM_AGENT_ID. Stored, the task's messages acknowledged, the leader notified once.
    #[command(
        name = "report-result",
        after_help = "Example:\n  echo '{\"schema_version\":\"result_envelope_v1\",…}' | team-agent report-result -"
    )]
    ReportResult {
        /// The envelope (JSON or YAML), or `-` for stdin.
        #[arg(default_value = "-")]
        file: PathBuf,
    },

    /// Stored results, filtered by task or agent.
    Results {
        #[arg(long)]
        task: Option<String>,
        #[arg(long)]
        agent: Option<String>,
    },

    /// Block until a task's result arrives: exit 0 with the envelope, 1 on timeout.
    #[command(
        after_help = "Example:\n  team-agent send alice \"…\" --task t1 && team-agent wait --task t1 --timeout 600"
    )]
    Wait {
        #[arg(long)]
        task: String,
        /// Seconds to wait.
        #[arg(long, default_value_t = 600.0)]
        timeout: f64,
    },

    /// The messages an agent (or `leader`) sent and received.
    Inbox {
        agent: String,
        /// Only from this time on (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },

    /// Live one-line events until Ctrl-C.
    Watch,

    /// Bind a tmux pane as the leader: messages and results for the leader go there.
    #[command(
        name = "attach-leader",
        after_help = "Example:\n  team-agent attach-leader --pane \"$TMUX_PANE\""
    )]
    AttachLeader {
        /// The pane id (%N).
        #[arg(long)]
        pane: String,
        /// The socket of the pane's tmux server (default: from $TMUX).
        #[arg(long)]
        socket: Option<PathBuf>,
        /// The leader's provider (decides the submit keys; default: the team's leader provider).
        #[arg(long)]
        provider: Option<String>,
    },

    /// The last lines of a worker's screen, control sequences removed.
    Peek {
        agent: String,
        #[arg(long, default_value_t = 40)]
        lines: usize,
    },

    /// Attach this terminal to a worker's window (detach with the tmux prefix + d).
    Attach { agent: String },

    /// Interrupt a worker's current turn (its provider's interrupt key).
    Interrupt { agent: String },

    /// Answer a worker's pending approval prompt by hand.
    #[command(after_help = "Examples:\n  team-agent answer alice yes\n  team-agent answer alice 3")]
    Answer {
        agent: String,
        /// The option's number, or yes / no / always.
        choice: String,
    },

    /// Silence the all-idle reminder for 30 minutes.
    #[command(name = "acknowledge-idle")]
    AcknowledgeIdle,

    /// Runs a worker's CLI with the environment from a private file (used in worker windows).
    #[command(name = "worker-exec", hide = true)]
    WorkerExec {
        #[arg(long)]
        env_file: PathBuf,
        #[arg(last = true, required = true)]
        argv: Vec<String>,
    },

    /// Hands one of a worker CLI's hook events to the coordinator (what a worker's configured
    /// hooks run; fast, prints nothing, always exits 0 so it never stops the CLI).
    ///
    /// The payload is the last argument when given (Codex's notify passes its JSON so), else
    /// stdin. The event waits in `.team/runtime/hooks/AGENT.jsonl` until the coordinator reads it.
    #[command(
        name = "hook",
        after_help = "Example (what a Claude Code Stop hook runs):\n  echo '{\"hook_event_name\":\"Stop\"}' | team-agent --workspace /srv/ws hook --agent alice Stop"
    )]
    Hook {
        /// The worker whose CLI ran the hook.
        #[arg(long, env = "TEAM_AGENT_ID")]
        agent: String,
        /// The event's name, as the worker's provider configured it.
        event: String,
        /// The CLI's payload (default: read from stdin).
        payload: Option<String>,
    },

    /// The stdio MCP server given to every worker (tools send_message, report_result,
    /// get_team_status, request_human; the caller is TEAM_AGENT_ID).
    #[command(name = "mcp-server")]
    McpServer,

    /// The per-workspace daemon that keeps the team healthy (started for you).
    #[command(subcommand)]
    Coordinator(lifecycle_cmd::CoordinatorCommand),

    /// Check the environment and the workspace, and explain how to fix what is wrong.
    #[command(
        after_help = "Examples:\n  team-agent doctor\n  team-agent doctor --restore-state --confirm"
    )]
    Doctor(doctor_cmd::DoctorArgs),

    /// List, check and probe provider and display plugins.
    #[command(subcommand)]
    Plugins(plugins_cmd::PluginsCommand),

    /// Make this pane the leader of a team whose leader pane is gone (owner epoch + 1).
    ///
    /// Without --confirm it only says what it would do. Refused while the owner's pane is alive
    /// (use `takeover`).
    #[command(
        name = "claim-leader",
        after_help = "Example:\n  team-agent claim-leader --confirm   # run in the pane that is to lead"
    )]
    ClaimLeader {
        /// Apply the change.
        #[arg(long)]
        confirm: bool,
    },

    /// Make this pane the leader in place of a live leader pane (owner epoch + 1); leader
    /// messages and results come here from now on.
    #[command(after_help = "Example:\n  team-agent takeover --confirm")]
    Takeover {
        /// Required: the old leader pane stops receiving the team's messages.
        #[arg(long)]
        confirm: bool,
    },

    /// Write the leader instructions as a skill where Claude Code and Codex read skills
    /// (~/.claude/skills/team-agent/SKILL.md, ~/.codex/skills/team-agent/SKILL.md).
    #[command(
        name = "install-skill",
        after_help = "Examples:\n  team-agent install-skill\n  team-agent install-skill --target codex --dry-run"
    )]
    InstallSkill {
        /// Which CLI gets the skill.
        #[arg(long, value_enum, default_value = "all")]
        target: crate::leader::SkillTarget,
        /// Show what would be written; change nothing.
        #[arg(long)]
        dry_run: bool,
    },

    /// The operator's live view of the team, full screen: one row per worker, the selected
    /// worker's screen, the event stream; keys attach, send, answer, interrupt and restart through
    /// the commands of the same name. Needs a terminal (elsewhere: `status`, `watch`).
    #[command(after_help = DASH_HELP)]
    Dash,

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), made from the same
    /// definitions as --help.
    #[command(after_help = manual_cmd::COMPLETIONS_HELP)]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Man pages made from the same definitions as --help: the main page on stdout, or with --out
    /// one page per command (team-agent.1, team-agent-<command>.1) written into DIR.
    #[command(after_help = manual_cmd::MAN_HELP)]
    Man {
        /// Write every page into this directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },

    /// `team-agent claude [ARGS…]`, `team-agent codex [ARGS…]` (any installed provider): start
    /// that CLI as the team's leader, in tmux, with the team-agent MCP server and instructions.
    #[command(external_subcommand)]
    Leader(Vec<String>),
}

/// Refuses a command that changes the team when run from another live pane than its owner's.
/// The team's lock for a command that changes the team (see `lifecycle::TeamLock`).
pub(crate) fn team_lock(
    workspace: &crate::workspace::Workspace,
    command: &str,
) -> anyhow::Result<lifecycle::TeamLock> {
    lifecycle::TeamLock::take(workspace, command, &|line| err_out!("{line}"))
        .map_err(lifecycle_cmd::user_error)
}

fn owner_gate(workspace: &crate::workspace::Workspace) -> anyhow::Result<()> {
    let Some(team) = crate::state::StateStore::new(workspace).load()?.team else {
        return Ok(());
    };
    crate::leader::ownership::check(&team, &crate::leader::ownership::Caller::from_env())
        .map_err(lifecycle_cmd::user_error)
}

/// A worker's workspace: `--workspace`, else `TEAM_AGENT_WORKSPACE` (set for every worker), else
/// the current directory; scoped to `--team`/`TEAM_AGENT_TEAM` (set for every worker) as given,
/// else to the team the workspace leaves no doubt about.
fn workspace_from_env(
    given: Option<&std::path::Path>,
    team: Option<&str>,
) -> anyhow::Result<crate::workspace::Workspace> {
    let from_env = std::env::var_os("TEAM_AGENT_WORKSPACE").map(PathBuf::from);
    let base = crate::workspace::Workspace::resolve(given.or(from_env.as_deref()))?;
    Ok(match team {
        Some(team) => base.for_team(team),
        None => teams::team_workspace(&base, None).map_err(lifecycle_cmd::user_error)?,
    })
}

/// Runs the command line; returns the process exit code.
pub fn main() -> ExitCode {
    // `--version` alone answers before clap builds the definition of every command (most of
    // what the process would spend).
    if let Some(code) = version_only() {
        return code;
    }
    // Every worker window starts through `worker-exec`, and every hook is a call: straight to
    // them, as for `--version`.
    if let Some(code) = crate::worker_side::fast_path() {
        return code;
    }
    let cli = Cli::parse();
    // The coordinator talks to its team's tmux server over one control-mode connection instead of
    // a process per tmux command (TEAM_AGENT_TMUX_CONTROL=0 turns it off). Only the coordinator:
    // tmux 3.3a crashed with several control clients at once (see tmux::control).
    if matches!(cli.command, Command::Coordinator(_))
        && std::env::var_os("TEAM_AGENT_TMUX_CONTROL").is_none_or(|v| v != "0")
    {
        crate::tmux::control::enable();
    }
    let json = cli.json;
    let code = match run(cli) {
        Ok(reply) => output::print_reply(&reply, json),
        Err(error) => output::print_error(&error, json),
    };
    ExitCode::from(code)
}

/// `team-agent --version` or `-V` and nothing else: the line clap would print.
fn version_only() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    let first = args.next()?;
    if args.next().is_some() || (first != "--version" && first != "-V") {
        return None;
    }
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "team-agent {}", env!("CARGO_PKG_VERSION"));
    Some(if written.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `team-agent hook` in a spelling the fast path leaves to the parser (see
/// [`crate::hooks::call`]).
fn hook(
    workspace: Option<&std::path::Path>,
    team: Option<&str>,
    agent: &str,
    event: &str,
    payload: Option<String>,
) {
    let workspace = workspace_from_env(workspace, team).map_err(|e| e.to_string());
    if let Err(e) = crate::hooks::call(workspace, agent, event, payload) {
        err_out!("team-agent hook: cannot record {event} for {agent}: {e}");
    }
}

fn run(cli: Cli) -> anyhow::Result<Reply> {
    let base = || crate::workspace::Workspace::resolve(cli.workspace.as_deref());
    let team = cli.team.as_deref().filter(|t| !t.is_empty());
    let workspace = || -> anyhow::Result<Workspace> {
        teams::team_workspace(&base()?, team).map_err(lifecycle_cmd::user_error)
    };
    match cli.command {
        Command::Demo { keep } => demo_cmd::demo(keep),
        Command::Init { dir, force } => spec_cmd::init(dir.as_deref(), force),
        Command::Validate { path } => spec_cmd::validate(&path, &base()?),
        Command::Compile { dir, out } => spec_cmd::compile(&dir, out.as_deref(), &base()?),
        Command::ValidateResult { file } => spec_cmd::validate_result(&file),
        Command::Doctor(args) => doctor_cmd::run(&args, &workspace()?),
        Command::Up {
            definition,
            yes,
            fresh,
            display,
        } => {
            // Not owner-gated: `up` is how a pane comes to own a team. The team lock is taken
            // once the definition names the team.
            lifecycle_cmd::up(&base()?, team, &definition, yes, fresh, display)
        }
        Command::Status { agent } => match team {
            Some(_) => lifecycle_cmd::status(&workspace()?, agent.as_deref()),
            None => lifecycle_cmd::status_all(&base()?, agent.as_deref()),
        },
        Command::Diff { agent, stat } => review_cmd::diff(&workspace()?, &agent, stat),
        Command::Merge {
            agent,
            squash,
            message,
        } => {
            let ws = workspace()?;
            let _team = team_lock(&ws, "merge")?;
            owner_gate(&ws)?;
            review_cmd::merge(&ws, &agent, squash, message.as_deref())
        }
        command @ (Command::Shutdown
        | Command::Restart { .. }
        | Command::StartAgent { .. }
        | Command::StopAgent { .. }
        | Command::ResetAgent { .. }
        | Command::AddAgent { .. }
        | Command::ForkAgent { .. }
        | Command::RemoveAgent { .. }) => team_change(command, cli.workspace.as_deref(), team),
        Command::Coordinator(command) => lifecycle_cmd::coordinator(&workspace()?, &command),
        Command::Peek { agent, lines } => operator_cmd::peek(&workspace()?, &agent, lines),
        Command::Attach { agent } => operator_cmd::attach(&workspace()?, &agent),
        command @ (Command::Interrupt { .. }
        | Command::Answer { .. }
        | Command::AcknowledgeIdle
        | Command::Send { .. }) => owner_command(command, &workspace()?),
        command @ (Command::WorkerExec { .. }
        | Command::Hook { .. }
        | Command::McpServer
        | Command::ReportResult { .. }) => worker_side(command, cli.workspace.as_deref(), team),
        Command::ClaimLeader { confirm } => {
            let ws = workspace()?;
            let _team = team_lock(&ws, "claim-leader")?;
            leader_cmd::claim_leader(&ws, confirm)
        }
        Command::Takeover { confirm } => {
            let ws = workspace()?;
            let _team = team_lock(&ws, "takeover")?;
            leader_cmd::takeover(&ws, confirm)
        }
        Command::InstallSkill { target, dry_run } => leader_cmd::install_skill(target, dry_run),
        Command::Leader(argv) => leader_cmd::external(&workspace()?, &argv),
        command @ (Command::Results { .. }
        | Command::Wait { .. }
        | Command::Inbox { .. }
        | Command::Watch
        | Command::AttachLeader { .. }) => messaging_read(command, &workspace()?, cli.json),
        Command::Plugins(command) => plugins_cmd::run(command, &cli.workspace),
        Command::Dash => dash(cli.workspace.as_deref(), team),
        Command::Completions { shell } => manual_cmd::completions(shell, cli.json),
        Command::Man { out } => manual_cmd::man(out.as_deref()),
    }
}

/// What a worker's window and CLI run: `worker-exec`, its hooks, its MCP server, its results.
/// Their workspace and team come from the worker's environment.
fn worker_side(
    command: Command,
    dir: Option<&std::path::Path>,
    team: Option<&str>,
) -> anyhow::Result<Reply> {
    match command {
        Command::WorkerExec { env_file, argv } => {
            let error = lifecycle::worker_exec(&env_file, &argv);
            err_out!(
                "team-agent: cannot start {}: {error}",
                argv.first().map(String::as_str).unwrap_or("?")
            );
            std::process::exit(127);
        }
        // Never a word on stdout (Claude Code adds a UserPromptSubmit hook's output to the
        // prompt) and never a failing exit (which could block the CLI's action).
        Command::Hook {
            agent,
            event,
            payload,
        } => {
            hook(dir, team, &agent, &event, payload);
            Ok(Reply::ok(serde_json::json!({"ok": true}), ""))
        }
        Command::McpServer => {
            crate::mcp::serve(workspace_from_env(dir, team)?)
                .map_err(|e| UserError::new(format!("mcp-server: {e}")))?;
            Ok(Reply::ok(serde_json::json!({"ok": true}), ""))
        }
        Command::ReportResult { file } => {
            messaging_cmd::report_result(&workspace_from_env(dir, team)?, &file)
        }
        // `run` sends only the commands above here.
        _ => unreachable!("worker_side called with a command a worker does not run"),
    }
}

/// The commands that read what the team said: results, waits, inboxes, the event stream, and the
/// leader pane's binding.
fn messaging_read(command: Command, ws: &Workspace, json: bool) -> anyhow::Result<Reply> {
    match command {
        Command::Results { task, agent } => {
            messaging_cmd::results(ws, task.as_deref(), agent.as_deref())
        }
        Command::Wait { task, timeout } => messaging_cmd::wait(ws, &task, timeout),
        Command::Inbox {
            agent,
            since,
            limit,
        } => messaging_cmd::inbox(ws, &agent, since.as_deref(), limit),
        Command::Watch => messaging_cmd::watch(ws, json),
        Command::AttachLeader {
            pane,
            socket,
            provider,
        } => messaging_cmd::attach_leader(ws, &pane, socket.as_deref(), provider.as_deref()),
        // `run` sends only the commands above here.
        _ => unreachable!("messaging_read called with a command that reads nothing"),
    }
}

/// A team-changing command: under the team lock, and only from the owning leader's pane; an
/// agent's change rebuilds the open display after it.
fn team_change(
    command: Command,
    workspace: Option<&std::path::Path>,
    team: Option<&str>,
) -> anyhow::Result<Reply> {
    let base = Workspace::resolve(workspace)?;
    let chosen = teams::choose(&base, team).map_err(lifecycle_cmd::user_error)?;
    let ws = match (&command, chosen) {
        (Command::Restart { .. }, Some(team)) => teams::starting_team(&base, &team)?,
        (_, Some(team)) => base.for_team(&team),
        (_, None) => base,
    };
    let _team = team_lock(&ws, command_name(&command))?;
    owner_gate(&ws)?;
    let agent_change = |op: &dyn Fn(&lifecycle::Context<'_>) -> AgentResult| {
        lifecycle_cmd::agent_op(lifecycle_cmd::with_context(&ws, op))
    };
    match command {
        Command::Shutdown => lifecycle_cmd::shutdown(&ws),
        Command::Restart {
            allow_fresh,
            display,
        } => lifecycle_cmd::restart(&ws, allow_fresh, display),
        Command::StartAgent {
            agent,
            force,
            allow_fresh,
        } => agent_change(&|ctx| lifecycle::start_agent(ctx, &agent, force, allow_fresh)),
        Command::StopAgent { agent } => agent_change(&|ctx| lifecycle::stop_agent(ctx, &agent)),
        Command::ResetAgent {
            agent,
            discard_session,
            discard_changes,
        } => agent_change(&|ctx| {
            lifecycle::reset_agent(ctx, &agent, discard_session, discard_changes)
        }),
        Command::AddAgent { id, role_file } => {
            let role_file = lifecycle_cmd::resolve_role_file(&role_file);
            agent_change(&|ctx| lifecycle::add_agent(ctx, &id, &role_file))
        }
        Command::ForkAgent {
            source,
            new_id,
            label,
        } => agent_change(&|ctx| lifecycle::fork_agent(ctx, &source, &new_id, label.as_deref())),
        Command::RemoveAgent { agent, force } => {
            agent_change(&|ctx| lifecycle::remove_agent(ctx, &agent, force))
        }
        // `run` sends only the commands above here.
        _ => unreachable!("team_change called with a command that changes no team"),
    }
}

/// A command only the owning leader's pane may give, without the team lock (it reaches a
/// worker and keeps the team as it is).
fn owner_command(command: Command, ws: &Workspace) -> anyhow::Result<Reply> {
    if let Command::Send {
        target,
        message,
        to,
        task,
        file,
        no_wait,
        wait,
        timeout,
    } = command
    {
        let (targets, message) = send_targets(target, message, to)?;
        owner_gate(ws)?;
        return messaging_cmd::send(
            ws,
            messaging_cmd::SendArgs {
                targets,
                message: message.as_deref(),
                file: file.as_deref(),
                task: task.as_deref(),
                no_wait,
                wait: wait.unwrap_or(messaging_cmd::Receipt::Submitted),
                timeout,
            },
        );
    }
    owner_gate(ws)?;
    match command {
        Command::Interrupt { agent } => operator_cmd::interrupt(ws, &agent),
        Command::Answer { agent, choice } => operator_cmd::answer(ws, &agent, &choice),
        Command::AcknowledgeIdle => operator_cmd::acknowledge_idle(ws),
        // `run` sends only the commands above here.
        _ => unreachable!("owner_command called with a command it does not run"),
    }
}

/// `team-agent dash`: each of its actions runs the command of the same name, through the same
/// dispatch (owner gate and team lock included).
fn dash(workspace: Option<&std::path::Path>, team: Option<&str>) -> anyhow::Result<Reply> {
    let base = Workspace::resolve(workspace)?;
    // With --team that team, else every team of the workspace (as `status` shows them).
    let names: Vec<String> = match team {
        Some(_) => teams::choose(&base, team)
            .map_err(lifecycle_cmd::user_error)?
            .into_iter()
            .collect(),
        None => base.teams().into_iter().map(|t| t.name).collect(),
    };
    let scoped: Vec<Workspace> = match names.is_empty() {
        true => vec![base.clone()],
        false => names.iter().map(|n| base.for_team(n)).collect(),
    };
    let root = base.root().to_path_buf();
    let act = |action: &crate::dash::Action| {
        use crate::dash::Do;
        let agent = action.target.agent.clone();
        let team = action.target.team.as_str();
        let command = match action.what.clone() {
            Do::Send(text) => Command::Send {
                target: Some(agent),
                message: Some(text),
                to: Vec::new(),
                task: None,
                file: None,
                no_wait: false,
                wait: None,
                timeout: 60.0,
            },
            Do::Answer(choice) => Command::Answer { agent, choice },
            Do::Interrupt => Command::Interrupt { agent },
            Do::Restart => Command::StartAgent {
                agent,
                force: true,
                allow_fresh: false,
            },
        };
        // What a command says on stderr as it goes (progress, a wait for the team lock) would
        // land in the middle of the dashboard's screen.
        let team = Some(team).filter(|t| !t.is_empty());
        let reply = off_stderr(|| match command {
            command @ Command::StartAgent { .. } => team_change(command, Some(&root), team),
            command => teams::team_workspace(&base, team)
                .map_err(lifecycle_cmd::user_error)
                .and_then(|ws| owner_command(command, &ws)),
        });
        let line = |text: &str| output::for_terminal(text.trim_end()).replace('\n', " · ");
        match reply {
            Ok(reply) if reply.ok => Ok(line(&reply.text)),
            Ok(reply) => Err(line(&reply.text)),
            Err(error) => Err(refusal_text(&error)),
        }
    };
    crate::dash::run(&scoped, &act)?;
    Ok(Reply::ok(serde_json::json!({"ok": true}), ""))
}

/// Runs `f` with this process's stderr sent to /dev/null, and puts it back after.
fn off_stderr<T>(f: impl FnOnce() -> T) -> T {
    use std::os::fd::AsRawFd;
    let saved = nix::unistd::dup(std::io::stderr());
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null");
    let (Ok(saved), Ok(null)) = (saved, null) else {
        return f();
    };
    // SAFETY: dup2 on descriptors this process holds open; fd 2 is pointed at /dev/null and
    // then back at what it was.
    unsafe { libc::dup2(null.as_raw_fd(), 2) };
    let out = f();
    unsafe { libc::dup2(saved.as_raw_fd(), 2) };
    out
}

/// An error as one line: its message, then what to do.
fn refusal_text(error: &anyhow::Error) -> String {
    match error.downcast_ref::<UserError>() {
        Some(u) => match &u.action {
            Some(action) => format!("{} ({action})", u.message),
            None => u.message.clone(),
        },
        None => error.to_string(),
    }
}

/// A team-changing command's name as typed, for the team lock's holder file.
fn command_name(command: &Command) -> &'static str {
    match command {
        Command::Shutdown => "shutdown",
        Command::Restart { .. } => "restart",
        Command::StartAgent { .. } => "start-agent",
        Command::StopAgent { .. } => "stop-agent",
        Command::ResetAgent { .. } => "reset-agent",
        Command::AddAgent { .. } => "add-agent",
        Command::ForkAgent { .. } => "fork-agent",
        Command::RemoveAgent { .. } => "remove-agent",
        _ => "team-agent",
    }
}

type AgentResult = Result<lifecycle::AgentOp, lifecycle::LifecycleError>;

/// `send`'s recipients and text: `send AGENT TEXT`, or `--to A --to B [TEXT]`.
fn send_targets(
    target: Option<String>,
    message: Option<String>,
    to: Vec<String>,
) -> anyhow::Result<(Vec<String>, Option<String>)> {
    match (to.is_empty(), target, message) {
        (true, Some(t), m) => Ok((vec![t], m)),
        (false, Some(first), None) => Ok((to, Some(first))),
        (false, None, m) => Ok((to, m)),
        (false, Some(_), Some(_)) => {
            Err(UserError::new("give the recipient either as AGENT or with --to, not both").into())
        }
        (true, None, _) => Err(UserError::new("no recipient")
            .action("example: team-agent send alice \"hello\"")
            .into()),
    }
}
