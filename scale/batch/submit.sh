#!/bin/sh
# Submit N flowcost shards as one AWS Batch array job and the merge after it.
# NOT TESTED in flowcost's CI (it needs an AWS account); see README, "Scale-out".
#   submit.sh QUEUE N s3://flow-logs-bucket/ 2026-09 s3://reports-bucket/flowcost
set -eu
queue=$1; n=$2; inputs=$3; month=$4; out=$5
run_url="$out/partials/$month-$(date -u +%Y%m%dT%H%M%S)"
params="run_url=$run_url,shards=$n,inputs=$inputs,month=$month"
shards=$(aws batch submit-job --job-name "flowcost-$month" --job-queue "$queue" \
  --job-definition flowcost-shard --array-properties "size=$n" \
  --parameters "$params" --query jobId --output text)
# the merge runs once every child of the array job has succeeded
aws batch submit-job --job-name "flowcost-$month-merge" --job-queue "$queue" \
  --job-definition flowcost-merge --depends-on "jobId=$shards" \
  --parameters "run_url=$run_url,shards=$n,report_url=$out/$month.json" --query jobId --output text
