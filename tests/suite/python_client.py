"""A user's script with the official Kubernetes Python client (`pip install kubernetes`), run
against a real mkube by tests/suite/python_client.rs (issue 11, tests that must exist). It
shares no code with mkube; every step is what a user of a Kubernetes API would do.

Usage: python_client.py <api base URL> <device tarball path>
"""

import json
import sys
import time

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

BASE, TARBALL = sys.argv[1], sys.argv[2]
NS = "default"

config = client.Configuration()
config.host = BASE
v1 = client.CoreV1Api(client.ApiClient(config))


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    print(f"ok: {what}")


def api_error(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as e:
        return e
    raise SystemExit(f"FAILED: {call.__name__} succeeded where it should not")


def pod(name, greeting):
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name,
            labels={"app": "hello", "tier": "web"},
            annotations={"vkube.io/file": TARBALL},
        ),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="app",
                    command=["/bin/app", "--serve"],
                    env=[
                        client.V1EnvVar(name="GREETING", value=greeting),
                        client.V1EnvVar(
                            name="MODE",
                            value_from=client.V1EnvVarSource(
                                config_map_key_ref=client.V1ConfigMapKeySelector(
                                    name="hello-cfg", key="mode"
                                )
                            ),
                        ),
                    ],
                )
            ]
        ),
    )


# ConfigMap CRUD (the pod's env reads it).
cm = client.V1ConfigMap(
    metadata=client.V1ObjectMeta(name="hello-cfg"), data={"mode": "prod"}
)
created_cm = v1.create_namespaced_config_map(NS, cm)
check(created_cm.metadata.uid, "ConfigMap created")
e = api_error(v1.create_namespaced_config_map, NS, cm)
check(e.status == 409 and json.loads(e.body)["reason"] == "AlreadyExists",
      "creating it again is 409 AlreadyExists")
read_cm = v1.read_namespaced_config_map("hello-cfg", NS)
check(read_cm.data == {"mode": "prod"}, "ConfigMap read back")
read_cm.data["extra"] = "1"
replaced = v1.replace_namespaced_config_map("hello-cfg", NS, read_cm)
check(replaced.data == {"mode": "prod", "extra": "1"}, "ConfigMap replaced")
patched = v1.patch_namespaced_config_map("hello-cfg", NS, {"data": {"extra": "2"}})
check(patched.data["extra"] == "2", "ConfigMap patched")
names = [c.metadata.name for c in v1.list_namespaced_config_map(NS).items]
check("hello-cfg" in names, "ConfigMap listed")

# Pods: create, 409 on repeat, read with env and defaults.
created = v1.create_namespaced_pod(NS, pod("hello", "hi"))
check(created.metadata.name == "hello" and created.metadata.uid, "pod created")
e = api_error(v1.create_namespaced_pod, NS, pod("hello", "hi"))
check(e.status == 409, "creating the pod again is 409")
got = v1.read_namespaced_pod("hello", NS)
env = {v.name: v for v in got.spec.containers[0].env}
check(env["GREETING"].value == "hi", "env read back")
check(env["MODE"].value_from.config_map_key_ref.name == "hello-cfg", "env source read back")
check(got.spec.restart_policy == "Always", "restartPolicy defaulted to Always")
check(got.spec.containers[0].image_pull_policy is not None, "imagePullPolicy defaulted")

# A second pod in another namespace, for lists and selectors.
other = pod("other", "yo")
other.metadata.labels = {"app": "other"}
other.spec.containers[0].env = [client.V1EnvVar(name="GREETING", value="yo")]
v1.create_namespaced_pod("team", other)

everything = [p.metadata.name for p in v1.list_pod_for_all_namespaces().items]
check(sorted(everything) == ["hello", "other"], "list across namespaces")
check([p.metadata.name for p in v1.list_namespaced_pod(NS).items] == ["hello"],
      "list one namespace")
check([p.metadata.name for p in v1.list_pod_for_all_namespaces(label_selector="app=other").items]
      == ["other"], "label selector")
check([p.metadata.name for p in v1.list_pod_for_all_namespaces(label_selector="tier").items]
      == ["hello"], "label exists selector")
check([p.metadata.name for p in v1.list_pod_for_all_namespaces(
    field_selector="metadata.namespace=team").items] == ["other"], "field selector")

# Watch until it runs on the (simulated) device; bookmarks allowed.
w = watch.Watch()
running = None
seen = []
for event in w.stream(v1.list_namespaced_pod, NS, field_selector="metadata.name=hello",
                      allow_watch_bookmarks=True, timeout_seconds=60):
    seen.append(event["type"])
    obj = event["object"]
    if event["type"] != "BOOKMARK" and obj.status and obj.status.phase == "Running":
        running = obj
        w.stop()
check(running is not None, f"watched the pod to Running ({seen})")
check(running.status.pod_ip and running.status.pod_ip.startswith("127.77.0."), "pod IP from IPAM")
check(running.status.container_statuses[0].ready, "container ready")

# A short watch from the current version: it ends with a bookmark.
version = v1.list_namespaced_pod(NS).metadata.resource_version
types = [ev["type"] for ev in watch.Watch().stream(
    v1.list_namespaced_pod, NS, resource_version=version,
    allow_watch_bookmarks=True, timeout_seconds=2)]
check(types and types[-1] == "BOOKMARK", f"bookmark at the end of a watch ({types})")

# Patch: a label (strategic merge, as the client sends it).
patched_pod = v1.patch_namespaced_pod("hello", NS, {"metadata": {"labels": {"patched": "yes"}}})
check(patched_pod.metadata.labels.get("patched") == "yes", "pod patched")

# A bad name: a 4xx ApiException carrying a v1 Status.
e = api_error(v1.create_namespaced_pod, NS, pod("Bad_Name", "x"))
body = json.loads(e.body)
check(400 <= e.status < 500 and body["kind"] == "Status" and body["status"] == "Failure",
      f"bad name refused with a Status ({e.status}: {body.get('message')})")

# Events tell the pod's story.
reasons = {ev.reason for ev in v1.list_namespaced_event(
    NS, field_selector="involvedObject.name=hello").items}
check({"Scheduled", "Started"} <= reasons, f"events ({sorted(reasons)})")

# Delete: the Pod comes back marked deleted, then it is gone.
deleted = v1.delete_namespaced_pod("hello", NS)
check(isinstance(deleted, client.V1Pod) and deleted.metadata.deletion_timestamp is not None,
      "delete answers the pod")
e = api_error(v1.read_namespaced_pod, "hello", NS)
check(e.status == 404, "pod gone after delete")
v1.delete_namespaced_pod("other", "team")
status = v1.delete_namespaced_config_map("hello-cfg", NS)
# Client versions decode this as a V1Status or leave it a dict.
status = status if isinstance(status, dict) else status.to_dict()
check(status["kind"] == "Status" and status["status"] == "Success", "ConfigMap deleted")
e = api_error(v1.read_namespaced_config_map, "hello-cfg", NS)
check(e.status == 404, "ConfigMap gone after delete")
print("all steps passed")
