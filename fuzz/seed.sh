#!/usr/bin/env bash
# Seed the fuzz corpora from the shipped sample data and, where it is beside the clone, the
# public samples in ../shared/data/flowlogs (gzip and Parquet files as they are, and text).
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
echo "seeded $i files" >&2
