#!/usr/bin/env bash
# Installs PostgreSQL 15's server binaries (/usr/lib/postgresql/15/bin) unless they are already there: the cluster
# tests and bench/cluster.ts start a throwaway server from them on 127.0.0.1 (test/support/postgres.ts).
set -euo pipefail
[ -x /usr/lib/postgresql/15/bin/initdb ] && [ -x /usr/lib/postgresql/15/bin/pg_ctl ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update
# Debian bookworm's `postgresql` is 15; name the version so another release does not bring another major.
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15
# The package starts a cluster of its own on port 5432; the tests never use it.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  $SUDO pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi
