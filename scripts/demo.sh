#!/usr/bin/env bash
# The demo command: installs missing build prerequisites, builds gemtrail, and
# runs `gemtrail demo` (three local node processes, one stone from the mine to
# its sale, a refused action, verification and a passport). Extra arguments go
# to the demo, e.g. `bash scripts/demo.sh --keep`.
#
# It builds with the same settings as scripts/test.sh, so running both compiles
# RocksDB's C++ once, not twice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

echo "== building gemtrail (a cold build compiles RocksDB: about twenty minutes on two cores)"
cargo build --workspace --all-targets --all-features --locked --quiet

echo "== gemtrail demo"
exec target/debug/gemtrail demo "$@"
