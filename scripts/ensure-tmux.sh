#!/usr/bin/env bash
# Installs tmux for the terminal test of the demo (test/e2e/coding-agent.test.ts) unless it is already there.
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tmux
