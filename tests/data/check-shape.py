#!/usr/bin/env python3
"""Check that the hand-written exports have the shape of the real one.

  python3 check-shape.py [REAL_EXPORT] [MINI_EXPORT ...]

REAL_EXPORT defaults to ../../../shared/data/cod-export (relative to this script); when it is
absent the comparison is skipped with a message (exit 0), the parse checks still run.
MINI_EXPORT defaults to export-mini and export-mini-v2 next to this script.

For every kind of file (archetype, level table, category index, powerset index, power,
enhancement set, tag, group, manifest) it collects, over all real files of that kind, the
keys of every object at every JSON path and the value types seen there, then reports:
  missing  a key every real object at that path has, absent from a mini object
  extra    a key no real object at that path has (export-mini-v2's "pvp_mode" is expected)
  type     a value type never seen at that path in the real files
  order    an object whose keys are in another order than the real ones
  length   a per-level array whose length differs from every real length at that path
Exit status 1 when something other than the expected v2 difference is found.
"""

import glob
import json
import os
import re
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
MAP_KEYS = {"named_tables", "boost_infos", "globals", "by_layer", "by_directory"}
V2_EXPECTED_EXTRA = {("power", "$", "pvp_mode")}


def kind_of(rel):
    parts = rel.split("/")
    if len(parts) == 1:
        return parts[0]  # manifests, by file name
    top = parts[0]
    if top == "archetypes":
        return "archetypes_index" if parts[1] == "index.json" else "archetype"
    if top == "tables":
        return "tables"
    if top == "boost_sets":
        return "boost_sets_index" if parts[1] == "index.json" else "boost_set"
    if top in ("tags", "exclusion_groups", "recharge_groups"):
        return top
    if top == "powers":
        if len(parts) == 3:
            return "category_index"
        if len(parts) == 4:
            return "powerset_index" if parts[3] == "index.json" else "power"
    return None


def norm(path):
    path = re.sub(r"(\.child_effects\[\])+", ".child_effects[]", path)
    return path


class Shape:
    def __init__(self):
        self.keys = defaultdict(lambda: None)  # path -> set of keys in every object (and)
        self.anykeys = defaultdict(set)  # path -> union of keys
        self.orders = defaultdict(set)  # path -> key orders
        self.types = defaultdict(set)  # path -> types
        self.lens = defaultdict(set)  # path -> list lengths

    def add(self, v, path="$"):
        path = norm(path)
        self.types[path].add(type(v).__name__)
        if isinstance(v, dict):
            last = path.rsplit(".", 1)[-1]
            if last in MAP_KEYS:
                for x in v.values():
                    self.add(x, path + ".*")
                return
            ks = set(v)
            self.keys[path] = ks if self.keys[path] is None else self.keys[path] & ks
            self.anykeys[path] |= ks
            self.orders[path].add(tuple(v))
            for k, x in v.items():
                self.add(x, path + "." + k)
        elif isinstance(v, list):
            self.lens[path].add(len(v))
            for x in v:
                self.add(x, path + "[]")


def load(path):
    def hook(pairs):
        seen = set()
        for k, _ in pairs:
            if k in seen:
                raise ValueError("duplicate key %r" % k)
            seen.add(k)
        return dict(pairs)
    with open(path, "rb") as f:
        return json.loads(f.read().decode("utf-8"), object_pairs_hook=hook)


def collect(root):
    shapes = defaultdict(Shape)
    for f in sorted(glob.glob(os.path.join(root, "**", "*.json"), recursive=True)):
        rel = os.path.relpath(f, root)
        k = kind_of(rel)
        if k is None:
            continue
        shapes[k].add(load(f))
    return shapes


def compare(real, mini, label):
    problems = []
    for kind, ms in sorted(mini.items()):
        rs = real.get(kind)
        if rs is None:
            problems.append((kind, "-", "kind", "no real file of this kind"))
            continue
        unknown = []  # paths below an extra key: reported once, at the key
        for path in sorted(set(ms.anykeys) | set(ms.types)):
            if any(path == u or path.startswith(u + ".") or path.startswith(u + "[")
                   for u in unknown):
                continue
            if path not in rs.types:
                problems.append((kind, path, "extra", "path not in real data"))
                unknown.append(path)
                continue
            bad = ms.types[path] - rs.types[path]
            if bad:
                problems.append((kind, path, "type", "%s (real: %s)"
                                 % (sorted(bad), sorted(rs.types[path]))))
            if path in ms.anykeys and path in rs.anykeys:
                req = rs.keys[path] or set()
                for k in sorted(req - (ms.keys[path] or set())):
                    problems.append((kind, path, "missing", k))
                for k in sorted(ms.anykeys[path] - rs.anykeys[path]):
                    problems.append((kind, path, "extra", k))
                    unknown.append(path + "." + k)
                for o in ms.orders[path]:
                    # compare with a real object that has the same key set
                    ro = next((r for r in rs.orders[path] if set(r) == set(o)), None)
                    if ro is not None and ro != o:
                        problems.append((kind, path, "order", "%s vs real %s" % (o, ro)))
            if path in ms.lens and path in rs.lens:
                rl = rs.lens[path]
                # per-level arrays (real lengths >= 100) must keep a real length (or be empty
                # where the real ones can be empty)
                numeric = rs.types.get(path + "[]", set()) <= {"float", "int"}
                if numeric and max(rl) >= 100 and not ms.lens[path] <= rl:
                    problems.append((kind, path, "length", "%s (real: %s)"
                                     % (sorted(ms.lens[path]), sorted(rl)[:8])))
    out = []
    for kind, path, what, detail in problems:
        expected = label.endswith("v2") and what == "extra" and (kind, path, detail) in \
            V2_EXPECTED_EXTRA
        out.append((expected, "%s %-8s %-16s %s: %s" % ("(expected)" if expected else "  ",
                                                        what, kind, path, detail)))
    return out


def main():
    real_root = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(
        os.path.join(HERE, "..", "..", "..", "shared", "data", "cod-export"))
    minis = sys.argv[2:] or [os.path.join(HERE, "export-mini"),
                             os.path.join(HERE, "export-mini-v2")]
    status = 0
    for m in minis + [os.path.join(HERE, "builds-mini.json")]:
        files = [m] if m.endswith(".json") else glob.glob(os.path.join(m, "**", "*.json"),
                                                          recursive=True)
        for f in files:
            try:
                load(f)
            except Exception as e:  # noqa: BLE001 - report any parse problem
                print("PARSE %s: %s" % (f, e))
                status = 1
        print("parsed %d files under %s" % (len(files), os.path.relpath(m, HERE)))
    if not os.path.isdir(real_root):
        print("SKIP shape comparison: %s not found" % real_root)
        return status
    real = collect(real_root)
    for m in minis:
        label = os.path.basename(m.rstrip("/"))
        lines = compare(real, collect(m), label)
        unexpected = [t for ok, t in lines if not ok]
        print("== %s: %d unexpected difference(s), %d expected"
              % (label, len(unexpected), len(lines) - len(unexpected)))
        for ok, t in lines:
            print(t)
        if unexpected:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
