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
# the sample data's Parquet rows in small pages and several row groups, by codec, with and
# without dictionaries (where Python has pyarrow): files whose row groups the target reads in
# windows cut inside pages
if python3 -c 'import pyarrow' 2> /dev/null; then
  python3 - "$here/../sample-data/parquet" "$here/corpus/parquet" <<'PY'
import glob, sys
import pyarrow as pa, pyarrow.parquet as pq
files = sorted(glob.glob(sys.argv[1] + '/**/*.parquet', recursive=True))[:80]
rows = pa.concat_tables([pq.read_table(f) for f in files]).slice(0, 400)
n = 0
for codec in ['gzip', 'snappy', 'zstd', 'lz4']:
    for page in [256, 4096]:
        for group in [150, 1000]:
            for dictionary in [True, False]:
                n += 1
                pq.write_table(rows, f'{sys.argv[2]}/seed-pages-{n}', compression=codec,
                               data_page_size=page, write_batch_size=30,
                               row_group_size=group, use_dictionary=dictionary)
PY
else
  echo "note: no pyarrow for python3; Parquet seeds of several pages and row groups not written" >&2
fi
# CloudWatch Logs subscription batches as Firehose writes them (plain, and each batch gzipped
# alone) and records written as JSON objects: the JSON readers' inputs
mkdir -p "$here/corpus/json"
line='2 111122223333 eni-0a1b2c3d4e5f60718 10.0.1.5 52.216.8.1 443 40000 6 10 5000 1788220800 1788220860 ACCEPT OK'
batch() {
  printf '{"messageType":"%s","owner":"111122223333","logGroup":"vpc","logStream":"eni-1-all","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1788220800000,"message":"%s"},{"id":"2","timestamp":1788220800000,"message":"x\\u0041\\"y"}]}' "$1" "$2"
}
{ batch DATA_MESSAGE "$line"; echo; batch CONTROL_MESSAGE "CWL CONTROL MESSAGE: Checking health of destination Firehose."; } > "$here/corpus/decode_any/seed-cwl-plain"
{ batch DATA_MESSAGE "$line" | gzip -c; batch DATA_MESSAGE "$line" | gzip -c; } > "$here/corpus/decode_any/seed-cwl-gzip"
record='"version":2,"account_id":111122223333,"interface_id":"eni-0a1b2c3d4e5f60718","srcaddr":"10.0.1.5","dstaddr":"52.216.8.1","bytes":5000,"start":"2026-09-01 00:00:00.000","end":1788220860,"action":"ACCEPT","log_status":"OK","vpc_id":null}'
printf '{%s\n{"message":"%s"}\n' "$record" "$line" > "$here/corpus/decode_any/seed-json-records"
printf '%s' "$record" > "$here/corpus/json/seed-record"
printf ' "message" : "%s" , "n": -1.5e3, "t": true }' "$line" > "$here/corpus/json/seed-message"
i=$((i + 5))
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
  # partial results as the `partial` target takes them: the header line and the body, without
  # the format line and the checksum (the target writes those); of the samples, and of small
  # generated worlds whose NAT clients make the timelines and the ECR estimate
  mkdir -p "$here/corpus/partial"
  for d in gz parquet; do
    "$flowcost" analyze -q --partial-out "$own/p-$d" "$here/../sample-data/$d" || true
  done
  "$flowcost" generate -o "$own/w1" --days 1 --tasks-per-day 12 --seed 4 --nat-only > /dev/null 2>&1 || true
  "$flowcost" generate -o "$own/w2" --days 1 --tasks-per-day 12 --seed 5 --address-reuse > /dev/null 2>&1 || true
  for w in w1 w2; do
    "$flowcost" analyze -q --partial-out "$own/p-$w" "$own/$w/gz" || true
  done
  for p in "$own"/p-*; do
    [ -s "$p" ] && tail -n +2 "$p" | head -c -32 > "$here/corpus/partial/seed-$(basename "$p")"
  done
  # the generated worlds' bills (CUR 2.0 as gzip CSV, plain CSV and Parquet) for `bill`
  mkdir -p "$here/corpus/bill"
  for w in w1 w2; do
    for f in "$own/$w"/cur/csv/*.csv.gz "$own/$w"/cur/parquet/*.parquet; do
      [ -f "$f" ] && cp "$f" "$here/corpus/bill/seed-$w-$(basename "$f")"
    done
    for f in "$own/$w"/cur/csv/*.csv.gz; do
      [ -f "$f" ] && gzip -dc "$f" > "$here/corpus/bill/seed-$w-$(basename "$f" .gz)"
    done
  done
  # the other JSON documents a user gives, for `documents`: the worlds' inventories and ECS
  # tasks, the built-in price table, and an excerpt of the ip-ranges document (a few prefixes of
  # each kind, S3's among them: the whole document is over the fuzzer's length bound)
  mkdir -p "$here/corpus/documents"
  for w in w1 w2; do
    for f in "$own/$w"/inventory/*.json "$own/$w"/ecs-tasks.json; do
      [ -f "$f" ] && cp "$f" "$here/corpus/documents/seed-$w-$(basename "$f")"
    done
  done
  cp "$here/../data/prices.json" "$here/corpus/documents/seed-prices.json"
  python3 - "$here/../sample-data/ip-ranges.json" > "$here/corpus/documents/seed-ip-ranges.json" <<'PY' || true
import json, sys
doc = json.load(open(sys.argv[1]))
pick = lambda ps: [p for p in ps if p["service"] == "S3"][:8] + ps[:24]
doc["prefixes"] = pick(doc["prefixes"])
doc["ipv6_prefixes"] = pick(doc["ipv6_prefixes"])
json.dump(doc, sys.stdout, indent=1)
PY
  rm -rf "$own/w1" "$own/w2" "$own"/p-*
  while IFS= read -r -d '' f; do
    head -c 16384 "$f" > "$here/corpus/decode_any/seed-own-$i"
    i=$((i + 1))
  done < <(find "$own" -type f ! -name '*.svg' -size +0 -print0)
else
  echo "note: no flowcost build at $flowcost; seeding without its own outputs" >&2
fi
echo "seeded $i files" >&2
