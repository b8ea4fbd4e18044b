#!/usr/bin/env bash
# Retakes the passport and explorer screenshots under docs/ from a live demo:
# `gemtrail demo --keep` runs a stone from mine to sale on three local nodes,
# then headless Chromium photographs the pages at phone and desktop widths.
# Usage: bash scripts/screenshots.sh [path/to/gemtrail]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
gemtrail=${1:-target/release/gemtrail}
[[ -x $gemtrail ]] || cargo build --release -p gemtrail-cli

log=$(mktemp)
"$gemtrail" demo --keep >"$log" 2>&1 &
demo=$!
trap 'kill -INT $demo 2>/dev/null || true; wait $demo 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 600); do
    grep -q "buyer's passport:" "$log" && break
    kill -0 $demo 2>/dev/null || { cat "$log"; exit 1; }
    sleep 0.1
done
passport=$(sed -n "s/.*buyer's passport: *//p" "$log")
explorer=$(sed -n 's/.*explorer: *//p' "$log")
[[ -n $passport ]] || { cat "$log"; echo "screenshots: the demo printed no passport URL" >&2; exit 1; }

shoot() { # width,height url file
    chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
        --disable-background-networking --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" \
        --window-size="$1" --screenshot="$3" "$2" 2>/dev/null
    echo "screenshots: wrote $3"
}
shoot 390,3500 "$passport" docs/passport-phone.png
shoot 1280,1960 "$passport" docs/passport-desktop.png
shoot 1100,1250 "$explorer/stones/GT-DEMO-A" docs/explorer-stone.png
