#!/usr/bin/env python3
"""A minimal S3 endpoint over a folder, for benchmarks of how flowcost downloads: ListObjectsV2
(with a delimiter) and GetObject (a Range, If-Match on the ETag), no signature checked. Each
object's ETag is computed once, when first listed or read, so a GET costs what it serves: moto
reads an object's whole body for every ranged GET, and s3s-fs hashes it (BENCHMARKS.md,
"Large Parquet objects fetched by the ranges read"), which a benchmark of ranged reads would
otherwise measure.

    python3 benches/s3_folder.py ROOT PORT      # ROOT/bucket/key..., serves on 127.0.0.1:PORT

Each object GET answered is a line on standard error: `GET <key> <bytes sent>`.

Not a test server: no writes, no pagination past 1,000 keys, no errors beyond 404 and 412.
"""
import hashlib
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import escape

ROOT = sys.argv[1]
PORT = int(sys.argv[2])
ETAGS = {}
LOCK = threading.Lock()


def etag(path):
    with LOCK:
        if path not in ETAGS:
            h = hashlib.md5()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            ETAGS[path] = '"%s"' % h.hexdigest()
        return ETAGS[path]


def keys(bucket, prefix):
    base = os.path.join(ROOT, bucket)
    out = []
    for d, _, files in os.walk(base):
        for name in files:
            key = os.path.relpath(os.path.join(d, name), base).replace(os.sep, "/")
            if key.startswith(prefix):
                out.append(key)
    return sorted(out)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        bucket, _, key = unquote(url.path).lstrip("/").partition("/")
        if "list-type" in query:
            return self.list(bucket, query.get("prefix", [""])[0], query.get("delimiter", [""])[0])
        path = os.path.join(ROOT, bucket, key)
        if not key or not os.path.isfile(path):
            return self.send(404, b"<Error><Code>NoSuchKey</Code></Error>")
        tag = etag(path)
        want = self.headers.get("If-Match")
        if want and want != tag:
            return self.send(412, b"<Error><Code>PreconditionFailed</Code></Error>")
        size = os.path.getsize(path)
        start, end, status = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start, end, status = int(a), (int(b) if b else size - 1), 206
            end = min(end, size - 1)
        headers = [("ETag", tag), ("Content-Type", "application/octet-stream")]
        if status == 206:
            headers.append(("Content-Range", "bytes %d-%d/%d" % (start, end, size)))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        sys.stderr.write("GET %s %d\n" % (key, end - start + 1))
        with open(path, "rb") as f:
            f.seek(start)
            left = end - start + 1
            while left > 0:
                block = f.read(min(left, 1 << 20))
                if not block:
                    break
                self.wfile.write(block)
                left -= len(block)

    def list(self, bucket, prefix, delimiter):
        contents, common = [], set()
        for key in keys(bucket, prefix):
            rest = key[len(prefix):]
            if delimiter and delimiter in rest:
                common.add(prefix + rest.split(delimiter, 1)[0] + delimiter)
                continue
            path = os.path.join(ROOT, bucket, key)
            contents.append(
                "<Contents><Key>%s</Key><LastModified>2026-09-01T00:00:00.000Z</LastModified>"
                "<ETag>%s</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>"
                % (escape(key), escape(etag(path)), os.path.getsize(path))
            )
        prefixes = "".join(
            "<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>" % escape(p) for p in sorted(common)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            "<Name>%s</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>"
            "<IsTruncated>false</IsTruncated>%s%s</ListBucketResult>"
            % (escape(bucket), escape(prefix), len(contents) + len(common), "".join(contents), prefixes)
        )
        self.send(200, body.encode(), [("Content-Type", "application/xml")])


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
