"""The peers of benches/e2e.sh: the same question answered with polars or DuckDB, and the
hardware floor for Parquet (the fastest read of the needed columns with pyarrow).

    python peers.py {polars,polars-core,polars-read,duckdb,arrow-floor} {text,parquet} ROOT NAT_ENIS REGION IP_RANGES OUT

The query: records of the NAT ENIs (ACCEPT, OK), the public leg (one side private, the other
public), bytes summed per remote address; then the distinct remotes are classified against
the same ip-ranges.json as flowcost (written here independently: longest prefix wins; for one
prefix S3 beats DYNAMODB beats other services beats AMAZON; S3/DynamoDB count as `s3`/`dynamodb`
only in the NAT's region, S3 elsewhere or GLOBAL is `s3-other-region`). Writes OUT as JSON:
seconds (query only: wall, and CPU from getrusage), per-class bytes, rows.
"""

import ipaddress
import json
import os
import resource
import sys
import time

PRIVATE = (
    r"^(10\.|192\.168\.|172\.(1[6-9]|2[0-9]|3[01])\.|100\.(6[4-9]|[7-9][0-9]|1[01][0-9]|12[0-7])\.|f[cd]|fe[89ab])"
)


def files_under(root, suffix):
    out = []
    for d, _, fs in os.walk(root):
        out.extend(os.path.join(d, f) for f in fs if f.endswith(suffix))
    return sorted(out)


def classifier(path, region):
    doc = json.load(open(path))
    rank = {"S3": 0, "DYNAMODB": 1, "AMAZON": 3}
    by_len = {}  # (version, prefix length) -> {network int: (rank, service, region)}
    for p in doc["prefixes"] + doc.get("ipv6_prefixes", []):
        net = ipaddress.ip_network(p.get("ip_prefix") or p["ipv6_prefix"], strict=False)
        key = (net.version, net.prefixlen)
        r = (rank.get(p["service"], 2), p["service"], p["region"])
        table = by_len.setdefault(key, {})
        cur = table.get(int(net.network_address))
        if cur is None or r < cur:
            table[int(net.network_address)] = r
    lengths = {4: sorted({l for v, l in by_len if v == 4}, reverse=True),
               6: sorted({l for v, l in by_len if v == 6}, reverse=True)}

    def classify(addr):
        ip = ipaddress.ip_address(addr)
        bits = 32 if ip.version == 4 else 128
        n = int(ip)
        for l in lengths[ip.version]:
            masked = n >> (bits - l) << (bits - l)
            hit = by_len[(ip.version, l)].get(masked)
            if hit:
                _, service, reg = hit
                if service == "S3":
                    return "s3" if reg == region else "s3-other-region"
                if service == "DYNAMODB" and reg == region:
                    return "dynamodb"
                return "aws-other"
        return "internet"

    return classify


def polars_query(kind, files, enis):
    import polars as pl

    if kind == "text":
        lf = pl.scan_csv(
            files,
            separator=" ",
            null_values=["-"],
            schema_overrides={"bytes": pl.Int64},
            infer_schema_length=0,
        ).rename({"interface-id": "interface_id", "log-status": "log_status"})
    else:
        lf = pl.scan_parquet(files)
    lf = lf.select("interface_id", "srcaddr", "dstaddr", "bytes", "action", "log_status")
    priv = lambda c: pl.col(c).str.contains(PRIVATE)
    q = (
        lf.filter(
            pl.col("interface_id").is_in(enis)
            & (pl.col("action") == "ACCEPT")
            & (pl.col("log_status") == "OK")
        )
        .with_columns(
            remote=pl.when(priv("srcaddr")).then(pl.col("dstaddr")).otherwise(pl.col("srcaddr")),
            both_private=priv("srcaddr") & priv("dstaddr"),
        )
        .filter(~pl.col("both_private"))
        .group_by("remote")
        .agg(pl.col("bytes").cast(pl.Int64).sum())
    )
    df = q.collect()
    return list(zip(df["remote"].to_list(), df["bytes"].to_list()))


# The flow-log fields flowcost's engine reads (`ENGINE_FIELDS` in src/format/fields.rs; the
# others are skipped unparsed, their Parquet columns not read); a file holds some of them.
FLOWCOST_FIELDS = [
    "interface-id", "srcaddr", "dstaddr", "bytes", "start", "end", "action", "log-status",
    "vpc-id", "subnet-id", "pkt-srcaddr", "pkt-dstaddr", "region", "az-id", "traffic-path",
    "ecs-cluster-name", "ecs-service-name", "ecs-task-id",
]


