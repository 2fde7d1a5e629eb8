#!/bin/sh
# Installs team-agent where its plugin discovery finds everything:
#   PREFIX/bin/team-agent, team-agent-coordinator, scripted-agent, PREFIX/lib/team-agent/plugins/*.so
# Usage: scripts/install.sh [PREFIX]   (default: ~/.local; or set PREFIX in the environment)
# `cargo install` alone installs only the binary, not the plugins: use this script.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-${PREFIX:-$HOME/.local}}
cd "$root"
cargo build --release --workspace
ext=so; [ "$(uname)" = Darwin ] && ext=dylib
mkdir -p "$prefix/bin" "$prefix/lib/team-agent/plugins"
install -m 0755 target/release/team-agent target/release/team-agent-coordinator target/release/scripted-agent "$prefix/bin/"
for lib in target/release/libteam_agent_*."$ext"; do
  install -m 0644 "$lib" "$prefix/lib/team-agent/plugins/"
done
echo "installed team-agent into $prefix (plugins in $prefix/lib/team-agent/plugins)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: add $prefix/bin to your PATH";; esac
"$prefix/bin/team-agent" plugins list
