#!/usr/bin/env bash
# Set up and start the reference xlgo cluster on this host:
#   gtm 6666, coord1 20004, coord2 20005, datanode1 20008, datanode2 20009.
# Installs PostgreSQL 15 with apt-get when it is missing, builds the binaries,
# then runs `xlctl init` (or `xlctl start` when the cluster already exists)
# in $XLGO_HOME (default ~/xlgo; /var/lib/xlgo for root, since PostgreSQL runs
# as the postgres user there and cannot enter /root).
set -euo pipefail

cd "$(dirname "$0")/.."

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi

have_postgres() {
    [ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 ||
        { command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; }
}

if ! have_postgres || ! command -v psql >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: PostgreSQL 15 (server and psql) is missing and apt-get is not available; install it and rerun" >&2
        exit 1
    fi
    echo "setup: installing PostgreSQL 15 (postgresql-15, postgresql-client-15)"
    # No default cluster on 5432: xlctl creates its own datanodes.
    if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
        "${sudo_cmd[@]}" mkdir -p /etc/postgresql-common
        echo "create_main_cluster = false" | "${sudo_cmd[@]}" tee /etc/postgresql-common/createcluster.conf >/dev/null
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo_cmd[@]}" apt-get update -q
    if ! apt-cache show postgresql-15 >/dev/null 2>&1; then
        # This release does not ship PostgreSQL 15: add the PGDG repository.
        "${sudo_cmd[@]}" apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql-common ca-certificates
        "${sudo_cmd[@]}" /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y
    fi
    "${sudo_cmd[@]}" apt-get install -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold postgresql-15 postgresql-client-15
fi

if ! command -v go >/dev/null 2>&1; then
    echo "setup: Go is not installed; install Go $(awk '/^go /{print $2}' go.mod) or newer from https://go.dev/dl/ and rerun" >&2
    exit 1
fi
echo "setup: $(go version)"

make build

if [ -z "${XLGO_HOME:-}" ]; then
    if [ "$(id -u)" -eq 0 ]; then
        XLGO_HOME=/var/lib/xlgo
    else
        XLGO_HOME="$HOME/xlgo"
    fi
fi
export XLGO_HOME

# psql looks for sockets in /var/run/postgresql, which Debian lets the
# postgres group write: a user outside it would get sockets in /tmp, where
# `psql -p 20004` does not look. Such a user joins the group, and this run
# takes the group at once (sg); later logins have it.
use_sg=
if [ "$(id -u)" -ne 0 ] && [ "$(id -un)" != postgres ] && [ -d /var/run/postgresql ] && [ ! -w /var/run/postgresql ] &&
    getent group postgres >/dev/null 2>&1; then
    if ! id -nG "$(id -un)" | tr ' ' '\n' | grep -qx postgres; then
        echo "setup: adding $(id -un) to the postgres group, so that the sockets go to /var/run/postgresql where psql looks"
        "${sudo_cmd[@]}" usermod -aG postgres "$(id -un)"
    fi
    use_sg=1
fi
run_xlctl() {
    if [ -n "$use_sg" ]; then
        sg postgres -c "$(printf '%q ' bin/xlctl "$@")"
    else
        bin/xlctl "$@"
    fi
}

# A cluster exists when the home holds the config and a node's directory.
if [ -f "$XLGO_HOME/xlgo.yaml" ] &&
    [ -n "$(find "$XLGO_HOME" -mindepth 1 -maxdepth 1 -type d ! -name log ! -name run -print -quit)" ]; then
    echo "setup: a cluster exists in $XLGO_HOME; starting it"
    run_xlctl start --home "$XLGO_HOME"
else
    run_xlctl init --home "$XLGO_HOME"
fi

bin/xlctl status --home "$XLGO_HOME"
cat <<MSG

The cluster runs in $XLGO_HOME (logs in $XLGO_HOME/log).
Connect:  psql -p 20004          (coord1; coord2 is -p 20005)
          psql -h 127.0.0.1 -p 20004 postgres
Stop:     bin/xlctl stop --home $XLGO_HOME
For later xlctl commands:  export XLGO_HOME=$XLGO_HOME
MSG
