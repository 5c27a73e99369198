# Sourced by scripts/test.sh: finds or starts the PostgreSQL the tests use and exports
# DATABASE_URL. Order: $DATABASE_URL as given; a server on 127.0.0.1:5432; a throwaway
# cluster (initdb + pg_ctl from PATH or /usr/lib/postgresql/*/bin) stopped on exit.
# PAIRPROG_THROWAWAY_PG=1 skips the first two, to exercise the last.

pg_reachable() {
  # Bash's /dev/tcp needs no client tools; psql, when present, also proves we can log in.
  local url=$1 host=$2 port=$3
  if command -v psql >/dev/null; then
    psql "$url" -Atqc 'select 1' >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

find_pg_bin() {
  local name=$1 dir
  if command -v "$name" >/dev/null; then command -v "$name"; return 0; fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/$name" ]; then echo "$dir/$name"; return 0; fi
  done
  return 1
}

start_throwaway_pg() {
  local initdb pg_ctl dir port user run
  initdb=$(find_pg_bin initdb) && pg_ctl=$(find_pg_bin pg_ctl) || die "no PostgreSQL found.
  The tests need PostgreSQL. Provide one of:
    - DATABASE_URL=postgres://user@host:port/db pointing at a server you run, or
    - a server listening on 127.0.0.1:5432 with trust auth, or
    - the PostgreSQL server binaries (initdb, pg_ctl) on PATH or in
      /usr/lib/postgresql/<version>/bin, e.g. 'apt-get install postgresql',
      so a throwaway cluster can be started."
  dir=$(mktemp -d /tmp/pairprog-pg.XXXXXX)
  # A free port: ask the kernel for one on loopback.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  run=()
  user=$(id -un)
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses to run as root: run the cluster as an unprivileged user.
    user=postgres
    id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$dir"
    run=(setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups --)
  fi
  echo "starting a throwaway PostgreSQL cluster in $dir on port $port (as $user)"
  "${run[@]}" "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  "${run[@]}" "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=on" start >/dev/null \
    || { cat "$dir/server.log" >&2; die "pg_ctl start failed"; }
  PAIRPROG_PG_STOP=("${run[@]}" "$pg_ctl" -D "$dir/data" -m fast stop)
  trap 'echo "stopping the throwaway PostgreSQL"; "${PAIRPROG_PG_STOP[@]}" >/dev/null 2>&1 || true' EXIT
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

provision_postgres() {
  if [ "${PAIRPROG_THROWAWAY_PG:-0}" != 1 ]; then
    if [ -n "${DATABASE_URL:-}" ]; then
      return 0
    fi
    local url="postgres://postgres@127.0.0.1:5432/postgres"
    if pg_reachable "$url" 127.0.0.1 5432; then
      export DATABASE_URL="$url"
      return 0
    fi
  fi
  start_throwaway_pg
}
