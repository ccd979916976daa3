#!/usr/bin/env python3
"""Checks the Kubernetes manifests in deploy/k8s without a cluster.

Usage: check_manifests.py DEPLOY_K8S_DIR GPOOL_SERVER_BIN

Every *.yaml is parsed (python3-yaml); every document needs apiVersion, kind and metadata.name;
workload selectors must match their pod template's labels. Then what the deployment relies on:
  - the server DaemonSet runs on GPU nodes, registers in the etcd Service of etcd.yaml (its
    GPOOL_REGISTRY), advertises its pod IP, exposes the ports its config listens on, and carries
    prometheus.io scrape annotations for the metrics port its config serves;
  - its ConfigMap's server.toml passes `gpool-server --check-config`;
  - the ServiceMonitor selects the metrics Service by its labels and port name;
  - the client pod has no nvidia.com/gpu request, no runtimeClassName, no /dev hostPath, no
    privileged container and no NVIDIA_VISIBLE_DEVICES; an init container copies the shim into a
    volume the app mounts at a directory on its LD_LIBRARY_PATH; GPOOL_SERVER names the same pool
    as the servers; GPOOL_TOKEN comes from the Secret of client-secret.yaml.
Exit 0 and PASS, or 1 with every problem found (and the package to install when python3-yaml
is missing).
"""
import glob
import os
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("FAIL: python3-yaml is not installed: install the Debian package python3-yaml "
          "(scripts/install-deps.sh does)")
    sys.exit(1)

problems = []


def check(cond, what):
    if not cond:
        problems.append(what)
    return cond


def load(directory):
    docs = []
    files = sorted(glob.glob(os.path.join(directory, "*.yaml")))
    check(files, f"no *.yaml in {directory}")
    for path in files:
        with open(path) as f:
            try:
                for doc in yaml.safe_load_all(f):
                    if doc is None:
                        continue
                    name = os.path.basename(path)
                    for field in ("apiVersion", "kind"):
                        check(field in doc, f"{name}: a document without {field}")
                    if doc.get("kind") != "Kustomization":
                        check(doc.get("metadata", {}).get("name"), f"{name}: {doc.get('kind')} without metadata.name")
                    docs.append((name, doc))
            except yaml.YAMLError as e:
                problems.append(f"{os.path.basename(path)}: not valid YAML: {e}")
    return docs


def find(docs, kind, name=None):
    for file, d in docs:
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
            return d
    problems.append(f"no {kind}" + (f" named {name}" if name else ""))
    return None


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def check_selectors(docs):
    for file, d in docs:
        if d.get("kind") in ("DaemonSet", "Deployment", "StatefulSet"):
            sel = d["spec"]["selector"]["matchLabels"]
            labels = d["spec"]["template"]["metadata"]["labels"]
            check(all(labels.get(k) == v for k, v in sel.items()),
                  f"{file}: {d['kind']} {d['metadata']['name']}: selector {sel} does not match the template labels {labels}")
            for c in d["spec"]["template"]["spec"]["containers"]:
                check(c.get("image") and c.get("name"), f"{file}: a container without name or image")


def check_server(docs, server_bin):
    ds = find(docs, "DaemonSet", "gpool-server")
    cm = find(docs, "ConfigMap", "gpool-server")
    etcd_svc = find(docs, "Service", "gpool-etcd")
    if not (ds and cm and etcd_svc):
        return None
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    check("nvidia.com/gpu.present" in spec.get("nodeSelector", {}) or "affinity" in spec,
          "the server DaemonSet is not limited to GPU nodes (nodeSelector nvidia.com/gpu.present)")
    c = spec["containers"][0]
    env = env_of(c)
    etcd_port = etcd_svc["spec"]["ports"][0]["port"]
    etcd_host = f"{etcd_svc['metadata']['name']}.{etcd_svc['metadata']['namespace']}.svc:{etcd_port}"
    registry = env.get("GPOOL_REGISTRY", {}).get("value", "")
    check(registry.startswith(f"etcd://{etcd_host}/"),
          f"GPOOL_REGISTRY {registry!r} is not a pool on the etcd Service ({etcd_host})")
    check("$(POD_IP)" in env.get("GPOOL_ADVERTISE_URL", {}).get("value", "") and
          env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP",
          "the server does not advertise its pod IP (GPOOL_ADVERTISE_URL with $(POD_IP) from status.podIP)")
    # The config, as the server reads it.
    toml_text = cm["data"]["server.toml"]
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(toml_text)
        path = f.name
    try:
        r = subprocess.run([server_bin, "--check-config", path], capture_output=True, text=True, timeout=30)
        check(r.returncode == 0, f"server.toml of the ConfigMap fails --check-config: {r.stdout}{r.stderr}")
    finally:
        os.unlink(path)
    mount = [m for m in c.get("volumeMounts", []) if m["name"] == "config"]
    check(mount and c["args"][-1].startswith(mount[0]["mountPath"] + "/"),
          "the server's --config is not in the mounted ConfigMap")
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    check(ports.get("gpool") and f":{ports['gpool']}\"" in toml_text and f":{ports['gpool']}" in env["GPOOL_ADVERTISE_URL"]["value"],
          f"the gpool port {ports.get('gpool')} is not the one listened on and advertised")
    ann = pod["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/path") == "/metrics",
          "the server pods lack the prometheus.io/scrape and /path annotations")
    check(str(ports.get("metrics")) == ann.get("prometheus.io/port") and
          f'metrics_listen = "0.0.0.0:{ports.get("metrics")}"' in toml_text,
          "prometheus.io/port, the metrics container port and metrics_listen disagree")
    for r in ("requests", "limits"):
        check("nvidia.com/gpu" not in c.get("resources", {}).get(r, {}),
              "the server requests nvidia.com/gpu: it takes the dedicated node's GPUs through the runtime")
    # The ServiceMonitor reaches the metrics through the Service.
    svc = find(docs, "Service", "gpool-server-metrics")
    sm = find(docs, "ServiceMonitor")
    if svc and sm:
        check(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()),
              "the ServiceMonitor's selector does not match the metrics Service's labels")
        check(sm["spec"]["endpoints"][0]["port"] in [p["name"] for p in svc["spec"]["ports"]],
              "the ServiceMonitor's port is not a port name of the metrics Service")
        check(all(pod["metadata"]["labels"].get(k) == v for k, v in svc["spec"]["selector"].items()),
              "the metrics Service does not select the server pods")
    return registry


