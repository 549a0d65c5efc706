#!/usr/bin/env python3
"""The hand-written peer for one multi-document HelmRelease file per environment: copy the chart
versions of SRC into DST with a ruamel.yaml round trip. Usage: ruamel_yaml_promote.py SRC DST"""
import sys

from ruamel.yaml import YAML

yaml = YAML()
yaml.preserve_quotes = True
yaml.width = 4096
src_path, dst_path = sys.argv[1], sys.argv[2]
with open(src_path) as f:
    src = {d["metadata"]["name"]: d["spec"]["chart"]["spec"]["version"]
           for d in yaml.load_all(f) if d and d.get("kind") == "HelmRelease"}
with open(dst_path) as f:
    docs = list(yaml.load_all(f))
for d in docs:
    if d and d.get("kind") == "HelmRelease" and d["metadata"]["name"] in src:
        d["spec"]["chart"]["spec"]["version"] = src[d["metadata"]["name"]]
with open(dst_path, "w") as f:
    yaml.dump_all(docs, f)
