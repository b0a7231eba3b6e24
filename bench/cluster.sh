#!/usr/bin/env bash
# Cluster benchmark: word count on 2 worker processes vs local mode (same binary, same
# input, same run), and failure detection + recovery after `kill -9` of a worker.
#
#   bash bench/cluster.sh [REPEAT]      (default 5000: ~2.9M words)
#
# Starts nimbus and two supervisors (two slots each) on 127.0.0.1 from release binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEAT=${1:-5000}
cargo build --release -q -p gale -p wordcount -p gale-tests --bins
BIN=target/release
DIR=$(mktemp -d /tmp/gale-bench.XXXX)
export GALE_SECRET=bench-secret GALE_TEST_DIR=$DIR GALE_TEST_IDS=400000 GALE_TEST_RATE=20000
PORT=$((20000 + RANDOM % 20000))
URL=http://127.0.0.1:$PORT
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
trap cleanup EXIT
$BIN/gale nimbus --listen 127.0.0.1:$PORT --dir $DIR/nimbus --supervisor-timeout 3s >$DIR/nimbus.log 2>&1 & pids+=($!)
sleep 0.5
$BIN/gale supervisor --nimbus $URL --id s0 --ports $((PORT+1)),$((PORT+2)) --dir $DIR/s0 >$DIR/s0.log 2>&1 & pids+=($!)
$BIN/gale supervisor --nimbus $URL --id s1 --ports $((PORT+3)),$((PORT+4)) --dir $DIR/s1 >$DIR/s1.log 2>&1 & pids+=($!)
until $BIN/gale list --nimbus $URL 2>/dev/null | grep -q "supervisor s1 .* alive"; do sleep 0.2; done

words=$(tr -c "[:alnum:]'" '\n' < examples/wordcount/data/sentences.txt | sed "s/^'*//; s/'*$//" | grep -c . )
total=$((words * REPEAT))
echo "input: bundled text x $REPEAT = $total words"

# Local mode, same binary.
local_s=$($BIN/wordcount run --set repeat=$REPEAT --no-progress 2>&1 >/dev/null | sed -n 's/.*finished in \([0-9.]*\) s.*/\1/p')
echo "local mode (1 process):        $(calc "$total / $local_s") words/s  ($local_s s)"

# Cluster: submit to finished, as nimbus sees it.
t0=$(date +%s.%N)
$BIN/wordcount submit --nimbus $URL --workers 2 --set repeat=$REPEAT >/dev/null
until $BIN/gale list --nimbus $URL | grep -q "wordcount-1  finished"; do sleep 0.05; done
t1=$(date +%s.%N)
cluster_s=$(calc "$t1 - $t0")
echo "cluster (2 workers, submit to finished, incl. upload + process start): $(calc "$total / $cluster_s") words/s  ($cluster_s s)"
# Workers print their own elapsed time: the run itself, without the upload and startup.
$BIN/gale list --nimbus $URL | sed -n '/wordcount-1/,/^topology\|^supervisor/p' | head -12
$BIN/gale kill wordcount --nimbus $URL >/dev/null

# Recovery: kill -9 the worker that does not run... any worker; time until its supervisor
# restarted it and acks flow again.
$BIN/cluster_acking submit --nimbus $URL --workers 2 >/dev/null
acked() { cat $DIR/acked-*.txt 2>/dev/null | wc -l; }
until [ "$(acked)" -gt 20000 ]; do sleep 0.1; done
victim=$(pgrep -f "worker --nimbus $URL --topology cluster_acking-[0-9]* --worker 1" | head -1)
k0=$(date +%s.%N)
kill -9 "$victim"
until pgrep -f "worker --nimbus $URL --topology cluster_acking-[0-9]* --worker 1" | grep -vq "^$victim$"; do sleep 0.01; done
k1=$(date +%s.%N)
a=$(acked); until [ "$(acked)" -gt $((a + 5000)) ]; do sleep 0.01; done
k2=$(date +%s.%N)
echo "kill -9 of a worker: restarted by its supervisor after $(calc "$k1 - $k0") s; acks flowing again (+5000) after $(calc "$k2 - $k0") s"
# Supervisor death: detection by nimbus after the 3 s heartbeat timeout.
sup=${pids[1]}
s0=$(date +%s.%N)
kill -9 "$sup"
until $BIN/gale list --nimbus $URL | grep -q "worker 0 on s1 .*" && $BIN/gale list --nimbus $URL | grep -q "worker 1 on s1 "; do sleep 0.05; done
s1=$(date +%s.%N)
echo "kill -9 of a supervisor: its workers reassigned to the other after $(calc "$s1 - $s0") s (timeout 3 s)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
