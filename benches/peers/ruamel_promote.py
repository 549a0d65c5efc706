#!/usr/bin/env python3
"""The hand-written peer: copy integration's versions to live with a ruamel.yaml round trip
(what platform teams write when they do not use a tool). YAML only: HelmReleases and
kustomization images. Usage: ruamel_promote.py REPO"""
import sys
from pathlib import Path

from ruamel.yaml import YAML

repo = Path(sys.argv[1])
yaml = YAML()
yaml.preserve_quotes = True
yaml.width = 4096


def load_all(path):
    with open(path) as f:
        return list(yaml.load_all(f))


def dump_all(path, docs):
    with open(path, "w") as f:
        yaml.dump_all(docs, f)


# HelmReleases: name -> spec.chart.spec.version
src = {d["metadata"]["name"]: d["spec"]["chart"]["spec"]["version"]
       for d in load_all(repo / "clusters/integration/helm-charts.yaml") if d and d.get("kind") == "HelmRelease"}
live = repo / "clusters/live/helm-charts.yaml"
docs = load_all(live)
for d in docs:
    if d and d.get("kind") == "HelmRelease" and d["metadata"]["name"] in src:
        d["spec"]["chart"]["spec"]["version"] = src[d["metadata"]["name"]]
dump_all(live, docs)

# kustomization images: name -> newTag
with open(repo / "overlays/integration/kustomization.yaml") as f:
    tags = {i["name"]: i["newTag"] for i in yaml.load(f)["images"]}
path = repo / "overlays/live/kustomization.yaml"
with open(path) as f:
    k = yaml.load(f)
for i in k["images"]:
    if i["name"] in tags:
        i["newTag"] = tags[i["name"]]
with open(path, "w") as f:
    yaml.dump(k, f)
