#!/usr/bin/env bash
# Starts PostgreSQL, Redis and a single OpenSearch node on loopback without
# Docker. A service already answering at its configured URL is used as it is.
#
#   deploy/local/services.sh up|down|status|env
#   deploy/local/services.sh sentinel-up|sentinel-down|sentinel-env   (Redis HA, see below)
#
# Data, logs and downloaded artifacts live in .local/ at the repository root
# (git-ignored). Idempotent: `up` with everything running returns in well
# under a second.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE=${REACTIVATION_LOCAL_DIR:-$ROOT/.local}

PG_PORT=${PG_PORT:-5432}
REDIS_PORT=${REDIS_PORT:-6379}
OS_PORT=${OS_PORT:-9200}
OS_HEAP=${OS_HEAP:-2g}
PG_SHARED_BUFFERS=${PG_SHARED_BUFFERS:-4GB}
# A cluster name of this checkout's own: nodes of two checkouts on one
# machine must never join each other's cluster.
OS_CLUSTER=reactivation-$(echo "$ROOT" | md5sum | cut -c1-8)

DATABASE_URL=${DATABASE_URL:-postgres://reactivation:reactivation@127.0.0.1:$PG_PORT/reactivation?sslmode=disable}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
ELASTICSEARCH_URL=${ELASTICSEARCH_URL:-http://127.0.0.1:$OS_PORT}
SEARCH_FLAVOR=${SEARCH_FLAVOR:-opensearch}

log() { echo "services: $*" >&2; }
die() { echo "services: $*" >&2; exit 1; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2 || die "apt-get install $* failed"
}

# wait_for NAME SECONDS CMD... polls CMD until it succeeds.
wait_for() {
  local name=$1 secs=$2; shift 2
  local i
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$name did not answer within ${secs}s (see $STATE/*.log)"
}

# ---------- PostgreSQL ----------

pg_up() { command -v psql >/dev/null && psql "$DATABASE_URL" -Atqc 'select 1' >/dev/null 2>&1; }

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# pg_dir is where the PostgreSQL cluster lives: .local/pg, unless the
# postgres user cannot reach it (a checkout under a private home), then a
# folder of this checkout's own under /var/tmp.
pg_dir() {
  if [ "$(id -u)" != 0 ] || runuser -u postgres -- test -x "$STATE" 2>/dev/null; then
    echo "$STATE/pg"
  else
    echo "/var/tmp/reactivation-pg-$(echo "$ROOT" | md5sum | cut -c1-8)"
  fi
}

pg_start() {
  if pg_up; then return 0; fi
  local bin
  bin=$(pg_bin) || true
  if [ -z "$bin" ] || ! command -v psql >/dev/null; then
    apt_install postgresql postgresql-client
    bin=$(pg_bin) || die "no PostgreSQL binaries after install"
  fi
  local pgdir
  pgdir=$(pg_dir)
  local data=$pgdir/data run=$pgdir/run
  mkdir -p "$pgdir" "$run"
  as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$pgdir"; fi
  if [ ! -s "$data/PG_VERSION" ]; then
    log "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1 ||
      die "initdb failed: $(tail -n 3 "$pgdir/initdb.log")"
    cat >>"$data/postgresql.conf" <<EOF
# local development node started by deploy/local/services.sh
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$run'
EOF
  fi
  # The node's settings, rewritten on every start: a data directory made
  # by an older version of this script gets today's (the include comes
  # after its own lines, so it wins).
  grep -q "^include_if_exists = 'reactivation.conf'" "$data/postgresql.conf" ||
    echo "include_if_exists = 'reactivation.conf'" >>"$data/postgresql.conf"
  cat >"$data/reactivation.conf" <<EOF
# written by deploy/local/services.sh on every start
max_connections = 300
# About a sixth of this machine's memory: the bench data's working set at
# 800k customers (the source's tables and indexes, the service's
# tracking) is some 2.5 GB, and a page that misses the buffers is read
# from the OS again, at each probe (docs/capacity.md).
shared_buffers = $PG_SHARED_BUFFERS
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
synchronous_commit = off
fsync = off
full_page_writes = off
EOF
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data/reactivation.conf"; fi
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" -D "$data" -l "$pgdir/postgres.log" -w -t 60 start >/dev/null ||
    die "PostgreSQL did not start: $(tail -n 5 "$pgdir/postgres.log")"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc "select 1 from pg_roles where rolname='reactivation'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "create role reactivation login superuser password 'reactivation'"
  psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atqc "select 1 from pg_database where datname='reactivation'" | grep -q 1 ||
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc "create database reactivation owner reactivation"
  wait_for PostgreSQL 30 pg_up
}

pg_stop() {
  local bin data
  data=$(pg_dir)/data
  [ -s "$data/postmaster.pid" ] || return 0
  bin=$(pg_bin) || return 0
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true
  else "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true; fi
}

# ---------- Redis ----------

redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -u "$REDIS_URL" ping 2>/dev/null)" = PONG ]; }

redis_start() {
  if redis_up; then return 0; fi
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$STATE/redis"
  log "starting Redis on 127.0.0.1:$REDIS_PORT"
  # Nothing on disk, like many deployments: the job rows in PostgreSQL are
  # what survives a Redis restart.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes \
    --dir "$STATE/redis" --save '' --appendonly no --databases 64 \
    --pidfile "$STATE/redis/redis.pid" --logfile "$STATE/redis/redis.log" >/dev/null
  wait_for Redis 20 redis_up
}

redis_stop() {
  if [ -s "$STATE/redis/redis.pid" ]; then
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$STATE/redis/redis.pid")" 2>/dev/null || true
    rm -f "$STATE/redis/redis.pid"
  fi
}

# ---------- OpenSearch ----------

# os_up: a node answers at the URL (whatever its cluster's health).
os_up() { curl -fsS "$ELASTICSEARCH_URL/" >/dev/null 2>&1; }
os_ready() { curl -fsS "$ELASTICSEARCH_URL/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; }

os_start() {
  if os_up; then return 0; fi
  local lib=$STATE/opensearch/lib
  command -v java >/dev/null || apt_install openjdk-17-jre-headless
  if [ ! -f "$lib/.complete" ]; then
    command -v mvn >/dev/null || apt_install maven
    log "resolving OpenSearch from Maven Central into $lib"
    mkdir -p "$lib"
    mvn -q -B -f "$ROOT/deploy/local/opensearch/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib" >"$STATE/opensearch-mvn.log" 2>&1 ||
      die "maven could not resolve OpenSearch: $(tail -n 5 "$STATE/opensearch-mvn.log")"
    touch "$lib/.complete"
  fi
  local node=$STATE/opensearch/node
  rm -rf "$node"
  mkdir -p "$node"
  log "starting OpenSearch on 127.0.0.1:$OS_PORT"
  # The runner binds baseHttpPort+1 for its first node.
  nohup java -Xms"$OS_HEAP" -Xmx"$OS_HEAP" -cp "$lib/*" \
    org.codelibs.opensearch.runner.OpenSearchRunner \
    -basePath "$node" -numOfNode 1 -baseHttpPort $((OS_PORT - 1)) -clusterName "$OS_CLUSTER" \
    >"$STATE/opensearch.log" 2>&1 </dev/null &
  echo $! >"$STATE/opensearch.pid"
  wait_for OpenSearch 120 os_ready
  # The node shares its disk with everything else on the machine: its
  # watermarks are free space, not shares of a disk other programs fill
  # (the sync bench's dumps once took this machine past 90% and the node
  # refused to create indexes).
  curl -fsS -X PUT "$ELASTICSEARCH_URL/_cluster/settings" -H 'Content-Type: application/json' \
    -d '{"persistent":{"cluster.routing.allocation.disk.watermark.low":"3gb","cluster.routing.allocation.disk.watermark.high":"2gb","cluster.routing.allocation.disk.watermark.flood_stage":"1gb"}}' \
    >/dev/null || die "OpenSearch refused its disk watermarks"
}

os_stop() {
  if [ -s "$STATE/opensearch.pid" ]; then
    local pid
    pid=$(cat "$STATE/opensearch.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$STATE/opensearch.pid"
  fi
}

state() { if "$1"; then echo up; else echo down; fi; }

print_env() {
  cat <<EOF
export DATABASE_URL='$DATABASE_URL'
export REDIS_URL='$REDIS_URL'
export ELASTICSEARCH_URL='$ELASTICSEARCH_URL'
export SEARCH_FLAVOR='$SEARCH_FLAVOR'
EOF
}

# ---------- Redis high availability (sentinel-up|sentinel-down|sentinel-env) ----------
# A primary, a replica and three sentinels watching them, on loopback ports
# of their own: never the shared Redis on REDIS_PORT. Ports and directory
# can be chosen (a test takes free ones):
#   REDIS_HA_PORT (6390), REDIS_HA_REPLICA_PORT (6391),
#   REDIS_HA_SENTINEL_PORTS ("26390 26391 26392"), REDIS_HA_MASTER
#   (reactivation), REDIS_HA_DIR ($STATE/redis-ha).
HA_PORT=${REDIS_HA_PORT:-6390}
HA_REPLICA_PORT=${REDIS_HA_REPLICA_PORT:-6391}
HA_SENTINEL_PORTS=${REDIS_HA_SENTINEL_PORTS:-26390 26391 26392}
HA_MASTER=${REDIS_HA_MASTER:-reactivation}
HA_DIR=${REDIS_HA_DIR:-$STATE/redis-ha}

# sentinel_exec CONF starts a sentinel: Debian's redis-sentinel when
# installed, else redis-server in sentinel mode (the same binary).
sentinel_exec() {
  if command -v redis-sentinel >/dev/null; then
    redis-sentinel "$1" >/dev/null
  else
    redis-server "$1" --sentinel >/dev/null
  fi
}

ha_redis_start() { # PORT [PRIMARY_PORT]
  local port=$1
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$HA_DIR" \
    --dbfilename "dump-$port.rdb" --save '' --appendonly no \
    --pidfile "$HA_DIR/redis-$port.pid" --logfile "$HA_DIR/redis-$port.log" \
    ${2:+--replicaof 127.0.0.1 "$2"} >/dev/null
}

# ha_ready: every sentinel knows the master, its replica and the two other
# sentinels.
ha_ready() {
  local p info
  for p in $HA_SENTINEL_PORTS; do
    info=$(redis-cli -p "$p" sentinel master "$HA_MASTER" 2>/dev/null | paste -sd' ') || return 1
    [[ "$info" == *"num-slaves 1"* && "$info" == *"num-other-sentinels 2"* ]] || return 1
  done
}

sentinel_up() {
  command -v redis-server >/dev/null || apt_install redis-server redis-sentinel
  mkdir -p "$HA_DIR"
  ha_redis_start "$HA_PORT"
  ha_redis_start "$HA_REPLICA_PORT" "$HA_PORT"
  local p
  for p in $HA_SENTINEL_PORTS; do
    # A sentinel rewrites its configuration file: one each.
    cat >"$HA_DIR/sentinel-$p.conf" <<EOF
bind 127.0.0.1
port $p
daemonize yes
dir $HA_DIR
pidfile $HA_DIR/sentinel-$p.pid
logfile $HA_DIR/sentinel-$p.log
sentinel monitor $HA_MASTER 127.0.0.1 $HA_PORT 2
sentinel down-after-milliseconds $HA_MASTER 1000
sentinel failover-timeout $HA_MASTER 10000
sentinel parallel-syncs $HA_MASTER 1
EOF
    sentinel_exec "$HA_DIR/sentinel-$p.conf"
  done
  wait_for "Redis sentinels" 30 ha_ready
  log "Redis HA up: primary $HA_PORT, replica $HA_REPLICA_PORT, sentinels $HA_SENTINEL_PORTS (master $HA_MASTER)"
}

# sentinel_down stops them and returns once every one has exited: a Redis
# or a sentinel still shutting down writes its log, its configuration or a
# replication file into HA_DIR after the signal, so a caller that removes
# the directory right after must not race it.
sentinel_down() {
  local f pid pids=()
  for f in "$HA_DIR"/sentinel-*.pid "$HA_DIR"/redis-*.pid; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$f"
  done
  local i
  for pid in "${pids[@]}"; do
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    # Ten seconds after SIGTERM: it will not exit by itself.
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
  log "Redis HA stopped"
}

print_sentinel_env() {
  local p addrs=""
  for p in $HA_SENTINEL_PORTS; do addrs="$addrs,127.0.0.1:$p"; done
  cat <<EOF
export REDIS_URL='redis://127.0.0.1:$HA_PORT/0'
export REDIS_SENTINEL_ADDRS='${addrs#,}'
export REDIS_SENTINEL_MASTER='$HA_MASTER'
EOF
}

case "${1:-}" in
  up)
    mkdir -p "$STATE"
    pg_start
    redis_start
    os_start
    log "PostgreSQL, Redis and OpenSearch are up"
    ;;
  down)
    os_stop
    redis_stop
    pg_stop
    log "stopped what this script started"
    ;;
  status)
    echo "postgres   $(state pg_up)   $DATABASE_URL"
    echo "redis      $(state redis_up)   $REDIS_URL"
    echo "opensearch $(state os_up)   $ELASTICSEARCH_URL"
    pg_up && redis_up && os_up
    ;;
  env) print_env ;;
  sentinel-up) sentinel_up ;;
  sentinel-down) sentinel_down ;;
  sentinel-env) print_sentinel_env ;;
  *) die "usage: $0 up|down|status|env|sentinel-up|sentinel-down|sentinel-env" ;;
esac
