#!/usr/bin/env bash
# The one test command: what CI runs and what a developer runs before pushing.
# Installs missing build prerequisites, then checks formatting, runs clippy with
# warnings denied, and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# A one-off build gains nothing from incremental state, which takes gigabytes
# of disk (a CI run once ran out of space); a developer can set it back.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
echo "== disk free where the build goes"
df -h . | tail -n 1

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings denied)"
cargo clippy --workspace --all-targets --all-features --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --all-features --locked
