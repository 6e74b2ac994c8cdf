#!/usr/bin/env python3
"""Run flowcost on Spark: N shards of one analysis as N Spark tasks, then one merge.

Each task runs `flowcost analyze ... --shard K/N --partial-out FILE` on an executor and hands
the partial file's bytes back to the driver (partials are small: they grow with ENIs and
days, not with records), which writes them to a local folder and runs `flowcost merge`. The
merged report is byte for byte the one a single `flowcost analyze` over all the inputs writes.

Every executor needs the flowcost binary (the same version as the driver's) at --flowcost and
access to the inputs (an s3:// prefix with the executors' credentials, or a path they all
mount). Nothing else is shared: shards list S3 themselves and pick their inputs by a stable hash.

    spark-submit flowcost_spark.py --shards 64 --flowcost /opt/flowcost/flowcost \\
        --out september.json -- s3://my-flow-logs-bucket/ --month 2026-09 --format json

Locally (tests, a laptop): `python3 flowcost_spark.py --master local[2] ...`.
Exit status: flowcost merge's (0 complete, 7 incomplete inputs, ...); a shard that fails
otherwise stops the job with its stderr.
"""

import argparse
import os
import subprocess
import sys
import tempfile

OUTPUT_FLAGS = {"--format", "--output", "-o"}


def split_output_flags(args):
    """The analyze arguments without the output flags, and the output flags for merge."""
    rest, out = [], []
    i = 0
    while i < len(args):
        a = args[i]
        name = a.split("=", 1)[0]
        if name in OUTPUT_FLAGS:
            if "=" in a:
                out.append(a)
            else:
                out.extend(args[i : i + 2])
                i += 1
        else:
            rest.append(a)
        i += 1
    return rest, out


def run_shard(flowcost, analyze_args, k, n):
    """On an executor: one shard's partial file, as bytes (or the failure)."""
    with tempfile.TemporaryDirectory(prefix="flowcost-shard-") as d:
        part = os.path.join(d, "part.fcp")
        cmd = [flowcost, "analyze", "-q", *analyze_args, "--shard", f"{k}/{n}", "--partial-out", part]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # 0: complete; 7: written, some input not read in full (merge reports it)
        if r.returncode not in (0, 7):
            return (k, r.returncode, r.stderr.decode("utf-8", "replace")[-4000:], None)
        with open(part, "rb") as f:
            return (k, r.returncode, r.stderr.decode("utf-8", "replace")[-4000:], f.read())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shards", type=int, required=True, help="number of shards (Spark tasks)")
    p.add_argument("--flowcost", default="flowcost", help="the flowcost binary on every node")
    p.add_argument("--master", help="Spark master (default: spark-submit's)")
    p.add_argument("--out", help="write the merged report here (default: standard output)")
    p.add_argument("--keep-partials", help="keep the partial files in this folder")
    p.add_argument("analyze_args", nargs=argparse.REMAINDER, help="-- then analyze's inputs and flags")
    a = p.parse_args()
    args = a.analyze_args[1:] if a.analyze_args[:1] == ["--"] else a.analyze_args
    if a.shards < 1:
        p.error("--shards must be at least 1")
    analyze_args, output_flags = split_output_flags(args)

    from pyspark.sql import SparkSession

    b = SparkSession.builder.appName("flowcost")
    if a.master:
        b = b.master(a.master)
        if a.master.startswith("local"):
            b = (
                b.config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.driver.host", "127.0.0.1")
            )
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    flowcost, n = a.flowcost, a.shards
    results = (
        spark.sparkContext.parallelize(range(n), n)
        .map(lambda k: run_shard(flowcost, analyze_args, k, n))
        .collect()
    )
    spark.stop()
    failed = [r for r in results if r[3] is None]
    for k, code, err, _ in failed:
        sys.stderr.write(f"flowcost_spark: shard {k}/{n} failed (exit {code}):\n{err}\n")
    if failed:
        return 1
    folder = a.keep_partials or tempfile.mkdtemp(prefix="flowcost-partials-")
    os.makedirs(folder, exist_ok=True)
    paths = []
    for k, _, _, data in sorted(results):
        path = os.path.join(folder, f"part-{k:05d}.fcp")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
    cmd = [flowcost, "merge", "-q", *output_flags, *paths]
    if a.out:
        cmd += ["--output", a.out]
    r = subprocess.run(cmd)
    if not a.keep_partials:
        for path in paths:
            os.remove(path)
        os.rmdir(folder)
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
