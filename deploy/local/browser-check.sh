#!/usr/bin/env bash
# Opens the docs page and Asynqmon in headless Chromium against a demo API
# of its own (database reactivation_browser, index alias
# reactivation_browser) and checks they render: the docs page lists the
# operations of /openapi.json, /monitoring shows Asynqmon to an admin key
# given as the basic-auth password, and answers 401 without one; a
# campaign's report page draws its groups and chart.
# Screenshots and rendered DOMs land in .local/screenshots/.
#
#   deploy/local/browser-check.sh        (make browser-check)
set -euo pipefail

# shellcheck source=serve-demo.sh
source "$(dirname "${BASH_SOURCE[0]}")/serve-demo.sh"

if ! command -v chromium >/dev/null; then
  demo_log "installing Debian's chromium"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

serve_demo reactivation_browser 3000

SHOTS=$ROOT/.local/screenshots
mkdir -p "$SHOTS"
PROFILES=$(mktemp -d)
trap 'stop_demo; rm -rf "$PROFILES"' EXIT

# chrome runs one headless Chromium with a profile of its own, no network
# beyond what the page asks for, and time for the page's scripts to run.
chrome() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d -p "$PROFILES")" --window-size=1440,1800 \
    --virtual-time-budget=15000 "$@" 2>>"$SHOTS/chromium.log"
}

failures=0
check() { # check DESCRIPTION COMMAND...
  if "${@:2}"; then demo_log "ok: $1"; else demo_log "FAILED: $1"; failures=$((failures + 1)); fi
}

: >"$SHOTS/chromium.log"
chrome --dump-dom "$BASE_URL/docs" >"$SHOTS/docs.html"
chrome --screenshot="$SHOTS/docs.png" "$BASE_URL/docs"
chrome --screenshot="$SHOTS/docs-search.png" "$BASE_URL/docs#op-searchCustomers"
operations=$(grep -o 'class="op"' "$SHOTS/docs.html" | wc -l)
check "the docs page rendered $operations operations" [ "$operations" -ge 20 ]
check "the docs page shows POST /api/v1/customers/search" grep -q '/api/v1/customers/search' "$SHOTS/docs.html"

# A campaign on the inactive customers, sent 120 days ago so its window
# holds purchases; its page gets the key once in the fragment.
sent_at=$(date -u -d '-120 days' +%Y-%m-%dT%H:%M:%SZ)
json_field() { python3 -c "import json, sys; print(json.load(sys.stdin)[\"$1\"])"; }
campaign=$(curl -fsS -X POST "$BASE_URL/api/v1/campaigns" -H "X-API-Key: $COMPANY_KEY" -H 'Content-Type: application/json' \
  -d "{\"name\":\"browser check\",\"filter\":{\"minDaysSinceLastPurchase\":90},\"sentAt\":\"$sent_at\",\"windowDays\":30}" |
  json_field campaignId)
for ((i = 0; i < 120; i++)); do
  state=$(curl -fsS "$BASE_URL/api/v1/campaigns/$campaign" -H "X-API-Key: $COMPANY_KEY" | json_field state)
  [ "$state" = ready ] && break
  sleep 0.5
done
check "the campaign's audience froze (state $state)" [ "$state" = ready ]
chrome --dump-dom "$BASE_URL/campaigns/$campaign#key=$COMPANY_KEY" >"$SHOTS/campaign.html"
chrome --screenshot="$SHOTS/campaign.png" "$BASE_URL/campaigns/$campaign#key=$COMPANY_KEY"
check "the campaign page shows the groups side by side" grep -q '<th>holdout</th>' "$SHOTS/campaign.html"
check "the campaign page drew the treatment series" grep -q 'data-group="treatment"' "$SHOTS/campaign.html"
check "the campaign page shows the lift" grep -q '95% interval' "$SHOTS/campaign.html"

monitoring="http://x:$ADMIN_KEY@${BASE_URL#http://}/monitoring/"
chrome --dump-dom "$monitoring" >"$SHOTS/monitoring.html"
chrome --screenshot="$SHOTS/monitoring.png" "$monitoring"
check "/monitoring rendered Asynqmon" grep -q 'Asynq - Monitoring' "$SHOTS/monitoring.html"
check "Asynqmon's app ran and shows the queues" grep -qi 'queues' <(sed 's/<script.*<\/script>//g' "$SHOTS/monitoring.html")

status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/monitoring/")
check "/monitoring without a key answers 401 (got $status)" [ "$status" = 401 ]
status=$(curl -s -o /dev/null -w '%{http_code}' -u "x:$COMPANY_KEY" "$BASE_URL/monitoring/")
check "/monitoring with a company key answers 403 (got $status)" [ "$status" = 403 ]

demo_log "screenshots: .local/screenshots/{docs,docs-search,campaign,monitoring}.png"
if [ "$failures" -gt 0 ]; then
  demo_log "$failures check(s) failed"
  exit 1
fi
demo_log "all checks passed"
