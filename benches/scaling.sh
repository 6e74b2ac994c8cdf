#!/usr/bin/env bash
# Thread scaling: runs `flowcost analyze` with 1, 2, 4, ... threads up to the cores present
# on one generated world (gzip text and Parquet), and prints wall time, records/s, records/s
# per thread, the speed-up over one thread and the serial fraction it implies (Karp-Flatt:
# e = (1/S - 1/p) / (1 - 1/p), the share of one thread's time that did not shrink).
#
#   bash benches/scaling.sh                      # builds, generates a 3-day world once
#   FLOWCOST=path/to/flowcost WORLD=dir bash benches/scaling.sh
#   RUNS=3 bash benches/scaling.sh               # best of three per point (default 2)
#
# WORLD is a folder written by `flowcost generate --encoding gz --encoding parquet` (it has
# gz/, parquet/ and truth.json). The NAT ENIs are given, as in benches/e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-2}
if [ -z "${FLOWCOST:-}" ]; then
    cargo build --release -q
    FLOWCOST=target/release/flowcost
fi
world=${WORLD:-target/bench-scaling/d3-t12500-s11}
if [ ! -d "$world/gz" ]; then
    "$FLOWCOST" generate -o "$world" --days 3 --tasks-per-day 12500 --seed 11 \
        --fields v5 --encoding gz --encoding parquet >&2
fi
nat=()
for e in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["nat_enis"]))' "$world/truth.json"); do
    nat+=(--nat-eni "$e")
done
cores=$(nproc)
echo "machine: $cores cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); $(date -u +%F)"
echo "flowcost $("$FLOWCOST" --version | cut -d' ' -f2), world $world"
for enc in gz parquet; do
    find "$world/$enc" -type f -exec cat {} + > /dev/null # warm the page cache
    records=""
    t1=""
    printf '%-8s %7s %9s %12s %16s %8s %9s\n' input threads wall "records/s" "records/s/thread" speedup serial
    threads=1
    while [ "$threads" -le "$cores" ]; do
        best=""
        for _ in $(seq "$runs"); do
            out=$(mktemp)
            /usr/bin/time -f "%e" -o "$out.t" "$FLOWCOST" analyze -q -j "$threads" --format json \
                "${nat[@]}" "$world/$enc" > "$out"
            wall=$(cat "$out.t")
            if [ -z "$records" ]; then
                records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["analysis"]["quality"]["lines"]["lines"])' "$out")
            fi
            rm -f "$out" "$out.t"
            if [ -z "$best" ] || python3 -c "import sys; sys.exit(0 if $wall < $best else 1)"; then
                best=$wall
            fi
        done
        [ -z "$t1" ] && t1=$best
        python3 - "$enc" "$threads" "$best" "$records" "$t1" <<'PY'
import sys
enc, p, wall, records, t1 = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
s = t1 / wall
serial = "-" if p == 1 else f"{((1 / s) - (1 / p)) / (1 - 1 / p):.3f}"
print(f"{enc:<8} {p:>7} {wall:>8.2f}s {records / wall:>12,.0f} {records / wall / p:>16,.0f} {s:>7.2f}x {serial:>9}")
PY
        threads=$((threads * 2))
    done
done
