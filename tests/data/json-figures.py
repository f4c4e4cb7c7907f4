#!/usr/bin/env python3
"""Reads one JSON document (or NDJSON) on stdin; prints every string value that is a figure
written for people ("99.54%", "1 of 100", "7m49s", "9.2 MB") where a number should be.
A figure object's display text ("text") and free-text lines are allowed. Exit 1 if any."""
import json, re, sys

FIG = re.compile(r"""^(
    -?\d[\d.,]*\s*(%|s|ms|us|B|kB|KB|MB|GB|TB|bytes|/s|records/s)   # a number with a unit
  | \d+(\.\d+)?\s+of\s+\d+                                            # "3 of 100"
  | (\d+d)?(\d+h)?(\d+m)?\d+(\.\d+)?s                                  # a duration 7m49s
  | (\d+d)?(\d+h)?\d+m                                                 # 5m, 1h2m
)(\s+\(.*\)|\s+ago)?$""", re.X)
SKIP_KEYS = {"text", "lines", "summary", "message", "query", "hint", "detail", "note",
             "reason", "error", "target", "conninfo", "path", "file", "command", "usage"}

bad = []
def walk(v, path):
    if isinstance(v, dict):
        for k, x in v.items():
            if k in SKIP_KEYS:
                continue
            walk(x, path + "." + k)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            walk(x, path + "[%d]" % i)
    elif isinstance(v, str) and FIG.match(v.strip()):
        bad.append("%s = %r" % (path, v))

data = sys.stdin.read()
try:
    docs = [json.loads(data)]
except ValueError:
    docs = [json.loads(l) for l in data.splitlines() if l.strip()]
for d in docs:
    walk(d, "")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
