#!/bin/sh
# The merge step after every shard is done: fetch the partials, merge, upload the report.
#   merge.sh RUN_URL N REPORT_URL [MERGE_ARGS...]
set -eu
run_url=$1; n=$2; report_url=$3; shift 3
dir=$(mktemp -d)
aws s3 cp --only-show-errors --recursive "$run_url/" "$dir/"
got=$(ls "$dir"/part-*.fcp | wc -l)
[ "$got" -eq "$n" ] || { echo "flowcost merge: $got of $n partials in $run_url" >&2; exit 5; }
code=0
flowcost merge -q --format json -o "$dir/report.json" "$@" "$dir"/part-*.fcp || code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 7 ] || exit "$code"
aws s3 cp --only-show-errors "$dir/report.json" "$report_url"
exit "$code"
