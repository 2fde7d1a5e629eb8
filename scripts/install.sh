#!/bin/sh
# Installs team-agent where its plugin discovery finds everything:
#   PREFIX/bin/team-agent, team-agent-coordinator, team-agent-worker, scripted-agent, PREFIX/lib/team-agent/plugins/*.so
# and where shells and `man` look: completions for bash, zsh and fish under PREFIX/share
# (bash-completion/completions, zsh/site-functions, fish/vendor_completions.d) and one man page per
# command in PREFIX/share/man/man1.
# Usage: scripts/install.sh [PREFIX]   (default: ~/.local; or set PREFIX in the environment)
# `cargo install` alone installs only the binary, not the plugins: use this script.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=${1:-${PREFIX:-$HOME/.local}}
cd "$root"
cargo build --release --workspace
target=${CARGO_TARGET_DIR:-target}/release
ext=so; [ "$(uname)" = Darwin ] && ext=dylib
mkdir -p "$prefix/bin" "$prefix/lib/team-agent/plugins"
install -m 0755 "$target/team-agent" "$target/team-agent-coordinator" "$target/team-agent-worker" "$target/scripted-agent" "$prefix/bin/"
for lib in "$target"/libteam_agent_*."$ext"; do
  install -m 0644 "$lib" "$prefix/lib/team-agent/plugins/"
done
share=$prefix/share
mkdir -p "$share/bash-completion/completions" "$share/zsh/site-functions" "$share/fish/vendor_completions.d" "$share/man/man1"
"$prefix/bin/team-agent" completions bash >"$share/bash-completion/completions/team-agent"
"$prefix/bin/team-agent" completions zsh >"$share/zsh/site-functions/_team-agent"
"$prefix/bin/team-agent" completions fish >"$share/fish/vendor_completions.d/team-agent.fish"
"$prefix/bin/team-agent" man --out "$share/man/man1" >/dev/null
echo "installed team-agent into $prefix (plugins in $prefix/lib/team-agent/plugins, completions and man pages in $share)"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "note: add $prefix/bin to your PATH";; esac
"$prefix/bin/team-agent" plugins list
