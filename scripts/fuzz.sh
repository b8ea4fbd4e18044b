#!/usr/bin/env bash
# Fuzzes one target, or each in turn, with cargo-fuzz on nightly, growing the
# corpora under fuzz/corpus/ (commit what they gain; the test command replays
# them on stable). Installs cargo-fuzz if missing.
# Usage: bash scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
seconds=${1:-1800}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(decode_wire json_body genesis_toml lane_frames proof_verify dump_import)
for target in "${targets[@]}"; do
    echo "== fuzz $target for ${seconds}s"
    cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=2048
done
