#!/usr/bin/env bash
# The local services the test suite needs, on loopback only: a Docker engine, PostgreSQL 15 and
# Redis, plus Debian's Chromium for the browser tests. Run as root (CI and the dev machines are).
#
#   scripts/services.sh install   apt-get install what is missing (docker.io, postgresql, redis-server,
#                                 chromium, busybox-static, sqlite3); does nothing when all are there
#   scripts/services.sh start     start what is not running yet, wait until each answers, then print
#                                 `export ...` lines for the caller:  eval "$(scripts/services.sh start)"
#   scripts/services.sh stop      stop what `start` started (quietly skips what is not running)
#   scripts/services.sh status    one line per service: up/down (exit 3 when something is down)
#   scripts/services.sh env       print the export lines only
#
# State (data, logs, pidfiles) lives under $PLATFORM_SERVICES_DIR (default /tmp/platform-services).
# Only the export lines go to stdout; every progress message goes to stderr.
set -euo pipefail

SERVICES_DIR="${PLATFORM_SERVICES_DIR:-/tmp/platform-services}"
PG_PORT=5432
REDIS_PORT=6379
DOCKER_SOCK=/var/run/docker.sock
CHROMIUM=/usr/bin/chromium
PG_URL="postgresql://platform:platform@127.0.0.1:$PG_PORT/postgres"
REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

DOCKER_DIR="$SERVICES_DIR/docker"
DOCKER_PIDFILE="$DOCKER_DIR/dockerd.pid"
DOCKER_LOG="$DOCKER_DIR/dockerd.log"
PG_DIR="$SERVICES_DIR/postgres"
PGDATA="$PG_DIR/data"
PG_SOCKDIR="$PG_DIR/run"
PG_LOG="$PG_DIR/postgres.log"
REDIS_DIR="$SERVICES_DIR/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_LOG="$REDIS_DIR/redis.log"

export DOCKER_HOST="unix://$DOCKER_SOCK"

log() { echo "[services] $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# helpers

# true if pid exists and is not a zombie (a killed daemon may linger as one until init reaps it)
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# pid from a pidfile if that process is alive and its command name is $2 (guards against reuse).
live_pid() {
  local file="$1" comm="$2" pid
  [ -s "$file" ] || return 1
  pid="$(head -n1 "$file" | tr -dc 0-9)"
  [ -n "$pid" ] && alive "$pid" || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
  echo "$pid"
}

# live (non-zombie) pids whose command name is exactly $1
live_pids_named() {
  local pid
  for pid in $(pgrep -x "$1" || true); do alive "$pid" && echo "$pid"; done
  return 0
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

port_owner() { ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true; }

# kill a pid with TERM, wait up to $2 seconds, then KILL.
stop_pid() {
  local pid="$1" wait_s="${2:-20}" i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < wait_s * 5; i++)); do
    alive "$pid" || return 0
    sleep 0.2
  done
  log "pid $pid did not stop in ${wait_s}s; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
}

pg_bin() {
  if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
    echo /usr/lib/postgresql/15/bin
  elif command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"
  else
    return 1
  fi
}

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

