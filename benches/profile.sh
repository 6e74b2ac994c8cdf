#!/usr/bin/env bash
# A time profile (perf's cpu-clock samples) of `flowcost analyze -j 1` on the whole e2e
# world, per encoding: the share of samples by function. It complements benches/callgrind.sh
# (instruction counts on a subset), which cannot see what the whole world's large tables cost
# in cache misses. Needs `perf` (Debian: linux-perf); works without hardware counters.
#
#   bash benches/e2e.sh                      # once: generates the world (target/bench-e2e/)
#   bash benches/profile.sh                  # builds, then prints the top functions of each
#   FLOWCOST=/tmp/old ONLY=parquet TOP=30 bash benches/profile.sh
#
# The samples stay in target/bench-profile/<encoding>.perf for `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf >/dev/null || { echo "perf is needed (apt-get install linux-perf)" >&2; exit 2; }
source benches/world.sh
only=${ONLY:-parquet,gz}
top=${TOP:-20}
out=target/bench-profile
mkdir -p "$out"
echo "flowcost $("$FLOWCOST" --version | cut -d' ' -f2), analyze -j 1 on $world"
for enc in ${only//,/ }; do
    find "$world/$enc" -type f -exec cat {} + > /dev/null   # into the page cache
    perf record -q -e cpu-clock -F 999 -o "$out/$enc.perf" \
        "$FLOWCOST" analyze -q -j 1 --format json "${nat[@]}" "$world/$enc" > "$out/$enc.json" 2> /dev/null
    echo "== $enc: share of CPU samples"
    # (head closes the pipe early: not a failure)
    perf report -i "$out/$enc.perf" --no-children --sort symbol 2> /dev/null |
        grep -E '^ +[0-9.]+%' | head -n "$top" | sed -E 's/ +$//; s/\[\.\] //' || true
done
