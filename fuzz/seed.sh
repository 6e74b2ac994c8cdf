#!/usr/bin/env bash
# Seed the fuzz corpora from the shipped sample data and, where it is beside the clone, the
# public samples in ../shared/data/flowlogs (gzip and Parquet files as they are, and text), and
# with flowcost's own outputs where a build is at hand (FLOWCOST, default target/release/flowcost).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$here/corpus/decode_any" "$here/corpus/parquet"
i=0
add() { i=$((i + 1)); cp "$1" "$2/seed-$i"; }
while IFS= read -r -d '' f; do
  add "$f" "$here/corpus/decode_any"
  case "$f" in *.parquet) add "$f" "$here/corpus/parquet" ;; esac
done < <(find "$here/../sample-data" -type f \( -name '*.gz' -o -name '*.parquet' \) -size -64k -print0)
shared="$here/../../shared/data/flowlogs"
if [ -d "$shared" ]; then
  while IFS= read -r -d '' f; do
    add "$f" "$here/corpus/decode_any"
    case "$f" in *.parquet) add "$f" "$here/corpus/parquet" ;; esac
  done < <(find "$shared" -type f ! -name '*.md' -size -256k -print0)
else
  echo "note: ../shared is absent; seeding from sample-data only" >&2
fi
# flowcost's own outputs of the sample data (every kind `report::own::recognise` knows), where a
# build is at hand: an input that starts as one of them is skipped, one that nearly does is a
# log, and the fuzzer mutates these across that line
flowcost="${FLOWCOST:-$here/../target/release/flowcost}"
if [ -x "$flowcost" ]; then
  own=$(mktemp -d)
  trap 'rm -rf "$own"' EXIT
  logs="$here/../sample-data/gz"
  for format in table json csv markdown; do
    "$flowcost" analyze -q --format "$format" "$logs" > "$own/analyze.$format" || true
    "$flowcost" compare -q --format "$format" --before "$logs" --after "$logs" > "$own/compare.$format" || true
  done
  "$flowcost" analyze -q --partial-out "$own/partial" "$logs" || true
  "$flowcost" report -q -d "$own/report" "$logs" > /dev/null || true
  while IFS= read -r -d '' f; do
    head -c 16384 "$f" > "$here/corpus/decode_any/seed-own-$i"
    i=$((i + 1))
  done < <(find "$own" -type f ! -name '*.svg' -size +0 -print0)
else
  echo "note: no flowcost build at $flowcost; seeding without its own outputs" >&2
fi
echo "seeded $i files" >&2
