#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Structural check of deploy/kubernetes/bpfprof.yaml, beyond yamllint.

    check_manifest.py FILE [--caps CAP,CAP...]

What the agent needs from a node, as the README and the DaemonSet's comments
say: the kinds (Namespace, ServiceAccount with no token, ConfigMap,
DaemonSet), hostPID, tolerations for every taint, the capability set
(--caps: exactly the one tests/e2e/test_containers.sh ran with) with ALL
dropped and not privileged, read-only mounts of the runtimes' state, tracefs,
requests and limits, and the push URL from the ConfigMap reaching the args.
Prints one line per problem and exits 1, or exits 0 silently.
"""
import argparse
import sys

import yaml

problems = []


def need(cond, what):
    if not cond:
        problems.append(what)
    return cond


def get(obj, *path):
    for p in path:
        if isinstance(obj, dict):
            obj = obj.get(p)
        elif isinstance(obj, list) and isinstance(p, int) and p < len(obj):
            obj = obj[p]
        else:
            return None
    return obj


def check(docs, caps):
    by_kind = {}
    for d in docs:
        if d is None:
            continue
        if not need(isinstance(d, dict) and "kind" in d and "apiVersion" in d,
                    "a document without kind or apiVersion"):
            continue
        by_kind.setdefault(d["kind"], []).append(d)
    for kind in ("Namespace", "ServiceAccount", "ConfigMap", "DaemonSet"):
        need(len(by_kind.get(kind, [])) == 1, f"want exactly one {kind}")
    if problems:
        return
    ns = get(by_kind["Namespace"][0], "metadata", "name")
    sa, cm, ds = by_kind["ServiceAccount"][0], by_kind["ConfigMap"][0], by_kind["DaemonSet"][0]
    for d in (sa, cm, ds):
        need(get(d, "metadata", "namespace") == ns,
             f"{d['kind']} is not in namespace {ns}")
    need(ds["apiVersion"] == "apps/v1", "DaemonSet: apiVersion apps/v1")
    need(sa.get("automountServiceAccountToken") is False,
         "ServiceAccount: automountServiceAccountToken: false (no API server needed)")

    spec = get(ds, "spec", "template", "spec") or {}
    sel = get(ds, "spec", "selector", "matchLabels") or {}
    labels = get(ds, "spec", "template", "metadata", "labels") or {}
    need(sel and all(labels.get(k) == v for k, v in sel.items()),
         "DaemonSet: the selector does not match the pod template's labels")
    need(spec.get("hostPID") is True, "DaemonSet: hostPID: true")
    need(spec.get("serviceAccountName") == get(sa, "metadata", "name"),
         "DaemonSet: serviceAccountName is not the ServiceAccount")
    need(spec.get("automountServiceAccountToken") is False,
         "DaemonSet: automountServiceAccountToken: false")
    need(any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t
             for t in spec.get("tolerations") or []),
         "DaemonSet: a toleration of every taint (operator: Exists, no key, no effect)")

    containers = spec.get("containers") or []
    if not need(len(containers) == 1, "DaemonSet: want one container"):
        return
    c = containers[0]
    args = c.get("args") or []
    need(args[:1] == ["agent"], "container: args start with agent")

    sc = c.get("securityContext") or {}
    need(not sc.get("privileged"), "container: privileged (the capability set replaces it)")
    need(get(sc, "capabilities", "drop") == ["ALL"], "container: capabilities.drop: [ALL]")
    add = get(sc, "capabilities", "add") or []
    if caps is not None:
        need(sorted(add) == sorted(caps),
             f"container: capabilities.add {sorted(add)}, want the set tested: {sorted(caps)}")
    need(sc.get("readOnlyRootFilesystem") is True, "container: readOnlyRootFilesystem: true")

    res = c.get("resources") or {}
    for k in ("requests", "limits"):
        for r in ("cpu", "memory"):
            need(get(res, k, r) is not None, f"container: resources.{k}.{r}")

    # env from the ConfigMap: each key exists, and PUSH_URL reaches --push.
    data = cm.get("data") or {}
    env = {e.get("name"): e for e in c.get("env") or []}
    for name, e in env.items():
        ref = get(e, "valueFrom", "configMapKeyRef")
        if ref:
            need(ref.get("name") == get(cm, "metadata", "name") and ref.get("key") in data,
                 f"env {name}: no key {ref.get('key')} in ConfigMap {ref.get('name')}")
    need(get(env.get("PUSH_URL"), "valueFrom", "configMapKeyRef") is not None,
         "env PUSH_URL from the ConfigMap")
    need("--push=$(PUSH_URL)" in args, "args: --push=$(PUSH_URL)")
    need(get(env.get("NODE_NAME"), "valueFrom", "fieldRef", "fieldPath") == "spec.nodeName",
         "env NODE_NAME from spec.nodeName")

    # Mounts: each names a volume; the runtimes' state read-only from the node.
    vols = {v.get("name"): v for v in spec.get("volumes") or []}
    mounts = {m.get("mountPath"): m for m in c.get("volumeMounts") or []}
    for path, m in mounts.items():
        need(m.get("name") in vols, f"volumeMount {path}: no volume {m.get('name')}")
    for path, ro in (("/sys/kernel/tracing", False), ("/run", True),
                     ("/var/lib/containers", True), ("/var/lib/docker", True)):
        m = mounts.get(path)
        if not need(m is not None, f"volumeMount {path}"):
            continue
        if ro:
            need(m.get("readOnly") is True, f"volumeMount {path}: readOnly: true")
        need(get(vols.get(m.get("name")), "hostPath", "path") == path,
             f"volume of {path}: hostPath {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--caps", help="the capability set the agent was tested with")
    a = ap.parse_args()
    try:
        with open(a.file) as f:
            docs = list(yaml.safe_load_all(f))
    except (OSError, yaml.YAMLError) as e:
        print(f"{a.file}: {e}".splitlines()[0])
        return 1
    check(docs, a.caps.split(",") if a.caps else None)
    for p in problems:
        print(f"{a.file}: {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
