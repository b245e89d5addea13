#!/usr/bin/env bash
# Run CATAPULT's cmi5 LMS test suite (adlnet/CATAPULT, lts/) against a fresh hub with our adapter
# (lms.hocvu.js). CATAPULT is not part of this repository: clone it to $CATAPULT_DIR, `npm ci` in lts/
# (PUPPETEER_SKIP_DOWNLOAD=1: the machine's Chromium is used) and build lts/pkg (`npx webpack`).
# Usage: tools/catapult/run.sh [jest args...]   e.g.  tools/catapult/run.sh __tests__/package.js
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
export CATAPULT_DIR="${CATAPULT_DIR:-/work/ext/catapult}"
PORT="${PORT:-8765}"
WORK="$(mktemp -d)"
export HOCVU_INSTANCE_DIR="$WORK" HOCVU_PUBLIC_URL="http://127.0.0.1:$PORT" HOCVU_SECRET_KEY="catapult-run"
BIN="$ROOT/.venv/bin"
"$BIN/hocvu" db upgrade >/dev/null
CRED="$("$BIN/hocvu" credential create --tenant "${HOCVU_NATIONAL_TENANT:-quoc-gia}" --scopes all --name catapult --json)"
export HOCVU_ADMIN_KEY="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$CRED")"
export HOCVU_ADMIN_SECRET="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$CRED")"
export HOCVU_URL="http://127.0.0.1:$PORT"
"$BIN/gunicorn" --bind "127.0.0.1:$PORT" --workers 2 --threads 4 --log-level warning 'hocvu.wsgi:app' \
    >"$WORK/hub.log" 2>&1 &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true; wait $HUB_PID 2>/dev/null || true' EXIT
for _ in $(seq 60); do curl -fs "$HOCVU_URL/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
cd "$CATAPULT_DIR/lts"
CATAPULT_LMS="$HERE/lms.hocvu.js" JEST_PUPPETEER_CONFIG="$HERE/jest-puppeteer.config.js" \
    npx jest --runInBand --testTimeout=60000 "$@" || status=$?
echo "hub log: $WORK/hub.log"
exit "${status:-0}"
