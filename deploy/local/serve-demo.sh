# shellcheck shell=bash
# Sourced by fuzz-api.sh and browser-check.sh: serves the all-in-one binary
# over demo data of its own, apart from what `make run` serves.
#
#   serve_demo NAME CUSTOMERS   builds, starts the services, recreates the
#                               database NAME, leases a Redis database, runs
#                               `reactivation run --demo CUSTOMERS` on a free
#                               loopback port with the index alias NAME, and
#                               waits for /readyz and the first full sync.
#                               Sets BASE_URL, ADMIN_KEY and COMPANY_KEY.
#   stop_demo                   stops the server, drops its index, releases
#                               the Redis database (also run on EXIT).
#
# The server's log is .local/NAME.log.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SERVE_PID=""
REDIS_LEASE=""

demo_log() { echo "$(basename "$0"): $*" >&2; }
demo_die() { demo_log "$*"; exit 1; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# lease_redis_db points REDIS_URL at a Redis database nobody uses, taken
# with the lease keys internal/testenv takes, so a concurrent `go test`
# never shares it.
lease_redis_db() {
  local base=${REDIS_URL%/*} db
  for ((db = 63; db > 0; db--)); do
    if [ "$(redis-cli -u "$base/0" SET "testenv:lease:$db" "$1" NX EX 3600)" = OK ]; then
      REDIS_LEASE=$db
      redis-cli -u "$base/$db" FLUSHDB >/dev/null
      export REDIS_URL=$base/$db
      return 0
    fi
  done
  demo_die "no free Redis database among 1..63"
}

serve_demo() {
  local name=$1 customers=$2
  cd "$ROOT"
  demo_log "building"
  go build -o bin/ ./cmd/...
  "$ROOT/deploy/local/services.sh" up
  eval "$("$ROOT/deploy/local/services.sh" env)"
  mkdir -p "$ROOT/.local"

  # A database of its own, fresh every run: `make run` keeps its data.
  psql "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null
  local db_url port
  db_url=$(echo "$DATABASE_URL" | sed -E "s#(//[^/]+/)[^?]*#\1$name#")
  trap stop_demo EXIT
  lease_redis_db "$name"
  port=$(free_port)
  BASE_URL="http://127.0.0.1:$port"
  DEMO_INDEX_ALIAS=$name

  export DATABASE_URL=$db_url SOURCE_DATABASE_URL=$db_url INDEX_ALIAS=$name
  # Keys are not rate limited to a crawl: the fuzzer would mostly see 429.
  env API_ADDR="127.0.0.1:$port" RATE_LIMIT_PER_MINUTE=600000 RATE_LIMIT_BURST=100000 LOG_LEVEL=warn \
    SHUTDOWN_TIMEOUT=5s "$ROOT/bin/reactivation" run --demo "$customers" >"$ROOT/.local/$name.log" 2>&1 &
  SERVE_PID=$!
  demo_log "serving $customers demo customers at $BASE_URL (pid $SERVE_PID, log .local/$name.log)"

  local i
  for ((i = 0; i < 240; i++)); do
    kill -0 "$SERVE_PID" 2>/dev/null || demo_die "the server exited: $(tail -n 5 "$ROOT/.local/$name.log")"
    curl -fsS "$BASE_URL/readyz" >/dev/null 2>&1 && break
    sleep 0.5
  done
  curl -fsS "$BASE_URL/readyz" >/dev/null || demo_die "$BASE_URL/readyz never answered 200"

  ADMIN_KEY=$("$ROOT/bin/reactivation" apikey create --admin --scopes search,export,sync,admin --name "$name-admin" 2>/dev/null)
  COMPANY_KEY=$("$ROOT/bin/reactivation" apikey create --company COMP001 --scopes search,export,sync --name "$name-company" 2>/dev/null)
  [ -n "$ADMIN_KEY" ] && [ -n "$COMPANY_KEY" ] || demo_die "could not create API keys"

  demo_log "waiting for the first full sync"
  local jobs
  for ((i = 0; i < 600; i++)); do
    jobs=$(curl -fsS -H "X-API-Key: $ADMIN_KEY" "$BASE_URL/api/v1/jobs?type=sync.full&limit=1")
    case $jobs in
      *'"state":"succeeded"'*) demo_log "first full sync done"; return 0 ;;
      *'"state":"failed"'* | *'"state":"canceled"'*) demo_die "the first full sync did not succeed: $jobs" ;;
    esac
    sleep 0.5
  done
  demo_die "the first full sync did not finish in 5 minutes: $jobs"
}

stop_demo() {
  if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID" 2>/dev/null || true
    demo_log "server stopped"
  fi
  SERVE_PID=""
  if [ -n "${DEMO_INDEX_ALIAS:-}" ]; then
    curl -fsS -X DELETE "$ELASTICSEARCH_URL/${DEMO_INDEX_ALIAS}_*?ignore_unavailable=true" >/dev/null 2>&1 || true
    DEMO_INDEX_ALIAS=""
  fi
  if [ -n "$REDIS_LEASE" ]; then
    redis-cli -u "${REDIS_URL%/*}/0" DEL "testenv:lease:$REDIS_LEASE" >/dev/null || true
    REDIS_LEASE=""
  fi
}
