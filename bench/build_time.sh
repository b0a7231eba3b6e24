#!/usr/bin/env bash
# Build time of the word-count example: a clean build, then the rebuild after a one-line
# edit of its .topo file, in debug (dev) and release. Uses its own target dir.
set -euo pipefail
cd "$(dirname "$0")/.."
topo=examples/wordcount/topologies/wordcount.topo
target=${TARGET:-/tmp/gale-build-time}
trap 'git checkout -q "$topo"' EXIT
for prof in dev release; do
    rm -rf "$target"
    s=$(date +%s.%N); CARGO_TARGET_DIR=$target cargo build -q --profile "$prof" -p wordcount; e=$(date +%s.%N)
    printf 'clean build   %-7s %6.1f s\n' "$prof" "$(echo "$e - $s" | bc)"
    sed -i 's/config { repeat = 1 }/config { repeat = 2 }/' "$topo"
    s=$(date +%s.%N); CARGO_TARGET_DIR=$target cargo build -q --profile "$prof" -p wordcount; e=$(date +%s.%N)
    printf 'after .topo edit %-7s %6.1f s\n' "$prof" "$(echo "$e - $s" | bc)"
    git checkout -q "$topo"
done
