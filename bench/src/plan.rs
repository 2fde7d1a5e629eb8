/*! What each mode measures (sizes, runs, windows) and the report's account of the method, written
from the same values so the two never disagree. */

use std::time::Duration;

use crate::sandbox::TICK_INTERVAL_SEC;
use crate::{dashboard, hooks, idle, lifecycle, messaging, plugin, real_clis, scale, status};

pub struct Plan {
    pub name: &'static str,
    pub lifecycle: lifecycle::Plan,
    pub messaging: messaging::Plan,
    pub status: status::Plan,
    pub idle: idle::Plan,
    pub plugin: plugin::Plan,
    pub hooks: hooks::Plan,
    pub real_clis: real_clis::Plan,
    pub scale: scale::Plan,
    pub dashboard: dashboard::Plan,
}

impl Plan {
    /// At most 20 minutes on a 2-core machine: every size, several runs each.
    pub fn full() -> Self {
        Self {
            name: "full",
            lifecycle: lifecycle::Plan {
                up: vec![(1, 20), (8, 15), (32, 8)],
                agent_starts: 20,
            },
            messaging: messaging::Plan {
                team_size: 100,
                small: 200,
                large: 10,
                burst: 50,
                bursts: 3,
            },
            status: status::Plan {
                sizes: vec![8, 32, 100],
                runs: 30,
                stored_messages: 100_000,
            },
            idle: idle::Plan {
                sizes: vec![8, 32, 100],
                settle: Duration::from_secs(5),
                window: Duration::from_secs(60),
                slice: Duration::from_secs(10),
                spawn_window: Duration::from_secs(20),
            },
            plugin: plugin::Plan {
                loads: 20,
                batches: 200,
                calls_per_batch: 1000,
            },
            hooks: hooks::Plan {
                calls: 50,
                turns: 20,
            },
            real_clis: real_clis::Plan {
                ups: 3,
                sends: 30,
                idles: 10,
                reports: 10,
            },
            scale: scale::Plan {
                workers: 100,
                runs: 5,
                teams: (3, 33),
                version_runs: 200,
            },
            dashboard: dashboard::Plan {
                workers: 8,
                settle: Duration::from_secs(5),
                window: Duration::from_secs(30),
                slice: Duration::from_secs(5),
            },
        }
    }

    /// At most 2 minutes, also with a debug build (CI): small sizes, few runs.
    pub fn quick() -> Self {
        Self {
            name: "quick",
            lifecycle: lifecycle::Plan {
                up: vec![(1, 3), (8, 2)],
                agent_starts: 5,
            },
            messaging: messaging::Plan {
                team_size: 2,
                small: 20,
                large: 2,
                burst: 10,
                bursts: 1,
            },
            status: status::Plan {
                sizes: vec![8],
                runs: 5,
                stored_messages: 100_000,
            },
            idle: idle::Plan {
                sizes: vec![8],
                settle: Duration::from_secs(2),
                window: Duration::from_secs(10),
                slice: Duration::from_secs(2),
                spawn_window: Duration::from_secs(6),
            },
            plugin: plugin::Plan {
                loads: 5,
                batches: 20,
                calls_per_batch: 1000,
            },
            hooks: hooks::Plan {
                calls: 10,
                turns: 5,
            },
            real_clis: real_clis::Plan {
                ups: 1,
                sends: 5,
                idles: 2,
                reports: 2,
            },
            scale: scale::Plan {
                workers: 20,
                runs: 1,
                teams: (3, 5),
                version_runs: 20,
            },
            dashboard: dashboard::Plan {
                workers: 2,
                settle: Duration::from_secs(3),
                window: Duration::from_secs(6),
                slice: Duration::from_secs(2),
            },
        }
    }

    /// One line for the report's "mode" row.
    pub fn summary(&self) -> String {
        let up: Vec<String> = self
            .lifecycle
            .up
            .iter()
            .map(|(n, runs)| format!("N = {n} × {runs}"))
            .collect();
        format!(
            "{} (`up`: {}; {} + {} messages, {} × burst of {}; idle windows of {} s; {} hook \
             calls, {} turns per hooked and unhooked worker; real CLIs: {} `up`, per CLI {} \
             messages, {} slow turns, {} results; scale: {} workers, and {} teams of {}, {} runs each)",
            self.name,
            up.join(", "),
            self.messaging.small,
            self.messaging.large,
            self.messaging.bursts,
            self.messaging.burst,
            self.idle.window.as_secs(),
            self.hooks.calls,
            self.hooks.turns,
            self.real_clis.ups,
            self.real_clis.sends,
            self.real_clis.idles,
            self.real_clis.reports,
            self.scale.workers,
            self.scale.teams.0,
            self.scale.teams.1,
            self.scale.runs,
        )
    }

