#!/usr/bin/env bash
# Soak the exactly-once guarantee beyond what the test suite runs:
#   - `kill -9` of a local run at a seeded moment, then `run --restore`, over SEEDS seeds
#     (the suite runs 20), starting at FIRST (so successive soaks cover new seeds);
#   - the cluster test (kill -9 of workers, a supervisor, a whole machine) ROUNDS times.
# Every round compares the committed output with a plain count of the input; the first
# mismatch stops the soak with its seed.
#
#   tests/soak-exactly-once.sh [SEEDS] [ROUNDS] [FIRST]     # defaults: 200 5 20
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-200}
ROUNDS=${2:-5}
FIRST=${3:-20}
echo "local: kill -9 + --restore over seeds $FIRST..$((FIRST + SEEDS))"
GALE_EO_SEEDS=$SEEDS GALE_EO_FIRST_SEED=$FIRST \
    cargo test -p gale-tests --test exactly_once kill_9_mid_run -- --nocapture
for round in $(seq 1 "$ROUNDS"); do
    echo "cluster: round $round of $ROUNDS"
    cargo test -p gale-tests --test cluster_exactly_once kill_9_of_workers -- --nocapture
done
echo "soak passed: $SEEDS local seeds, $ROUNDS cluster rounds"
