# A throw-away PostgreSQL cluster on loopback for the distributed-search tests.
#
# Source this file, then:
#   postgres_start   installs the Debian package if missing, runs initdb and pg_ctl as the
#                    `postgres` user (PostgreSQL refuses to run as root) in a temporary
#                    directory, creates the database `gemmtune` and exports
#                    GEMMTUNE_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:PORT/gemmtune
#   postgres_stop    stops the server and deletes the cluster (safe to call twice)
#
# PGPORT_TRY picks the port (default: a free one); trust authentication on 127.0.0.1 only.
# The tools run from inside the cluster directory: the `postgres` user may not be allowed
# into the checkout.

postgres_bin() {
    # Debian keeps initdb, pg_ctl and createdb in a versioned directory off PATH; an initdb
    # on PATH may be a lone symlink into it, so resolve it to find its siblings.
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
    if [ -z "$d" ] && command -v initdb >/dev/null 2>&1; then
        d="$(dirname "$(readlink -f "$(command -v initdb)")")"
    fi
    [ -n "$d" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/createdb" ] && echo "$d"
}

postgres_start() {
    if [ -z "$(postgres_bin)" ]; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "postgres.sh: PostgreSQL is missing and installing it needs root." >&2
            return 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql
    fi
    local bin port owner run here="$PWD"
    bin="$(postgres_bin)"
    # A free port unless told: a developer's own server may hold the usual one.
    port="${PGPORT_TRY:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
    PG_TMP="$(mktemp -d /tmp/gemmtune-pg.XXXXXX)"
    export PG_TMP
    if [ "$(id -u)" -eq 0 ]; then
        owner=postgres
        chown postgres: "$PG_TMP"
        run=(runuser -u postgres --)
    else
        owner="$(id -un)"
        run=()
    fi
    cd "$PG_TMP" || return 1
    "${run[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres -A trust --no-sync -E UTF8 \
        >"$PG_TMP/initdb.log" 2>&1 || { cat "$PG_TMP/initdb.log" >&2; return 1; }
    # fsync off: a throw-away cluster need not survive a power cut, and tests run faster.
    "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_TMP -c fsync=off -c max_connections=50" \
        start >/dev/null || { cat "$PG_TMP/server.log" >&2; return 1; }
    "${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres gemmtune
    cd "$here" || return 1
    export GEMMTUNE_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/gemmtune"
    echo "postgres.sh: PostgreSQL ($owner) on 127.0.0.1:$port, database gemmtune" >&2
}

postgres_stop() {
    [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ] || return 0
    local bin run
    bin="$(postgres_bin)"
    if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); else run=(); fi
    (cd "$PG_TMP" && "${run[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -m fast -w stop) \
        >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
    unset PG_TMP
}