def check_client(docs, registry):
    pod = find(docs, "Pod")
    secret = find(docs, "Secret")
    if not pod:
        return
    spec = pod["spec"]
    check("runtimeClassName" not in spec, "the client pod uses a runtime class (it needs no NVIDIA runtime)")
    for v in spec.get("volumes", []):
        check(not v.get("hostPath", {}).get("path", "").startswith("/dev"),
              f"the client pod mounts device nodes from the host ({v['hostPath']['path'] if 'hostPath' in v else ''})")
    for c in spec.get("containers", []) + spec.get("initContainers", []):
        res = c.get("resources", {})
        for r in ("requests", "limits"):
            check(not any(k.startswith("nvidia.com/") for k in res.get(r, {})),
                  f"client container {c['name']} requests an NVIDIA resource")
        check(not c.get("securityContext", {}).get("privileged"), f"client container {c['name']} is privileged")
        check("NVIDIA_VISIBLE_DEVICES" not in env_of(c), f"client container {c['name']} sets NVIDIA_VISIBLE_DEVICES")
    inits = spec.get("initContainers", [])
    if not check(inits, "the client pod has no init container to provide the shim"):
        return
    init = inits[0]
    cmd = " ".join(init.get("command", []) + init.get("args", []))
    check("/usr/lib/gpool/client/libcuda.so.1" in cmd, "the init container does not copy the installed shim")
    shim_volume = init["volumeMounts"][0]
    check(shim_volume["mountPath"] in cmd, "the init container does not copy the shim into its volume")
    app = spec["containers"][0]
    env = env_of(app)
    mounts = {m["name"]: m["mountPath"] for m in app.get("volumeMounts", [])}
    ld = env.get("LD_LIBRARY_PATH", {}).get("value", "").split(":")
    check(mounts.get(shim_volume["name"]) in ld, "the shim's volume is not on the app's LD_LIBRARY_PATH")
    check(env.get("GPOOL_SERVER", {}).get("value") == registry,
          f"the client's GPOOL_SERVER {env.get('GPOOL_SERVER', {}).get('value')!r} is not the servers' pool {registry!r}")
    ref = env.get("GPOOL_TOKEN", {}).get("valueFrom", {}).get("secretKeyRef", {})
    if check(ref, "GPOOL_TOKEN does not come from a Secret") and secret:
        check(ref.get("name") == secret["metadata"]["name"] and
              ref.get("key") in list(secret.get("stringData", {})) + list(secret.get("data", {})),
              "GPOOL_TOKEN's secretKeyRef does not name the Secret and key of client-secret.yaml")
        check(secret["metadata"].get("namespace") == pod["metadata"].get("namespace"),
              "the Secret is not in the client pod's namespace")


def check_kustomization(directory, docs):
    k = [d for _, d in docs if d.get("kind") == "Kustomization"]
    if k:
        for r in k[0].get("resources", []):
            check(os.path.exists(os.path.join(directory, r)), f"kustomization.yaml lists a missing file {r}")


def main():
    directory, server_bin = sys.argv[1], sys.argv[2]
    docs = load(directory)
    check_selectors(docs)
    registry = check_server(docs, server_bin)
    check_client(docs, registry)
    check_kustomization(directory, docs)
    if problems:
        for p in problems:
            print("FAIL:", p)
        return 1
    print(f"PASS ({len(docs)} documents)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
