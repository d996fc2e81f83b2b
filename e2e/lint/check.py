#!/usr/bin/env python3
"""The linter suite (README, docs/spec.md "Where Slipway departs from the linters").

1. Renders every example in every seeded environment with `slipway render`.
2. Runs kube-score over each; every finding must be one of the departures
   documented in docs/spec.md, and every documented departure must still be
   found (so the list can neither hide a new finding nor go stale).
3. Renders e2e/lint/opt-in.yaml, which opts into what each departure leaves
   out, and expects no finding at all: each opt-in field does what the
   departure table says.
4. On the local control plane: applies each rendering with a server-side dry
   run into a namespace that enforces the Pod Security Standard `restricted`
   (no warning allowed), and creates every pod template as a Pod (dry run, so
   admission enforces, not only warns); then checks that a pod violating
   `restricted` is refused there.

Usage: check.py SLIPWAY KUBE_SCORE KUBECTL...   (exits 1 on any failure)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENVIRONMENTS = ["development", "staging", "production"]
IMAGE = "registry.example.com/lint/app:1.0.0"
# kube-score's optional checks that are sound for every Slipway pod.
OPTIONAL = ["container-seccomp-profile", "container-ports-check"]
# Its own namespace each run: the last run's may still be terminating.
NAMESPACE = f"slipway-lint-{os.getpid()}"

failures = []


def fail(message):
    failures.append(message)
    print(f"FAIL {message}", flush=True)


def run(cmd, stdin=None, check=True):
    done = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stderr}")
    return done


def documented_departures():
    """(check id, finding) pairs of the departure table in docs/spec.md."""
    text = (ROOT / "docs/spec.md").read_text()
    section = text.split("## Where Slipway departs from the linters", 1)
    if len(section) != 2:
        raise SystemExit("docs/spec.md has no section 'Where Slipway departs from the linters'")
    rows = re.findall(r"^\| kube-score \| `([a-z0-9-]+)` \| ([^|]+?) \|", section[1], re.M)
    if not rows:
        raise SystemExit("the departure table in docs/spec.md has no kube-score row")
    return {(check, finding.strip()) for check, finding in rows}


def kube_version():
    mod = (ROOT / "e2e/cluster/build/kubernetes/go.mod").read_text()
    m = re.search(r"^\s*k8s\.io/kubernetes (v\d+\.\d+)\.\d+", mod, re.M)
    return m.group(1) if m else "v1.33"


def kube_score(kube_score_bin, manifest, version):
    """Findings as (check id, summary, object, container path)."""
    cmd = [kube_score_bin, "score", str(manifest), "--output-format", "json",
           "--kubernetes-version", version]
    for test in OPTIONAL:
        cmd += ["--enable-optional-test", test]
    # kube-score exits 1 when it found something critical; the JSON says what.
    done = run(cmd, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"kube-score failed on {manifest}:\n{done.stderr}")
    out = []
    for obj in json.loads(done.stdout):
        for check in obj["checks"]:
            if check["skipped"] or check["grade"] >= 10:
                continue
            for comment in check["comments"] or [{"summary": check["check"]["name"], "path": ""}]:
                out.append((check["check"]["id"], comment["summary"].strip(),
                            obj["object_name"], comment.get("path", "")))
    return out


def render(slipway, spec, environment, target):
    done = run([slipway, "render", str(spec), "--env", environment, "--image", IMAGE], check=False)
    if done.returncode != 0:
        fail(f"slipway render {spec.name} --env {environment}: {done.stderr.strip()}")
        return None
    target.write_text(done.stdout)
    return target


def lint(slipway, kube_score_bin, tmp):
    departures = documented_departures()
    version = kube_version()
    seen = set()
    rendered = []
    for spec in sorted((ROOT / "examples").glob("*.yaml")):
        for environment in ENVIRONMENTS:
            case = f"{spec.stem}-{environment}"
            manifest = render(slipway, spec, environment, tmp / f"{case}.yaml")
            if manifest is None:
                continue
            rendered.append((case, manifest))
            for check, summary, obj, path in kube_score(kube_score_bin, manifest, version):
                if (check, summary) in departures:
                    seen.add((check, summary))
                else:
                    fail(f"kube-score {check} on {case} {obj} {path}: {summary} "
                         "(not a documented departure: fix the renderer or the example, "
                         "or document why Slipway departs in docs/spec.md)")
    for check, summary in sorted(departures - seen):
        fail(f"docs/spec.md documents the departure {check} \"{summary}\", but no example "
             "produces it any more: remove it from the table")
    print(f"kube-score {version} over {len(rendered)} renderings: "
          f"{len(seen)} documented departures found, nothing else", flush=True)
    opt_in = ROOT / "e2e/lint/opt-in.yaml"
    for environment in ENVIRONMENTS:
        manifest = render(slipway, opt_in, environment, tmp / f"opt-in-{environment}.yaml")
        if manifest is None:
            continue
        for check, summary, obj, path in kube_score(kube_score_bin, manifest, version):
            fail(f"e2e/lint/opt-in.yaml ({environment}) opts into every departure, yet "
                 f"kube-score {check} says on {obj} {path}: {summary}")
    print("the opt-in spec (every departure turned off) has no finding", flush=True)
    return rendered


def to_json(kubectl, manifest):
    """The objects of a YAML file as JSON, read by kubectl (no YAML library needed)."""
    done = run(kubectl + ["create", "--dry-run=client", "-o", "json", "-f", str(manifest)])
    # One JSON document per object, one after the other.
    decoder, text, at, objects = json.JSONDecoder(), done.stdout, 0, []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return objects
        obj, at = decoder.raw_decode(text, at)
        objects.extend(obj["items"] if obj.get("kind") == "List" else [obj])


def pod_templates(objects):
    """(owner name, pod spec) of each workload, as its controller would create the pod."""
    for obj in objects:
        spec = obj.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get("template")
        if not template:
            continue
        pod_spec = json.loads(json.dumps(template["spec"]))
        # A StatefulSet's controller adds a volume for each claim template.
        for claim in spec.get("volumeClaimTemplates", []):
            name = claim["metadata"]["name"]
            pod_spec.setdefault("volumes", []).append({
                "name": name,
                "persistentVolumeClaim": {"claimName": f"{name}-{obj['metadata']['name']}-0"}})
        yield obj["metadata"]["name"], template.get("metadata", {}), pod_spec


def pod_security(kubectl, rendered):
    namespace = {
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": {
            f"pod-security.kubernetes.io/{mode}": "restricted"
            for mode in ("enforce", "warn", "audit")}},
    }
    run(kubectl + ["apply", "-f", "-"], stdin=json.dumps(namespace))
    try:
        pods = 0
        for case, manifest in rendered:
            objects = to_json(kubectl, manifest)
            for obj in objects:
                obj["metadata"]["namespace"] = NAMESPACE
            # Pods need their ServiceAccount to exist (admission looks it up).
            accounts = [o for o in objects if o["kind"] == "ServiceAccount"]
            if accounts:
                run(kubectl + ["apply", "-f", "-"],
                    stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": accounts}))
            listing = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
            done = run(kubectl + ["apply", "--server-side", "--dry-run=server",
                                  "--field-manager=slipway-lint", "-f", "-"], stdin=listing, check=False)
            if done.returncode != 0 or "PodSecurity" in done.stderr:
                fail(f"{case}: the server-side dry run in a restricted namespace said: {done.stderr.strip()}")
            for owner, metadata, pod_spec in pod_templates(objects):
                pod = {"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": f"{owner}-lint"[:63], "namespace": NAMESPACE,
                                    "labels": metadata.get("labels", {})},
                       "spec": pod_spec}
                done = run(kubectl + ["create", "--dry-run=server", "-f", "-"],
                           stdin=json.dumps(pod), check=False)
                if done.returncode == 0:
                    pods += 1
                else:
                    fail(f"{case}: the pod of {owner} is refused under Pod Security restricted: "
                         f"{done.stderr.strip()}")
        print(f"{len(rendered)} renderings pass a server-side dry run and {pods} pod templates "
              f"are admitted in a namespace enforcing Pod Security restricted", flush=True)
        # The attack: a pod that runs as root with privilege escalation.
        violating = {"apiVersion": "v1", "kind": "Pod",
                     "metadata": {"name": "runs-as-root", "namespace": NAMESPACE},
                     "spec": {"containers": [{"name": "app", "image": IMAGE,
                                              "securityContext": {"runAsUser": 0,
                                                                  "allowPrivilegeEscalation": True}}]}}
        done = run(kubectl + ["create", "--dry-run=server", "-f", "-"],
                   stdin=json.dumps(violating), check=False)
        if done.returncode == 0 or 'violates PodSecurity "restricted' not in done.stderr:
            fail(f"a root pod was not refused under Pod Security restricted "
                 f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        else:
            print("a pod running as root is refused: " + done.stderr.strip().splitlines()[0], flush=True)
    finally:
        run(kubectl + ["delete", "namespace", NAMESPACE, "--wait=false"], check=False)


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    slipway, kube_score_bin, kubectl = sys.argv[1], sys.argv[2], sys.argv[3:]
    with tempfile.TemporaryDirectory(prefix="slipway-lint-") as tmp:
        rendered = lint(slipway, kube_score_bin, Path(tmp))
        pod_security(kubectl, rendered)
    if failures:
        print(f"\n{len(failures)} linter failure(s)")
        sys.exit(1)
    print("linters: ok")


if __name__ == "__main__":
    main()
