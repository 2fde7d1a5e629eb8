#!/bin/bash
# Captures real screens of the scripted agent on a private tmux server (200×50, like worker
# windows) into plugins/scripted/fixtures/NAME.screen.txt. Expectations (NAME.expect.json) are
# written by hand. Usage: scripts/capture-scripted-fixtures.sh [path/to/scripted-agent]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
agent=${1:-$root/target/debug/scripted-agent}
out=$root/plugins/scripted/fixtures
scratch=$(mktemp -d)
n=0; sock=ta-capture-$$-0
trap 'for i in $(seq 0 $n); do tmux -L ta-capture-$$-$i kill-server 2>/dev/null || true; done; rm -rf "$scratch"' EXIT
export HOME=$scratch/home; mkdir -p "$HOME" "$scratch/ws"
t() { tmux -L "$sock" "$@"; }
cap() { sleep "${2:-0.5}"; t capture-pane -p -t "$W" > "$out/$1.screen.txt"; echo "captured $1"; }
echo 'set -g remain-on-exit on' > "$scratch/tmux.conf"
start() { t kill-server 2>/dev/null || true; n=$((n+1)); sock=ta-capture-$$-$n; t -f "$scratch/tmux.conf" new-session -d -x 200 -y 50 -s cap -c "$scratch/ws" "$@"; W=cap:0; }

start "$agent" --session-id fx-idle
cap scripted-startup-idle
t send-keys -t $W 'hello there'; cap scripted-typing
t send-keys -t $W Enter; cap scripted-busy 0.1
start "$agent" --session-id fx-trust --trust-prompt
cap scripted-trust-prompt
t send-keys -t $W Down; cap scripted-trust-prompt-no-selected
start "$agent" --session-id fx-sleep
sleep 0.5; printf 'Team Agent message from leader for t1:\n\nplease wait\n@scripted sleep 5\n\n[team-agent-token:msg_fx1]' | t load-buffer -b fx -
t paste-buffer -p -b fx -t $W; cap scripted-pasted-not-submitted
t send-keys -t $W Enter; cap scripted-busy-sleeping 1
t send-keys -t $W Escape; cap scripted-interrupted
printf '@scripted approval team.report_result' | t load-buffer -b fx -; t paste-buffer -p -b fx -t $W; t send-keys -t $W Enter
cap scripted-approval-team-tool
t send-keys -t $W 3; sleep 0.6
printf '@scripted approval shell.rm' | t load-buffer -b fx -; t paste-buffer -p -b fx -t $W; t send-keys -t $W Enter
cap scripted-approval-other-tool
t send-keys -t $W Down Enter; sleep 0.6
printf '@scripted api-error overloaded' | t load-buffer -b fx -; t paste-buffer -p -b fx -t $W; t send-keys -t $W Enter
cap scripted-api-error-retrying 0.4
sleep 1.6; t capture-pane -p -t $W > "$out/scripted-after-api-error.screen.txt"; echo "captured scripted-after-api-error"
printf '@scripted exit 3' | t load-buffer -b fx -; t paste-buffer -p -b fx -t $W; t send-keys -t $W Enter
cap scripted-exited 1.5
start "$agent" --resume does-not-exist
cap scripted-resume-missing 1.5
cp "$HOME/.scripted-agent/sessions/fx-sleep.jsonl" "$out/scripted-session-after-exit.transcript.jsonl"
# Transcript tails at the moments that matter, cut from the real transcript.
tr=$out/scripted-session-after-exit.transcript.jsonl
head -3 "$tr" > "$out/scripted-turn-working.transcript.jsonl"
head -4 "$tr" > "$out/scripted-turn-interrupted.transcript.jsonl"
head -7 "$tr" > "$out/scripted-approval-pending.transcript.jsonl"
head -9 "$tr" > "$out/scripted-turn-complete.transcript.jsonl"
head -1 "$tr" > "$out/scripted-fresh-session.transcript.jsonl"
