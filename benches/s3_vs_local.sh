#!/usr/bin/env bash
# End-to-end: the same generated world analysed from local disk and from a real S3-compatible
# server on loopback. Prints wall time, CPU time, peak RSS and records/s for each, and the
# S3/local throughput ratio.
#
#   bash benches/s3_vs_local.sh [DAYS] [TASKS_PER_DAY]
#
# The server is moto (PyPI, started by .ci/s3-server), or with S3S_FS=/path/to/s3s-fs the
# Rust server s3s-fs (`cargo install s3s-fs@0.14.1 --features binary`), which serves a folder.
# With PIN=1 the server runs on core 1 and flowcost (both runs) on core 0, so that the client's
# own cost is measured rather than the server's share of a small machine.
#
# Needs: cargo, python3 (for moto and the arithmetic), GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
days=${1:-2}
tasks=${2:-1500}
cargo build --release -q
bin=target/release/flowcost
work=$(mktemp -d)
trap 'rm -rf "$work"; [ -n "${FLOWCOST_S3_PID:-}" ] && kill "$FLOWCOST_S3_PID" 2>/dev/null || true' EXIT
$bin generate -o "$work/w" --days "$days" --tasks-per-day "$tasks" --encoding gz --seed 7 >&2
if [ -n "${S3S_FS:-}" ]; then
  mkdir -p "$work/s3root/bench" && cp -r "$work/w/gz/." "$work/s3root/bench/"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  ${PIN:+taskset -c 1} "$S3S_FS" --host 127.0.0.1 --port "$port" --access-key test --secret-key test "$work/s3root" >"$work/s3s.log" 2>&1 &
  FLOWCOST_S3_PID=$!
  export FLOWCOST_TEST_S3="http://127.0.0.1:$port"
  sleep 1
  server="s3s-fs"
else
  s3env=$(bash .ci/s3-server); eval "$s3env"
  server="moto"
  .ci/venv/bin/python - "$work/w/gz" <<'PY'
import boto3, os, sys
from concurrent.futures import ThreadPoolExecutor
root = sys.argv[1]
s3 = boto3.client("s3", endpoint_url=os.environ["FLOWCOST_TEST_S3"])
s3.create_bucket(Bucket="bench")
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
with ThreadPoolExecutor(16) as ex:
    list(ex.map(lambda p: s3.upload_file(p, "bench", os.path.relpath(p, root)), paths))
print(f"uploaded {len(paths)} objects", file=sys.stderr)
PY
fi
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
run() { # label, args...
  local label=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$work/$label.time" ${PIN:+taskset -c 0} $bin analyze -q --format json "$@" > "$work/$label.json"
  python3 - "$work" "$label" <<'PY'
import json, sys
w, label = sys.argv[1:]
wall, user, sys_, rss = (float(x) for x in open(f"{w}/{label}.time").read().split())
lines = json.load(open(f"{w}/{label}.json"))["analysis"]["quality"]["lines"]["lines"]
print(f"{label:<6} wall {wall:6.2f} s  cpu {user + sys_:6.2f} s  peak RSS {rss / 1024:6.1f} MB  {lines / wall:10.0f} records/s")
open(f"{w}/{label}.wall", "w").write(str(wall))
PY
}
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F)"
echo "server: $server"
echo "world: $days days x $tasks tasks/day, $(find "$work/w/gz" -type f | wc -l) objects, $(du -sh --apparent-size "$work/w/gz" | cut -f1)"
run local "$work/w/gz"
run s3 --endpoint-url "$FLOWCOST_TEST_S3" --path-style s3://bench/
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
a, b = (json.load(open(f"{w}/{n}.json"))["analysis"] for n in ("local", "s3"))
same = a["classes"] == b["classes"] and a["quality"]["lines"] == b["quality"]["lines"]
lw, sw = (float(open(f"{w}/{n}.wall").read()) for n in ("local", "s3"))
print(f"same answer: {same}; S3 throughput / local throughput = {lw / sw:.2f}")
PY