def polars_read(kind, files):
    """polars reading, into memory, the columns of the files that flowcost reads, and
    computing nothing: what reading alone costs polars for flowcost's question (the NAT-totals
    query reads six of them). Returns the rows and the columns read."""
    import polars as pl

    if kind == "text":
        lf = pl.scan_csv(files, separator=" ", null_values=["-"], infer_schema_length=0)
        names = lf.collect_schema().names()
        cols = [c for c in names if c in FLOWCOST_FIELDS]
    else:
        lf = pl.scan_parquet(files)
        names = lf.collect_schema().names()
        cols = [c for c in names if c.replace("_", "-") in FLOWCOST_FIELDS]
    return lf.select(cols).collect().height, len(cols)


def polars_core(kind, files, enis, classify):
    """The core of what flowcost computes from every record, not only the NAT's totals: per
    ENI its records, time span, rejected bytes and least names; per ENI, day, class and
    direction the bytes of its legs with one private end; per NAT client (a translated private
    leg: both ends private, a public `pkt-*` address) its bytes by class and direction.
    flowcost computes more than this (sessions, openings, pull windows, local addresses,
    evidence for detection), so this is a lower bound of equal work. Returns the NAT ENIs'
    public-leg bytes per remote, as `polars_query` does, so the totals can be compared."""
    import polars as pl

    cols = ["interface_id", "srcaddr", "dstaddr", "pkt_srcaddr", "pkt_dstaddr", "bytes", "start",
            "end", "action", "log_status", "vpc_id", "subnet_id", "az_id", "region"]
    if kind == "text":
        lf = pl.scan_csv(files, separator=" ", null_values=["-"], infer_schema_length=0,
                         schema_overrides={"bytes": pl.Int64, "start": pl.Int64, "end": pl.Int64})
        lf = lf.rename({c.replace("_", "-"): c for c in cols if "_" in c})
    else:
        lf = pl.scan_parquet(files)
    ok = lf.select(cols).filter(pl.col("log_status") == "OK")
    priv = lambda c: pl.col(c).str.contains(PRIVATE)
    sp, dp = priv("srcaddr"), priv("dstaddr")
    pd_pub = (pl.col("pkt_dstaddr") != pl.col("dstaddr")) & ~priv("pkt_dstaddr")
    ps_pub = (pl.col("pkt_srcaddr") != pl.col("srcaddr")) & ~priv("pkt_srcaddr")
    up, down = sp & dp & pd_pub.fill_null(False), sp & dp & ps_pub.fill_null(False)
    legs = (
        ok.filter(pl.col("action") == "ACCEPT")
        .with_columns(
            day=pl.col("start") // 86400,
            translated=up | down,
            remote=pl.when(up).then(pl.col("pkt_dstaddr")).when(down).then(pl.col("pkt_srcaddr"))
            .when(sp).then(pl.col("dstaddr")).otherwise(pl.col("srcaddr")),
            client=pl.when(up).then(pl.col("srcaddr")).when(down).then(pl.col("dstaddr")),
            upload=up | (~down & sp),
        )
        .filter(pl.col("translated") | (sp ^ dp))
    )
    cells = legs.group_by("interface_id", "day", "translated", "remote", "upload").agg(
        pl.col("bytes").sum())
    clients = legs.filter(pl.col("translated")).group_by(
        "interface_id", "client", "remote", "upload").agg(pl.col("bytes").sum())
    per_eni = ok.group_by("interface_id").agg(
        records=pl.len(), first=pl.col("start").min(), last=pl.col("end").max(),
        reject_bytes=pl.col("bytes").filter(pl.col("action") == "REJECT").sum(),
        vpc=pl.col("vpc_id").min(), subnet=pl.col("subnet_id").min(), az=pl.col("az_id").min(),
        region=pl.col("region").min())
    t0 = time.perf_counter()
    cells, clients, per_eni = pl.collect_all([cells, clients, per_eni])
    t1 = time.perf_counter()
    # classify each distinct remote once, then sum the cells and clients by class
    remotes = pl.concat([cells["remote"], clients["remote"]]).unique()
    classes = pl.DataFrame({"remote": remotes, "class": [classify(r) for r in remotes.to_list()]})
    cells = cells.join(classes, on="remote").group_by(
        "interface_id", "day", "translated", "class", "upload").agg(pl.col("bytes").sum())
    clients = clients.join(classes, on="remote").group_by(
        "interface_id", "client", "class", "upload").agg(pl.col("bytes").sum())
    nat = cells.filter(pl.col("interface_id").is_in(enis) & ~pl.col("translated"))
    nat = nat.group_by("class").agg(pl.col("bytes").sum())
    return list(zip(nat["class"].to_list(), nat["bytes"].to_list())), {
        "enis": per_eni.height, "cells": cells.height, "client_cells": clients.height,
        "remotes": remotes.len(), "query_s": t1 - t0, "classify_s": time.perf_counter() - t1}


