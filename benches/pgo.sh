#!/usr/bin/env bash
# A profile-guided build of flowcost: the release binary built once with instrumentation, run
# on a generated training world (not the benchmarks' world: another seed and length), and
# built again with the profile it wrote, so that the compiler lays out the hot loops, inlines
# and orders branches as the runs took them. The plain `cargo build --release` is unchanged;
# this is how a release binary for users would be built. BENCHMARKS.md has what it gains.
#
#   rustup component add llvm-tools          # once: llvm-profdata of the toolchain's LLVM
#   bash benches/pgo.sh                      # prints the path of the optimised binary
#   A=target/release/flowcost B=$(bash benches/pgo.sh | tail -1) bash benches/ab.sh
#
# Target directories: target/pgo-gen (instrumented) and target/pgo (optimised), each a full
# release build of every crate (about ten minutes each on two cores), or PGO_TARGET to put
# both elsewhere. The training world is kept under target/pgo-train.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${PGO_TARGET:-$PWD/target}
host=$(rustc -vV | sed -n 's/^host: //p')
profdata=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
[ -x "$profdata" ] || { echo "no $profdata: run 'rustup component add llvm-tools'" >&2; exit 2; }
raw=$root/pgo-raw

echo "pgo: instrumented build (target $root/pgo-gen)" >&2
RUSTFLAGS="-Cprofile-generate=$raw" CARGO_TARGET_DIR=$root/pgo-gen \
    cargo build --release -q --bin flowcost
gen=$root/pgo-gen/release/flowcost

train=$root/pgo-train
if [ ! -f "$train/truth.json" ]; then
    echo "pgo: training world (1 day, seed 7) under $train" >&2
    "$gen" generate -o "$train" --days 1 --tasks-per-day 12500 --seed 7 --fields v5 \
        --encoding gz --encoding parquet 2> /dev/null
fi
rm -rf "$raw" && mkdir -p "$raw" # the build scripts' and the generator's runs are not the analysis's
nat=()
for e in $(python3 -c 'import json,sys; print(" ".join(json.load(open(sys.argv[1]))["nat_enis"]))' "$train/truth.json"); do
    nat+=(--nat-eni "$e")
done

inv=()
for f in "$train"/inventory/*.json; do inv+=(--inventory "$f"); done
echo "pgo: training runs" >&2
for enc in parquet gz; do
    "$gen" analyze -q -j 2 --format json "${nat[@]}" "$train/$enc" > /dev/null
    "$gen" analyze -q -j 1 --cur "$train/cur/csv" "${inv[@]}" "$train/$enc" > /dev/null
done

"$profdata" merge -o "$root/pgo.profdata" "$raw"
# cargo fingerprints the flags, not the profile they name: a profile named by its own hash
# makes a new profile rebuild every crate, and the same one rebuild none
sum=$(sha256sum "$root/pgo.profdata" | cut -c1-16)
rm -f "$root"/pgo-*.profdata
mv "$root/pgo.profdata" "$root/pgo-$sum.profdata"
echo "pgo: optimised build (target $root/pgo, profile $root/pgo-$sum.profdata)" >&2
RUSTFLAGS="-Cprofile-use=$root/pgo-$sum.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
    CARGO_TARGET_DIR=$root/pgo cargo build --release -q --bin flowcost
echo "$root/pgo/release/flowcost"