    /// The "How each figure is measured" section.
    pub fn method(&self) -> String {
        let idle = &self.idle;
        format!(
            "Everything runs the real `team-agent` binary (from the build directory in the Run table, \
with `TEAM_AGENT_PLUGIN_PATH` and `PATH` pointing there) against real tmux. Each team lives in its \
own sandbox: a temporary `HOME`, a temporary `TMUX_TMPDIR` (so every tmux server is on a private \
socket) and a temporary workspace, with `TMUX`/`TMUX_PANE` unset (no leader pane). Workers are \
scripted agents with `provider_options.work_ms: 0` (a turn ends as soon as the message is \
received) and the coordinator tick is the default {TICK_INTERVAL_SEC} s. Command times run from \
just before the spawn to the process's exit. Percentiles are nearest-rank (always a measured \
value). Every team is shut down when its figure is taken; on Ctrl-C, SIGTERM or a panic the \
harness shuts down its teams and kills the tmux servers in its own socket directories only.

- **up → all ready**: `team-agent up bench --json` in a fresh sandbox, until it has exited and \
every worker is `running` in its answer (else `status --json` is polled every 5 ms until they \
are). One unrecorded warm-up run comes first. The breakdown below comes from the team's event log.
- **up → all ready, N = {scale_n}, and its floor** ({scale_runs} runs each): `up` as above with {scale_n} workers; the floor: one tmux control-mode client on a private socket asks for {scale_n} windows running `scripted-agent` at once (no team-agent), timed until the `%output` of the last prompt; on the same connection, {scale_n} `capture-pane -p` commands written at once, timed until the last `%end` (what one sweep of every screen costs at least). **{teams} teams × {each}**: {teams} team directories in one sandbox, their `up`s spawned at once, timed until `status --json` (every team) shows all {total} workers running. **--version**: `team-agent --version` spawned {version_runs} times (after one unrecorded run), spawn → exit; its floors the same way: `true` (found on `PATH`), and `scripted-agent --version`, the smallest Rust binary of the build.
- **the idle dashboard**: `team-agent dash` as the only program of a 120×32 pane of a private tmux server, on an idle team of {dash_n} scripted workers, {dash_settle} s after it drew the team; its own CPU (`schedstat`) and that of the children it reaped, per {dash_slice}-s slice over {dash_window} s, compared on the mean.
- **scripted-agent's own start**: a tmux control-mode client (`tmux -C`) on a private socket \
runs `new-window -d -- scripted-agent --session-id ID`; the time runs from writing that command \
to the `%output` notification that carries the agent's banner and then its prompt `› `. This is \
the part of `up` that team-agent cannot make faster.
- **restart / shutdown of 8**: in each N = 8 run, after `up`: `shutdown` (timed), `restart` \
(timed until every worker is `running`, as for `up`; the sessions are resumed), `shutdown` again \
(timed). Both shutdowns are samples.
- **send returns / send → visible**: a team of {team} workers; messages go to `w01`, each \
starting with a unique marker. Visible = the message's text recorded as a `user_message` in \
w01's transcript `$HOME/.scripted-agent/sessions/<session>.jsonl`, which the agent writes when \
it receives the submitting Enter; a thread reads the transcript as it grows (every 0.2 ms) and \
stamps each marker's first appearance. The time runs from the spawn of `send`. 100 B messages \
are an argument, 256 KiB ones go by `--file` (an argument cannot exceed 128 KiB). One at a \
time: the next message is sent once the previous turn has ended and {settle} ms have passed \
(the agent redraws its prompt), so the recipient is idle. Bursts ({bursts}): {burst} `send` \
processes are released at once from a barrier; each message's time runs from the release, and \
a burst is all visible when its last message is. One unrecorded warm-up message comes first. The \
breakdown of `send` matches the `send.accepted` and `send.submitted` events of each message id. Last, one 100 B message to every worker of the team at once (released from a barrier); each is visible at the `ts` (ms) of its `user_message` in its worker's transcript, read afterwards.
- **status --json**: a running team of 8, 32 or 100 workers; {runs} timed calls after one unrecorded \
call, first on the store as `up` left it, then after inserting {stored} rows into `messages` of \
the host's own `.team/runtime/teams/<team>/team.db` (nine in ten `acknowledged`, the rest `submitted`, over \
500 tasks and every worker) in one transaction.
- **coordinator CPU and RSS**: an idle team ({settle_idle} s after `up`); every {slice} s over \
{window} s the harness reads the coordinator's own on-CPU time (the sum over its threads of \
`/proc/<pid>/task/<tid>/schedstat`, in ns) and the CPU time of the children it has reaped, i.e. \
its tmux calls (cutime+cstime of `/proc/<pid>/stat`, in clock ticks), as % of one core per \
slice. The slices are equal, so their mean is the whole window's figure: the targets are \
compared on it. VmRSS from `/proc/<pid>/status` every second (compared on its max). The tmux \
server's own CPU is shown beside it, as work a tmux call shifts there.
- **processes spawned per tick**: right after the CPU window, for {spawn} s: the `tmux` first \
on the team's `PATH` is switched from a symlink to the real tmux to this harness, which logs \
its parent pid and arguments and execs the real tmux (same process: the count is exact). \
Calls from the coordinator are grouped into ticks (calls less than half a tick apart); ticks \
without a call count as 0; non-tmux children are caught by sampling \
`/proc/<pid>/task/<tid>/children` every 1 ms and spread over the ticks. Compared on the mean.
- **plugin load**: `team_agent_plugin_api::loader::load` of `libteam_agent_scripted.so` (file \
checks, `dlopen`, layout and version checks), each in a fresh process (a library stays loaded \
for the life of a process), {loads} times.
- **plugin call round trip**: `ProviderClient::submit_keys()` and `classify_screen` on a \
4-line idle screen, through the same loader; {batches} batches of {calls} calls after one \
unrecorded batch; a sample is a batch's time per call.
- **hook call**: a team of two scripted workers, `w01` with hooks and `w02` with \
`provider_options.hooks: false`, coordinator up and both idle. {hook_calls} timed runs (after one \
unrecorded run, {gap} ms apart) of the command line the host gives a provider for its CLI's hooks, \
`team-agent --workspace W hook --agent w01 Stop`, in a worker's environment (`TEAM_AGENT_ID`, \
`TEAM_AGENT_WORKSPACE`, `TEAM_AGENT_BIN`), with a Claude Code `Stop` payload of exactly \
{payload} bytes on stdin (`hook_event_name`, `session_id` and `transcript_path` of w01, `cwd`, \
`stop_hook_active`, `last_assistant_message` padded); from just before the spawn to the exit: the \
time the hook adds to a CLI's turn (it appends the event to the worker's hook inbox and rings \
the coordinator's socket without waiting). A run that writes to stderr fails the harness.
- **turn's end → status idle**: the same team, after the hook calls; {turns} turns per worker, \
each a message of two lines, `bench-e-…` and `@scripted sleep S` (S = {hooked} s for w01; \
{unhooked} s for w02, longer than a tick so its transcript shows the coordinator the turn before \
it ends). `status \
--json` is polled every {poll} ms (plus each call's own few ms) until the worker has left `idle`, \
then until it is `idle` again; the time of that answer (taken when `status` has exited) minus \
the turn's end. With hooks the end is the Stop hook's time (`hook.at` in the worker's row, \
written by `team-agent hook` as it starts, RFC 3339 with ms, with `hook.event` `turn_ended`), \
and only an idle with `activity_source: hook` counts; without hooks it is the agent's \
`turn_complete` record in its transcript (`ts`, RFC 3339 with ms, written just before the agent \
would run its Stop hook), and any source's idle counts. A turn `status` never showed leaving \
`idle` is left out and noted. Turn i of the {turns} waits {settle_turn} ms plus i/{turns} of a \
tick after the previous turn was seen ending, so the turns end at every phase of the tick.
- **real CLIs** (their own section): the pinned Codex and Claude Code from \
`scripts/install-real-clis.sh` (where the real-CLI tests find them) as the workers `cx` and `cl` \
of one team (`provider: codex` with `model: fake-model`, `provider: claude`), each with a \
profile whose key and base URL lead to the scripted model (`team-agent-fake-model`) on \
127.0.0.1. The CLIs never reach the network: the harness's thread first moves into a \
loopback-only network namespace (as root; everything it starts lives there), `HTTPS_PROXY` and \
`HTTP_PROXY` point at the scripted model, which refuses and records every attempt to go out \
(any but Codex's announcement fetch is a note below), and the CLIs' switches for non-essential \
traffic are set, as a user would. The coordinator tick is the default {TICK_INTERVAL_SEC} s. \
`up` is timed in {ups} fresh sandbox(es) (the first run is not discarded) until it has exited \
with both workers `running`. The turns all happen in the first sandbox, one CLI after the other, \
each after the CLI takes input again (its provider plugin's verdict on the live screen, the \
check `send` makes). **send → visible**: {sends} messages per CLI after one unrecorded one, the \
scripted model answering `OK.`; from just before the spawn of `send` until the message's \
`[team-agent-token:…]` line is on the CLI's pane, read every {screen} ms with `capture-pane` \
over a tmux control-mode client of the harness attached to the team's session. Codex shows the \
pasted message, token and all, in its composer; Claude Code folds a paste of several lines into \
`[Pasted text #N +4 lines]`, so its token shows once the message is submitted and echoed into the \
conversation: the Claude figure includes the submit. **last event → \
idle**: {idles} turns per CLI whose plain-text answer is paced at {pace} ms per event (so the turn \
outlasts a tick and `status` shows it leave `idle`); from the moment the scripted model sent the \
stream's last event (a thread of the harness takes the request the model hands over then) until \
`status --json` says `activity: idle`, polled every {status} ms (plus each call's own few ms), \
so the figure is mostly where in the tick the turn ended. **result → leader notified**: a leader \
pane is bound first (`attach-leader` to a tmux server of the harness's running `cat > FILE`); \
{reports} tasks per CLI, each `send --task T` answered by a call of the team's MCP tool \
`report_result`; from the result's stored time (`results --task T --json`, `created_at`, RFC \
3339 with ms, the same clock) to the moment the harness sees `Task T reported success` in FILE, \
read every {leader} ms.
",
            team = self.messaging.team_size,
            settle = messaging::SETTLE.as_millis(),
            burst = self.messaging.burst,
            bursts = self.messaging.bursts,
            runs = self.status.runs,
            stored = crate::stats::thousands(self.status.stored_messages),
            settle_idle = idle.settle.as_secs(),
            slice = idle.slice.as_secs(),
            window = idle.window.as_secs(),
            spawn = idle.spawn_window.as_secs(),
            loads = self.plugin.loads,
            batches = self.plugin.batches,
            calls = self.plugin.calls_per_batch,
            hook_calls = self.hooks.calls,
            gap = hooks::CALL_GAP.as_millis(),
            payload = hooks::PAYLOAD_BYTES,
            turns = self.hooks.turns,
            hooked = hooks::HOOKED_TURN_SEC,
            unhooked = hooks::UNHOOKED_TURN_SEC,
            poll = hooks::STATUS_POLL.as_millis(),
            settle_turn = hooks::SETTLE.as_millis(),
            ups = self.real_clis.ups,
            sends = self.real_clis.sends,
            idles = self.real_clis.idles,
            reports = self.real_clis.reports,
            screen = real_clis::SCREEN_POLL.as_millis(),
            pace = real_clis::SLOW_EVENT_MS,
            status = real_clis::STATUS_POLL.as_millis(),
            leader = real_clis::LEADER_POLL.as_millis(),
            scale_n = self.scale.workers,
            scale_runs = self.scale.runs,
            teams = self.scale.teams.0,
            each = self.scale.teams.1,
            total = self.scale.teams.0 * self.scale.teams.1,
            version_runs = self.scale.version_runs,
            dash_n = self.dashboard.workers,
            dash_settle = self.dashboard.settle.as_secs(),
            dash_slice = self.dashboard.slice.as_secs(),
            dash_window = self.dashboard.window.as_secs(),
        )
    }
}
