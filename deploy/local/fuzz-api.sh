#!/usr/bin/env bash
# Fuzzes the running API against its own OpenAPI document with Schemathesis:
# every response must be no 5xx, of a documented status and content type,
# and match its schema. Runs once with a company key and once with an admin
# key, on loopback only, over demo data of its own (database
# reactivation_fuzz, index alias reactivation_fuzz), so `make run` data is
# left alone. Exits non-zero on any failure.
#
#   deploy/local/fuzz-api.sh        (make fuzz-api)
#
# FUZZ_EXAMPLES (default 50) bounds the examples per operation; FUZZ_SEED
# makes a run reproducible. Reports land in .local/fuzz-api/.
set -euo pipefail

# shellcheck source=serve-demo.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve-demo.sh"

SCHEMATHESIS_VERSION=4.32.5
VENV=$ROOT/.local/venv
ST=$VENV/bin/schemathesis
if ! "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  demo_log "installing schemathesis $SCHEMATHESIS_VERSION into .local/venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

serve_demo reactivation_fuzz 3000

REPORTS=$ROOT/.local/fuzz-api
rm -rf "$REPORTS"
status=0
for who in company admin; do
  key=$COMPANY_KEY
  [ "$who" = admin ] && key=$ADMIN_KEY
  demo_log "schemathesis with the $who key"
  args=(run "$BASE_URL/openapi.json"
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance
    --header "X-API-Key: $key"
    --max-examples "${FUZZ_EXAMPLES:-50}"
    --request-timeout 30
    --report junit --report-dir "$REPORTS/$who")
  if [ -n "${FUZZ_SEED:-}" ]; then args+=(--seed "$FUZZ_SEED"); fi
  if ! "$ST" "${args[@]}"; then
    status=1
    demo_log "schemathesis with the $who key found failures (report: .local/fuzz-api/$who)"
  fi
done
stop_demo
[ "$status" = 0 ] && demo_log "no failures"
exit "$status"
