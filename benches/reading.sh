#!/usr/bin/env bash
# What the account stage costs: `flowcost analyze` against flowcost's own readers alone
# (`examples/reading.rs`: the same readers, a sink that reads from each record what the
# account stage reads and keeps nothing), in alternation, per encoding of the e2e world.
# The difference is the account stage with the analysis after it; what is left of a speed
# target once reading is paid is what that stage may cost.
#
#   bash benches/e2e.sh                      # once: generates the world (target/bench-e2e/)
#   bash benches/reading.sh                  # builds both, five rounds, -j 2 and -j 1
#   ROUNDS=3 JOBS=2 ONLY=parquet bash benches/reading.sh
#   FLOWCOST=/tmp/a READING=/tmp/b bash benches/reading.sh   # other builds
#
# Prints, per encoding and thread count, the least and median wall and CPU time of each.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/world.sh
if [ -z "${READING:-}" ]; then
    cargo build --release -q --example reading
    READING=target/release/examples/reading
fi
rounds=${ROUNDS:-5}
only=${ONLY:-parquet,gz}
jobs=${JOBS:-2 1}
times=$(mktemp)
trap 'rm -f "$times"' EXIT
echo "flowcost $("$FLOWCOST" --version | cut -d' ' -f2) on $world; $(nproc) cores; $(date -u '+%F %H:%M')"
for enc in ${only//,/ }; do
    find "$world/$enc" -type f -exec cat {} + > /dev/null   # into the page cache
    # both read the same records, or the comparison means nothing
    lines=$("$FLOWCOST" analyze -q --format json "${nat[@]}" "$world/$enc" |
        python3 -c 'import json,sys; l = json.load(sys.stdin)["analysis"]["quality"]["lines"]; print(l["lines"] - l["headers"] - l["blank"] - l["malformed"])')
    read_=$("$READING" "$world/$enc" | cut -d' ' -f1)
    [ "$lines" = "$read_" ] || { echo "$enc: analyze read $lines records, reading read $read_" >&2; exit 1; }
    for j in $jobs; do
        : > "$times"
        for _ in $(seq "$rounds"); do
            /usr/bin/time -f "analyze %e %U %S" -a -o "$times" \
                "$FLOWCOST" analyze -q -j "$j" --format json "${nat[@]}" "$world/$enc" > /dev/null
            /usr/bin/time -f "reading %e %U %S" -a -o "$times" \
                "$READING" -j "$j" "$world/$enc" > /dev/null
        done
        echo "== $enc, -j $j, $rounds rounds"
        python3 - "$times" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 4:
        runs.setdefault(p[0], []).append((float(p[1]), float(p[2]) + float(p[3])))
def least_median(xs):
    return min(xs), statistics.median(xs)
row = {}
for name in ("analyze", "reading"):
    wall, cpu = zip(*runs[name])
    row[name] = (least_median(wall), least_median(cpu))
    print(f"  {name:8s} wall {row[name][0][0]:.3f} / {row[name][0][1]:.3f} s"
          f"   CPU {row[name][1][0]:.3f} / {row[name][1][1]:.3f} s   (least / median)")
a, r = row["analyze"][1][1], row["reading"][1][1]
print(f"  the account stage and the analysis: {a - r:.3f} s of CPU, {100 * (a - r) / a:.0f} % of the run's (medians)")
PY
    done
done
