#!/usr/bin/env bash
# Instruction counts (valgrind's callgrind) of `flowcost analyze -j 1` on a fixed subset of
# the e2e world: the first FILES (150) files in path order of its Parquet and gzip folders,
# copied into target/bench-callgrind/. Counts do not drift with the machine's load the way
# times do, so two commits compare in one run each; BENCHMARKS.md's instruction tables come
# from this script.
#
#   bash benches/e2e.sh                       # once: generates the world (target/bench-e2e/)
#   bash benches/callgrind.sh                 # builds, then prints one count per encoding
#   FLOWCOST=/tmp/old-flowcost bash benches/callgrind.sh   # another build, same subset
#   BRANCHES=1 bash benches/callgrind.sh      # also simulated mispredicted branches (slower)
#
# With BRANCHES=1 valgrind simulates a branch predictor (`--branch-sim=yes`): its model is
# simpler than any real processor's, but it shows which branches the data decides, which
# instruction counts alone do not (BENCHMARKS.md, "Issue 14, sixteenth step").
#
# The profiles stay in target/bench-callgrind/{parquet,gz}.callgrind for
# `callgrind_annotate --inclusive=yes`.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
source benches/world.sh
files=${FILES:-150}
sub=target/bench-callgrind
branch_sim=$([ -n "${BRANCHES:-}" ] && echo yes || echo no)
echo "flowcost $("$FLOWCOST" --version | cut -d' ' -f2), first $files files of each of $world/{parquet,gz}"
for enc in parquet gz; do
    rm -rf "${sub:?}/$enc"
    mkdir -p "$sub/$enc"
    find "$world/$enc" -type f | sort | sed -n "1,${files}p" | while read -r f; do cp "$f" "$sub/$enc/"; done
    valgrind --tool=callgrind --branch-sim="$branch_sim" --callgrind-out-file="$sub/$enc.callgrind" \
        "$FLOWCOST" analyze -q -j 1 --format json "${nat[@]}" "$sub/$enc" \
        > "$sub/$enc.json" 2> "$sub/$enc.log"
    records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["analysis"]["quality"]["lines"]["lines"])' "$sub/$enc.json")
    refs=$(grep -o 'refs: *[0-9,]*' "$sub/$enc.log" | tr -dc 0-9)
    python3 -c "import sys; r, n = int(sys.argv[2]), int(sys.argv[3]); print(f'{sys.argv[1]:8} {r/1e9:6.2f} G instructions, {n:,} records, {r/n:,.0f} a record')" "$enc" "$refs" "$records"
    if [ "$branch_sim" = yes ]; then
        grep -o 'Mispredicts: *[0-9,]* *([0-9, ]*cond *+ *[0-9, ]*ind)' "$sub/$enc.log" | tr -s ' ' | sed 's/^/         /'
    fi
done
