//! CC-3: the boot manifest's pods against the desired pods in the log, and the pods the log
//! holds beyond it (deploying through the API is the normal path, so those pass).

use super::ReportFacts;
use super::device::manifest_missing;
use crate::actors::checks::Check;
use crate::pod::PodKey;

pub(super) fn manifest(f: &ReportFacts) -> Vec<Check> {
    let mut out: Vec<Check> = manifest_missing(f.manifest, "manifest-load")
        .into_iter()
        .collect();
    let manifest: Vec<String> = f
        .manifest
        .pods()
        .iter()
        .map(|p| PodKey::of(p).to_string())
        .collect();
    for key in &manifest {
        let label = format!("manifest/{key}");
        out.push(if f.pods.pods.contains_key(key) {
            Check::pass(label, "manifest pod is tracked", "")
        } else {
            Check::fail(label, "manifest pod not tracked by provider", "")
        });
    }
    for key in f.pods.pods.keys().filter(|k| !manifest.contains(k)) {
        out.push(Check::pass(
            format!("manifest/{key}"),
            "NATS-sourced pod (not in boot manifest)",
            "",
        ));
    }
    out
}
