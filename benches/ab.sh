#!/usr/bin/env bash
# Two builds of flowcost (or one build with and without an environment variable) timed in
# alternating rounds on the e2e world, after checking that they give the same JSON. On a
# machine whose speed drifts by 20 % from run to run, one run of each says nothing; the
# medians of alternating rounds, and in how many rounds B beat A, say what little can be said
# (BENCHMARKS.md's "alternating rounds" come from loops like this one).
#
#   bash benches/e2e.sh                                  # once: generates the world
#   A=/tmp/flowcost-before B=/tmp/flowcost-after bash benches/ab.sh
#   A=/tmp/f B=/tmp/f ENV_B=FLOWCOST_TIMELINES=all ROUNDS=12 JOBS=2 ONLY=parquet bash benches/ab.sh
#
# ROUNDS (default 8) rounds per encoding in ONLY (default parquet,gz), each running both
# builds, A first in odd rounds and B first in even ones; JOBS is `-j` (default 1). Prints
# the least and median wall and CPU (user + system) time of each, the medians' ratio B / A,
# and the rounds in which B's wall time was below A's. Stops when the outputs differ, unless
# ALLOW_DIFF=1 (for a change meant to alter them).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${A:?A=path to the first build}" "${B:?B=path to the second build}"
FLOWCOST=$A
source benches/world.sh
rounds=${ROUNDS:-8}
only=${ONLY:-parquet,gz}
jobs=${JOBS:-1}
env_b=()
[ -n "${ENV_B:-}" ] && read -r -a env_b <<< "$ENV_B"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "A $A, B $B${ENV_B:+ with $ENV_B}; $world; -j $jobs; $(nproc) cores; $(date -u '+%F %H:%M')"
run() { # A|B, encoding, stdout file, time file (appended)
    local which=$1 enc=$2 dst=$3 times=$4 bin=$A pre=()
    if [ "$which" = B ]; then
        bin=$B
        pre=(env "${env_b[@]}")
    fi
    /usr/bin/time -f "$which %e %U %S" -a -o "$times" \
        "${pre[@]}" "$bin" analyze -q -j "$jobs" --format json "${nat[@]}" "$world/$enc" > "$dst"
}
for enc in ${only//,/ }; do
    find "$world/$enc" -type f -exec cat {} + > /dev/null # into the page cache
    run A "$enc" "$out/a.json" /dev/null
    run B "$enc" "$out/b.json" /dev/null
    if ! cmp -s "$out/a.json" "$out/b.json"; then
        echo "$enc: the two builds' JSON differ" >&2
        [ "${ALLOW_DIFF:-}" = 1 ] || exit 1
    fi
    : > "$out/times"
    for r in $(seq "$rounds"); do
        if [ $((r % 2)) = 1 ]; then order="A B"; else order="B A"; fi
        for which in $order; do
            run "$which" "$enc" /dev/null "$out/times"
        done
    done
    echo "== $enc, $rounds rounds"
    python3 - "$out/times" <<'PY'
import statistics, sys
runs = {"A": [], "B": []}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 4 and p[0] in runs:
        runs[p[0]].append((float(p[1]), float(p[2]) + float(p[3])))
med = {}
for name, xs in runs.items():
    wall, cpu = zip(*xs)
    med[name] = (statistics.median(wall), statistics.median(cpu))
    print(f"  {name}  wall {min(wall):.3f} / {med[name][0]:.3f} s"
          f"   CPU {min(cpu):.3f} / {med[name][1]:.3f} s   (least / median)")
# rounds in order: the i-th run of each build belongs to round i
wins = sum(b[0] < a[0] for a, b in zip(runs["A"], runs["B"]))
print(f"  B / A, medians: wall {med['B'][0] / med['A'][0]:.3f}, CPU {med['B'][1] / med['A'][1]:.3f};"
      f" B faster in {wins} of {len(runs['A'])} rounds")
PY
done
