#!/usr/bin/env bash
# End-to-end benchmark: flowcost against polars, DuckDB and the hardware floor, on the same
# generated world as v5 gzip text, v2 gzip text and Parquet. Prints wall time, CPU time, peak
# RSS and records/s of each, the ratios, and whether the peers' totals equal flowcost's.
#
#   bash benches/e2e.sh                 # ~10M records: 3 days x 12,500 task starts
#   DAYS=12 bash benches/e2e.sh         # 4x the data (for the memory bound)
#   ONLY=v5 bash benches/e2e.sh         # one of v5, v2, parquet, zstd (the Parquet files
#       written again by pyarrow with ZSTD, polars' default codec)
#   FLOWCOST=path/to/flowcost VENV=dir bash benches/e2e.sh   # a build and a venv of your own
#   ROUNDS=5 ONLY=parquet PEERS=polars bash benches/e2e.sh   # five rounds, the tools taking
#       turns in each; the table shows each tool's fastest run, then every round's ratios (on
#       a machine whose speed drifts, the rounds say more than one run)
#   PEERS=polars,polars-core bash benches/e2e.sh   # peers to run (default polars,duckdb);
#       polars-core: polars doing the core of flowcost's per-record work (see peers.py);
#       polars-read: polars reading the columns flowcost reads, computing nothing
#
# Worlds are generated once under target/bench-e2e/ (delete it to regenerate); the peers are
# installed from PyPI into target/bench-venv/ and Debian's libdeflate-tools is installed if
# libdeflate-gunzip is missing. Every tool reads the files from the page cache (warmed first).
# Peers' times are of the query alone (after Python and the library are loaded); flowcost's
# are of the whole process.
set -euo pipefail
cd "$(dirname "$0")/.."
days=${DAYS:-3}
tasks=${TASKS:-12500}
seed=${SEED:-11}
only=${ONLY:-v5,v2,parquet}
PEERS=${PEERS:-polars,duckdb}
work=target/bench-e2e/d${days}-t${tasks}-s${seed}
results=$(mktemp -d)
all=$results
trap 'rm -rf "$all"' EXIT

if [ -z "${FLOWCOST:-}" ]; then
    cargo build --release -q
    FLOWCOST=target/release/flowcost
fi
bin=$FLOWCOST
venv=${VENV:-target/bench-venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q polars==2.1.0 duckdb==2.0.1 pyarrow==26.0.1
fi
py="$venv/bin/python"
if ! command -v libdeflate-gunzip >/dev/null; then
    ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y -q libdeflate-tools >&2
fi

if [ ! -d "$work/v5" ]; then
    $bin generate -o "$work/v5" --days "$days" --tasks-per-day "$tasks" --seed "$seed" \
        --fields v5 --encoding gz --encoding parquet >&2
fi
if [ ! -d "$work/v2" ]; then
    $bin generate -o "$work/v2" --days "$days" --tasks-per-day "$tasks" --seed "$seed" \
        --fields v2 --encoding gz >&2
fi
truth="$work/v5/truth.json"
enis=$($py -c 'import json,sys; print(",".join(json.load(open(sys.argv[1]))["nat_enis"]))' "$truth")
region=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["region"])' "$truth")
ranges=sample-data/ip-ranges.json

echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F)"
echo "flowcost $(git rev-parse --short HEAD 2>/dev/null || echo '?'); polars 2.1.0, duckdb 2.0.1, pyarrow 26.0.1, $(libdeflate-gunzip -V 2>&1 | head -1)"
echo "world: $work ($(du -sh "$work/v5/gz" | cut -f1) gzip v5, $(du -sh "$work/v2/gz" | cut -f1) gzip v2, $(du -sh "$work/v5/parquet" | cut -f1) Parquet)"

timed() { # label, outfile-of-stdout, command...
    local t=$1 out=$2; shift 2
    /usr/bin/time -f "%e %U %S %M" -o "$t" "$@" > "$out"
}

flowcost_runs() { # group, input folder
    local g=$1 dir=$2
    # The NAT ENIs are given, as to the peers (v2 logs cannot show address translation).
    local nat=()
    for e in ${enis//,/ }; do nat+=(--nat-eni "$e"); done
    timed "$results/t" "$results/r.json" $bin analyze -q --format json "${nat[@]}" "$dir"
    $py benches/peers.py from-time "flowcost" "$results/t" "$results/r.json" "$results/$g.flowcost.json"
    timed "$results/t" "$results/r.json" $bin analyze -q -j 1 --format json "${nat[@]}" "$dir"
    $py benches/peers.py from-time "flowcost -j1" "$results/t" "$results/r.json" "$results/$g.flowcost-j1.json"
}

peer_runs() { # group, kind, input folder
    local g=$1 kind=$2 dir=$3
    for p in ${PEERS//,/ }; do
        [ "$p" = polars-core ] && [ "$g" = v2 ] && continue   # v2 has no pkt-* or names
        $py benches/peers.py "$p" "$kind" "$dir" "$enis" "$region" "$ranges" "$results/$g.$p.json"
    done
}

gz_floor() { # group, input folder
    local g=$1 dir=$2
    find "$dir" -name '*.log.gz' -print0 > "$results/list"
    /usr/bin/time -f "%e %U %S %M" -o "$results/t" \
        xargs -0 -P "$(nproc)" -n 32 libdeflate-gunzip -c < "$results/list" > /dev/null
    $py benches/peers.py from-floor "floor (libdeflate-gunzip)" "$results/t" "$results/$g.floor.json"
}

rounds=${ROUNDS:-1}
[ "$rounds" -ge 1 ] || { echo "ROUNDS must be 1 or more" >&2; exit 2; }
round_dirs=()
for ((i = 1; i <= rounds; i++)); do
    results="$all/round$i"
    mkdir -p "$results"
    round_dirs+=("$results")
    for g in ${only//,/ }; do
        case $g in
            v5) dir="$work/v5/gz"; kind=text ;;
            v2) dir="$work/v2/gz"; kind=text ;;
            parquet) dir="$work/v5/parquet"; kind=parquet ;;
            zstd) dir="$work/v5/parquet-zstd"; kind=parquet
                [ -d "$dir" ] || $py benches/peers.py recodec "$work/v5/parquet" "$dir" zstd ;;
            *) echo "unknown group $g" >&2; exit 2 ;;
        esac
        find "$dir" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache
        flowcost_runs "$g" "$dir"
        peer_runs "$g" "$kind" "$dir"
        if [ "$kind" = text ]; then
            gz_floor "$g" "$dir"
        else
            $py benches/peers.py arrow-floor parquet "$dir" "$enis" "$region" "$ranges" "$results/$g.floor.json"
        fi
    done
done
[ "$rounds" -gt 1 ] && echo "rounds: $rounds (each tool's fastest run below, then every round's)"
$py benches/peers.py best "$all" "${round_dirs[@]}"
$py benches/peers.py summary "$all" "$only"