def duckdb_query(kind, files, enis):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    flist = "[" + ",".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    if kind == "text":
        src = (
            f"read_csv({flist}, delim=' ', header=true, nullstr='-', compression='gzip', "
            "columns={" + COLUMNS_TEXT + "})"
        )
        iface, status = '"interface-id"', '"log-status"'
    else:
        src = f"read_parquet({flist})"
        iface, status = "interface_id", "log_status"
    enilist = ",".join(f"'{e}'" for e in enis)
    sql = f"""
      WITH legs AS (
        SELECT CASE WHEN regexp_matches(srcaddr, '{PRIVATE}') THEN dstaddr ELSE srcaddr END AS remote,
               regexp_matches(srcaddr, '{PRIVATE}') AND regexp_matches(dstaddr, '{PRIVATE}') AS both_private,
               CAST(bytes AS BIGINT) AS bytes
        FROM {src}
        WHERE {iface} IN ({enilist}) AND action = 'ACCEPT' AND {status} = 'OK')
      SELECT remote, SUM(bytes) FROM legs WHERE NOT both_private GROUP BY remote"""
    return con.execute(sql).fetchall()


COLUMNS_TEXT = ""  # filled from the header of the first file (all files share it)


def arrow_floor(kind, files):
    import pyarrow.dataset as ds

    cols = ["interface_id", "srcaddr", "dstaddr", "bytes", "action", "log_status"]
    rows = 0
    for b in ds.dataset(files, format="parquet").to_batches(columns=cols, use_threads=True):
        rows += b.num_rows
    return rows


def from_time(label, timefile, report, out):
    """A flowcost run as a result: GNU time's `%e %U %S %M` and the JSON report."""
    wall, user, sys_, rss = (float(x) for x in open(timefile).read().split())
    r = json.load(open(report))
    a = r["analysis"]
    classes = {k: v["upload"] + v["download"] for k, v in a["classes"].items()}
    classes = {k.replace("_", "-"): v for k, v in classes.items() if v}
    lines = a["quality"]["lines"]
    json.dump(
        {"tool": label, "wall": wall, "cpu": user + sys_, "peak_rss_kb": rss, "classes": classes,
         "records": lines["lines"] - lines["headers"] - lines["blank"]},
        open(out, "w"),
    )


def from_floor(label, timefile, out):
    wall, user, sys_, rss = (float(x) for x in open(timefile).read().split())
    json.dump({"tool": label, "wall": wall, "cpu": user + sys_, "peak_rss_kb": rss}, open(out, "w"))


def best(out_dir, round_dirs):
    """Of each tool's runs in the rounds' folders, keep the fastest (least wall time) in
    `out_dir`, with every round's wall and CPU time beside it."""
    # (a group's results are named `<group>.<tool>.json`; the folders hold scratch files too)
    names = sorted({n for d in round_dirs for n in os.listdir(d)
                    if n.endswith(".json") and n.count(".") >= 2})
    for name in names:
        runs = [json.load(open(os.path.join(d, name))) for d in round_dirs
                if os.path.exists(os.path.join(d, name))]
        pick = dict(min(runs, key=lambda r: r["wall"]))
        pick["walls"] = [r["wall"] for r in runs]
        pick["cpus"] = [r["cpu"] for r in runs]
        json.dump(pick, open(os.path.join(out_dir, name), "w"))