docker_ok() { timeout 15 docker info >/dev/null 2>&1; }
redis_ok() { [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
pg_ok() { PGCONNECT_TIMEOUT=5 timeout 10 "$(pg_bin)/psql" "$PG_URL" -Atqc 'select 1' >/dev/null 2>&1; }

print_exports() {
  echo "export PLATFORM_TEST_PG_URL=$PG_URL"
  echo "export PLATFORM_TEST_REDIS_URL=$REDIS_URL"
  echo "export DOCKER_HOST=unix://$DOCKER_SOCK"
  echo "export PLATFORM_CHROMIUM=$CHROMIUM"
}

# ---------------------------------------------------------------------------------------------
# install

cmd_install() {
  [ "$(id -u)" = 0 ] || die "install needs root (apt-get)"
  local -a want=(docker.io postgresql redis-server chromium busybox-static sqlite3) missing=()
  local pkg
  for pkg in "${want[@]}"; do
    local check="$pkg"
    [ "$pkg" = postgresql ] && check=postgresql-15   # Debian's server binaries, /usr/lib/postgresql/15
    if ! dpkg-query -W -f='${Status}' "$check" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "install: all present (${want[*]})"
  else
    log "install: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the packages' maintainer scripts from starting their own daemons (Debian's default
    # dockerd with a bridge and iptables, a redis on 6379, a "main" PostgreSQL cluster on 5432).
    local policy=/usr/sbin/policy-rc.d made_policy=""
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; made_policy=1
      trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    local -a apt_opts=(-o DPkg::Lock::Timeout=300 -o Acquire::Retries=3)
    apt-get "${apt_opts[@]}" update -qq >&2 || log "warning: apt-get update reported errors; trying to install anyway"
    apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2
    if [ -n "$made_policy" ]; then rm -f "$policy"; trap - EXIT; fi
    log "install: installed ${missing[*]}"
  fi
  # What the services need, wherever it came from.
  local bin
  for bin in dockerd containerd runc redis-server redis-cli busybox sqlite3 "$CHROMIUM"; do
    command -v "$bin" >/dev/null 2>&1 || die "install: $bin is still missing"
  done
  command -v docker >/dev/null 2>&1 || die "install: no docker client"
  pg_bin >/dev/null || die "install: no PostgreSQL binaries"
  log "install: postgres $("$(pg_bin)/postgres" --version | awk '{print $3}') in $(pg_bin)," \
      "dockerd $(dockerd --version | awk '{print $3}' | tr -d ,), docker client $(command -v docker)," \
      "redis $(redis-server --version | awk '{print $3}' | sed 's/^v=//')"
}

# ---------------------------------------------------------------------------------------------
# docker

start_docker() {
  if docker_ok; then
    if live_pid "$DOCKER_PIDFILE" dockerd >/dev/null; then
      log "docker: already running (pid $(live_pid "$DOCKER_PIDFILE" dockerd))"
    else
      log "docker: a Docker engine not started by this script already answers on $DOCKER_SOCK; using it"
    fi
    return 0
  fi
  command -v dockerd >/dev/null || die "docker: no dockerd (run: scripts/services.sh install)"
  local pid
  if pid="$(live_pid "$DOCKER_PIDFILE" dockerd)"; then
    log "docker: dockerd pid $pid is running but does not answer; restarting it"
    stop_pid "$pid" 30
  fi
  local others; others="$(live_pids_named dockerd | tr '\n' ' ')"
  if [ -n "$others" ]; then
    die "docker: a dockerd not started by this script is running (pid $others) but $DOCKER_SOCK does not answer; stop it first"
  fi
  mkdir -p "$DOCKER_DIR/data"
  rm -f "$DOCKER_PIDFILE"
  # A containerd pidfile left by a killed dockerd would make the new one wait for a dead (or reused) pid.
  local cpid=/var/run/docker/containerd/containerd.pid
  if [ -e "$cpid" ] && ! live_pid "$cpid" containerd >/dev/null; then rm -f "$cpid"; fi

  local driver
  for driver in "" vfs; do
    local -a args=(--host "unix://$DOCKER_SOCK" --bridge=none --iptables=false --ip-forward=false
                   --ip-masq=false --userland-proxy=false --data-root "$DOCKER_DIR/data"
                   --pidfile "$DOCKER_PIDFILE")
    [ -n "$driver" ] && args+=(--storage-driver="$driver")
    log "docker: starting dockerd ${driver:+(storage driver $driver) }(log $DOCKER_LOG)"
    echo "=== $(date -u +%FT%TZ) dockerd ${args[*]}" >> "$DOCKER_LOG"
    setsid dockerd "${args[@]}" </dev/null >>"$DOCKER_LOG" 2>&1 &
    pid=$!
    local i
    for ((i = 0; i < 120; i++)); do
      if docker_ok; then
        log "docker: up (pid $pid, storage driver $(docker info -f '{{.Driver}}' 2>/dev/null), server $(docker version -f '{{.Server.Version}}' 2>/dev/null))"
        [ -z "$driver" ] || log "docker: NOTE: running with --storage-driver=$driver because the default did not start"
        return 0
      fi
      alive "$pid" || break
      sleep 0.5
    done
    if alive "$pid"; then stop_pid "$pid" 10; fi
    log "docker: dockerd ${driver:+(storage driver $driver) }did not come up; last log lines:"
    tail -n 15 "$DOCKER_LOG" | sed 's/^/[services]   /' >&2
  done
  die "docker: dockerd could not be started (see $DOCKER_LOG)"
}

stop_docker() {
  local pid
  if pid="$(live_pid "$DOCKER_PIDFILE" dockerd)"; then
    log "docker: stopping dockerd (pid $pid)"
    stop_pid "$pid" 30
  fi
  rm -f "$DOCKER_PIDFILE"
  # dockerd bind-mounts its data root onto itself (and overlays under it) and leaves that behind;
  # unmount so the services dir can be removed. Not while some dockerd still runs.
  if [ -z "$(live_pids_named dockerd)" ]; then
    local mnt
    awk -v d="$DOCKER_DIR/data" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts \
      | sort -r | while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true; done
  fi
}

# ---------------------------------------------------------------------------------------------
# postgres

pg_ours_running() {
  [ -s "$PGDATA/postmaster.pid" ] && live_pid "$PGDATA/postmaster.pid" postgres >/dev/null
}

pg_init() {
  local bin; bin="$(pg_bin)"
  id postgres >/dev/null 2>&1 || die "postgres: no 'postgres' OS user (is Debian's postgresql installed?)"
  mkdir -p "$PG_DIR"
  chmod 755 "$SERVICES_DIR" "$PG_DIR"
  as_postgres test -x "$PG_DIR" || die "postgres: the postgres user cannot reach $PG_DIR (choose a PLATFORM_SERVICES_DIR outside a private directory)"
  if [ -f "$PGDATA/PG_VERSION" ]; then
    [ "$(cat "$PGDATA/PG_VERSION")" = 15 ] || die "postgres: $PGDATA holds a PostgreSQL $(cat "$PGDATA/PG_VERSION") cluster, not 15; remove it"
    return 0
  fi
  rm -rf "$PGDATA"
  install -d -o postgres -g postgres -m 700 "$PGDATA"
  install -d -o postgres -g postgres -m 755 "$PG_SOCKDIR"
  log "postgres: initdb $PGDATA"
  as_postgres "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
    || { tail -n 20 "$PG_DIR/initdb.log" >&2; die "postgres: initdb failed (see $PG_DIR/initdb.log)"; }
  cat >> "$PGDATA/postgresql.conf" <<CONF

# --- scripts/services.sh: a throwaway test cluster on loopback
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKDIR'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
password_encryption = scram-sha-256
log_min_messages = warning
CONF
  cat > "$PGDATA/pg_hba.conf" <<HBA
# scripts/services.sh: trust on the unix socket (admin), passwords over loopback TCP
local   all   all                  trust
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
HBA
  chown postgres:postgres "$PGDATA/postgresql.conf" "$PGDATA/pg_hba.conf"
}

pg_ensure_role() {
  local bin; bin="$(pg_bin)"
  "$bin/psql" -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform') THEN
    CREATE ROLE platform LOGIN SUPERUSER PASSWORD 'platform';
  ELSE
    ALTER ROLE platform LOGIN SUPERUSER PASSWORD 'platform';
  END IF;
END
$$;
SQL
}

start_postgres() {
  local bin; bin="$(pg_bin)" || die "postgres: no PostgreSQL binaries (run: scripts/services.sh install)"
  "$bin/postgres" --version | grep -q ' 15\.' || die "postgres: $bin/postgres is not PostgreSQL 15"
  if pg_ours_running; then
    log "postgres: already running (pid $(live_pid "$PGDATA/postmaster.pid" postgres))"
  else
    if port_open "$PG_PORT"; then
      die "postgres: port $PG_PORT on 127.0.0.1 is taken by something not started by this script: $(port_owner "$PG_PORT") -- stop it (e.g. pg_ctlcluster 15 main stop) and retry"
    fi
    pg_init
    # Lock files left by a killed server: its pid may linger as a zombie or belong to another process
    # now, and postgres would then take it for a running postmaster.
    local lock
    for lock in "$PGDATA/postmaster.pid" "$PG_SOCKDIR/.s.PGSQL.$PG_PORT.lock"; do
      if [ -e "$lock" ] && ! live_pid "$lock" postgres >/dev/null; then
        rm -f "$lock" "${lock%.lock}"
      fi
    done
    install -d -o postgres -g postgres -m 755 "$PG_SOCKDIR"
    touch "$PG_LOG"; chown postgres:postgres "$PG_LOG"
    log "postgres: starting PostgreSQL 15 on 127.0.0.1:$PG_PORT (log $PG_LOG)"
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -l "$PG_LOG" -w -t 60 start </dev/null >&2 \
      || { tail -n 20 "$PG_LOG" >&2; die "postgres: pg_ctl start failed (see $PG_LOG)"; }
  fi
  pg_ensure_role
  local i
  for ((i = 0; i < 60; i++)); do
    if pg_ok; then log "postgres: up ($PG_URL)"; return 0; fi
    sleep 0.5
  done
  die "postgres: running, but $PG_URL does not accept connections (see $PG_LOG)"
}

stop_postgres() {
  local bin
  if pg_ours_running && bin="$(pg_bin)"; then
    log "postgres: stopping (pid $(live_pid "$PGDATA/postmaster.pid" postgres))"
    as_postgres "$bin/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 \
      || { log "postgres: pg_ctl stop failed; killing"; stop_pid "$(live_pid "$PGDATA/postmaster.pid" postgres)" 10; }
  fi
}

# ---------------------------------------------------------------------------------------------
# redis

start_redis() {
  command -v redis-server >/dev/null || die "redis: no redis-server (run: scripts/services.sh install)"
  local pid
  if pid="$(live_pid "$REDIS_PIDFILE" redis-server)" && redis_ok; then
    log "redis: already running (pid $pid)"
    return 0
  fi
  if port_open "$REDIS_PORT"; then
    die "redis: port $REDIS_PORT on 127.0.0.1 is taken by something not started by this script: $(port_owner "$REDIS_PORT") -- stop it and retry"
  fi
  mkdir -p "$REDIS_DIR"
  rm -f "$REDIS_PIDFILE"
  log "redis: starting on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
  # shellcheck disable=SC2094  # redis-server writes its log itself once daemonized
  (cd "$REDIS_DIR" && redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
     --daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$REDIS_DIR" \
     </dev/null >>"$REDIS_LOG" 2>&1) || { tail -n 20 "$REDIS_LOG" >&2; die "redis: redis-server failed to start"; }
  local i
  for ((i = 0; i < 60; i++)); do
    if redis_ok; then log "redis: up ($REDIS_URL)"; return 0; fi
    sleep 0.25
  done
  tail -n 20 "$REDIS_LOG" >&2
  die "redis: no PONG from 127.0.0.1:$REDIS_PORT (see $REDIS_LOG)"
}

stop_redis() {
  local pid
  if pid="$(live_pid "$REDIS_PIDFILE" redis-server)"; then
    log "redis: stopping (pid $pid)"
    stop_pid "$pid" 10
  fi
  rm -f "$REDIS_PIDFILE"
}

# ---------------------------------------------------------------------------------------------
# commands

cmd_start() {
  [ "$(id -u)" = 0 ] || die "start needs root"
  mkdir -p "$SERVICES_DIR"
  chmod 755 "$SERVICES_DIR"
  [ -x "$CHROMIUM" ] || die "chromium: $CHROMIUM is missing (run: scripts/services.sh install)"
  local t0=$SECONDS
  start_docker
  start_postgres
  start_redis
  log "chromium: $(timeout 20 "$CHROMIUM" --version 2>/dev/null | head -n1 || true) ($CHROMIUM)"
  log "start: all services up in $((SECONDS - t0))s (state in $SERVICES_DIR)"
  print_exports
}

cmd_stop() {
  stop_redis
  stop_postgres
  stop_docker
  log "stop: done"
}

cmd_status() {
  local down=0 pid
  if docker_ok; then
    pid="$(live_pid "$DOCKER_PIDFILE" dockerd || echo "not ours")"
    echo "docker    up    ($DOCKER_SOCK, pid $pid, storage $(docker info -f '{{.Driver}}' 2>/dev/null))"
  else
    echo "docker    down"; down=1
  fi
  if pg_ok; then
    pid="$(live_pid "$PGDATA/postmaster.pid" postgres || echo "not ours")"
    echo "postgres  up    ($PG_URL, pid $pid)"
  else
    echo "postgres  down"; down=1
  fi
  if redis_ok; then
    pid="$(live_pid "$REDIS_PIDFILE" redis-server || echo "not ours")"
    echo "redis     up    ($REDIS_URL, pid $pid)"
  else
    echo "redis     down"; down=1
  fi
  if [ -x "$CHROMIUM" ]; then
    echo "chromium  up    ($CHROMIUM, installed; started by the tests)"
  else
    echo "chromium  down  ($CHROMIUM missing)"; down=1
  fi
  return $((down ? 3 : 0))
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  env) print_exports ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
