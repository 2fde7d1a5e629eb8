#!/bin/sh
# Installs the pinned real agent CLIs the real-turn tests drive (from the npm registry alone: Codex
# and Claude Code ship native binaries in platform packages, Gemini CLI is a Node.js bundle), into
# a cache outside the checkout:
#   ${TEAM_AGENT_REAL_CLI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/team-agent/real-clis}
# A second run with the same versions installed does nothing. Prints the directory last.
# Usage: scripts/install-real-clis.sh [DIR]
# The tests find the CLIs in the same place (or where TEAM_AGENT_REAL_CLI_DIR points).
set -eu
CODEX_VERSION=0.169.0
CLAUDE_VERSION=2.1.330
GEMINI_VERSION=0.61.0
dir=${1:-${TEAM_AGENT_REAL_CLI_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/team-agent/real-clis}}
bin=$dir/node_modules/.bin
# Gemini CLI needs Node.js 20 or newer; an older system Node (Debian 12's is 18) gets a Node 20
# from the npm registry beside the CLIs, first on PATH here and in the tests (which put $bin first).
NODE_MAJOR=20
PATH=$bin:$PATH
export PATH
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
installed() {
  [ -x "$bin/codex" ] && [ -x "$bin/claude" ] && [ -x "$bin/gemini" ] || return 1
  "$bin/codex" --version 2>/dev/null | grep -q " $CODEX_VERSION\$" || return 1
  DISABLE_AUTOUPDATER=1 "$bin/claude" --version 2>/dev/null | grep -q "^$CLAUDE_VERSION " || return 1
  "$bin/gemini" --version 2>/dev/null | grep -qx "$GEMINI_VERSION" || return 1
}
if installed; then
  echo "real CLIs already installed: codex $CODEX_VERSION, claude $CLAUDE_VERSION, gemini $GEMINI_VERSION" >&2
else
  command -v npm >/dev/null || { echo "error: npm is needed to install the real CLIs (apt-get install -y npm, or Node.js from nodejs.org)" >&2; exit 1; }
  mkdir -p "$dir"
  if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
    echo "Node.js $(node --version 2>/dev/null || echo none) is older than $NODE_MAJOR: installing node@$NODE_MAJOR from npm into $dir" >&2
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "node@$NODE_MAJOR" >&2
  fi
  echo "installing @openai/codex@$CODEX_VERSION, @anthropic-ai/claude-code@$CLAUDE_VERSION and @google/gemini-cli@$GEMINI_VERSION into $dir" >&2
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
    "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
    "@google/gemini-cli@$GEMINI_VERSION" >&2
  installed || { echo "error: the CLIs in $bin do not answer with the pinned versions" >&2; exit 1; }
fi
echo "$dir"