def summary(results_dir, groups):
    """Print one table per input kind, the ratios, and whether the totals agree."""
    ok = True
    for group in groups.split(","):
        rows = []
        for name in sorted(os.listdir(results_dir)):
            if name.startswith(group + ".") and name.endswith(".json"):
                rows.append(json.load(open(os.path.join(results_dir, name))))
        if not rows:
            continue
        order = ["flowcost", "flowcost -j1", "polars", "duckdb", "floor"]
        rows.sort(key=lambda r: next((i for i, o in enumerate(order) if r["tool"] == o or r["tool"].startswith(o + " (")), 9))
        records = next(r["records"] for r in rows if "records" in r)
        fc = next(r for r in rows if r["tool"] == "flowcost")
        print(f"\n{group}: {records:,} records")
        print(f"  {'tool':<26}{'wall s':>8}{'cpu s':>8}{'peak RSS MB':>13}{'records/s':>14}{'flowcost faster by':>20}")
        for r in rows:
            ratio = r["wall"] / fc["wall"]
            print(f"  {r['tool']:<26}{r['wall']:8.2f}{r['cpu']:8.2f}{r['peak_rss_kb'] / 1024:13.1f}"
                  f"{records / r['wall']:14,.0f}{ratio:19.2f}x")
        if len(fc.get("walls", [])) > 1:
            # each round's ratio against flowcost's run of the same round
            for r in rows:
                if r is not fc and len(r.get("walls", [])) == len(fc["walls"]):
                    per = ", ".join(f"{w / f:.2f}" for w, f in zip(r["walls"], fc["walls"]))
                    cpu = ", ".join(f"{c:.2f}" for c in r["cpus"])
                    print(f"  rounds, {r['tool']}: wall / flowcost's {per}; CPU s {cpu}")
            print(f"  rounds, flowcost: wall s {', '.join(f'{w:.2f}' for w in fc['walls'])}; "
                  f"CPU s {', '.join(f'{c:.2f}' for c in fc['cpus'])}")
        one = next((r for r in rows if r["tool"] == "flowcost -j1"), None)
        if one:
            print(f"  two threads vs one: {one['wall'] / fc['wall']:.2f}x")
        floor = next((r for r in rows if r["tool"].startswith("floor")), None)
        if floor:
            print(f"  flowcost / floor: {fc['wall'] / floor['wall']:.2f}x the floor's wall time")
        for r in rows:
            if "classes" in r and r is not fc:
                same = r["classes"] == fc["classes"]
                ok &= same
                print(f"  totals {r['tool']}: {'same as flowcost' if same else 'DIFFER: ' + json.dumps(r['classes']) + ' vs ' + json.dumps(fc['classes'])}")
    return ok


def recodec(src, dst, codec):
    """Every Parquet file under `src` written again under `dst` (same relative path, rows,
    row groups and dictionaries) with `codec` (pyarrow's name: zstd, lz4, snappy, ...)."""
    import pyarrow.parquet as pq

    files = files_under(src, ".parquet")
    for f in files:
        out = os.path.join(dst, os.path.relpath(f, src))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        pf = pq.ParquetFile(f)
        group = pf.metadata.row_group(0).num_rows if pf.metadata.num_row_groups else None
        pq.write_table(pf.read(), out, compression=codec, row_group_size=group)
    print(f"{len(files)} files written with {codec} under {dst}", file=sys.stderr)


def main():
    global COLUMNS_TEXT
    if sys.argv[1] == "recodec":
        return recodec(*sys.argv[2:5])
    if sys.argv[1] == "from-time":
        return from_time(*sys.argv[2:6])
    if sys.argv[1] == "from-floor":
        return from_floor(*sys.argv[2:5])
    if sys.argv[1] == "best":
        return best(sys.argv[2], sys.argv[3:])
    if sys.argv[1] == "summary":
        sys.exit(0 if summary(sys.argv[2], sys.argv[3]) else 1)
    tool, kind, root, enis, region, ranges, out = sys.argv[1:8]
    enis = enis.split(",")
    files = files_under(root, ".log.gz" if kind == "text" else ".parquet")
    if kind == "text" and tool == "duckdb":
        import gzip

        with gzip.open(files[0], "rt") as f:
            head = f.readline().split()
        types = {"bytes": "BIGINT"}
        COLUMNS_TEXT = ",".join(f"'{h}': '{types.get(h, 'VARCHAR')}'" for h in head)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    result = {"tool": tool if tool != "arrow-floor" else "floor (pyarrow column read)", "files": len(files)}
    if tool == "arrow-floor":
        result["rows"] = arrow_floor(kind, files)
    elif tool == "polars-read":
        result["tool"] = "polars (read only)"
        result["rows"], result["columns"] = polars_read(kind, files)
    elif tool == "polars-core":
        result["tool"] = "polars (per-ENI core)"
        by_class, sizes = polars_core(kind, files, enis, classifier(ranges, region))
        result["classes"] = {c: int(b or 0) for c, b in by_class if b}
        result.update(sizes)
    else:
        pairs = polars_query(kind, files, enis) if tool == "polars" else duckdb_query(kind, files, enis)
        classify = classifier(ranges, region)
        classes = {}
        for remote, b in pairs:
            c = classify(remote)
            classes[c] = classes.get(c, 0) + int(b or 0)
        result["classes"] = classes
        result["remotes"] = len(pairs)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    result["wall"] = wall
    result["cpu"] = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    result["peak_rss_kb"] = r1.ru_maxrss
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main()
