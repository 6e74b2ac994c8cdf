#!/bin/sh
# One shard of a scaled-out flowcost run, for AWS Batch array jobs and Kubernetes Indexed
# Jobs: reads its share of the inputs and uploads its partial file.
#   shard.sh RUN_URL N -- ANALYZE_ARGS...
# RUN_URL: an s3:// folder for this run's partials; N: the number of shards. The shard index
# comes from AWS_BATCH_JOB_ARRAY_INDEX (Batch) or JOB_COMPLETION_INDEX (Kubernetes).
set -eu
run_url=$1; n=$2; shift 2; [ "${1:-}" = "--" ] && shift
k=${AWS_BATCH_JOB_ARRAY_INDEX:-${JOB_COMPLETION_INDEX:?no shard index in the environment}}
part=$(mktemp -d)/part.fcp
# exit 7 (written, some input not read in full) still uploads: the merged report says so
code=0
flowcost analyze -q "$@" --shard "$k/$n" --partial-out "$part" || code=$?
[ "$code" -eq 0 ] || [ "$code" -eq 7 ] || exit "$code"
aws s3 cp --only-show-errors "$part" "$run_url/part-$(printf %05d "$k").fcp"
