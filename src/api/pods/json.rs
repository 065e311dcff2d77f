//! A pod as `pod_view::render` shows it, serialized from the stored pod without copying it:
//! lists of many pods and single GETs build only the status and the few computed metadata
//! fields, then write the JSON straight from the fold's snapshot.

use crate::api::machinery::version::ResourceVersion;
use crate::api::pods::view::RenderInputs;
use crate::api::pods::view::pod_uid;
use crate::pod::DesiredPod;
use k8s_openapi::api::core::v1::{PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::ser::{Serialize, SerializeStruct, Serializer};
use std::borrow::Cow;

pub struct RenderedPod<'a> {
    desired: &'a DesiredPod,
    /// The stored metadata, or a copy without a stored `resourceVersion` (never expected).
    meta: Cow<'a, ObjectMeta>,
    /// Set only when the stored pod has none.
    uid: Option<String>,
    created: Option<Time>,
    resource_version: String,
    node: &'a str,
    status: PodStatus,
}

impl<'a> RenderedPod<'a> {
    pub fn new(
        desired: &'a DesiredPod,
        resource_version: ResourceVersion,
        inputs: &RenderInputs<'a>,
    ) -> Self {
        let stored = &desired.pod.metadata;
        let meta = if stored.resource_version.is_some() {
            let mut m = stored.clone();
            m.resource_version = None;
            Cow::Owned(m)
        } else {
            Cow::Borrowed(stored)
        };
        RenderedPod {
            desired,
            uid: stored.uid.is_none().then(|| pod_uid(&desired.pod)),
            created: stored
                .creation_timestamp
                .is_none()
                .then(|| inputs.status.started.clone())
                .flatten(),
            meta,
            resource_version: resource_version.to_string(),
            node: inputs.status.node,
            status: inputs.status_of(desired, resource_version.seq),
        }
    }

    /// The field selectors `pods::pod_field` answers, from the rendered parts.
    pub fn field(&self, field: &str) -> Option<String> {
        let pod = &self.desired.pod;
        Some(match field {
            "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
            "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
            "spec.nodeName" => {
                let spec = pod.spec.as_ref()?;
                spec.node_name
                    .clone()
                    .unwrap_or_else(|| self.node.to_string())
            }
            "status.phase" => self.status.phase.clone().unwrap_or_default(),
            _ => return None,
        })
    }
}

/// The metadata with what the controller fills in.
#[derive(serde::Serialize)]
struct Meta<'a> {
    #[serde(flatten)]
    stored: &'a ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<&'a str>,
    #[serde(rename = "creationTimestamp", skip_serializing_if = "Option::is_none")]
    created: Option<&'a Time>,
    #[serde(rename = "resourceVersion")]
    resource_version: &'a str,
}

/// A spec without `nodeName`, written with this node's name.
#[derive(serde::Serialize)]
struct SpecOnNode<'a> {
    #[serde(flatten)]
    spec: &'a PodSpec,
    #[serde(rename = "nodeName")]
    node: &'a str,
}

impl Serialize for RenderedPod<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pod = &self.desired.pod;
        let mut s = serializer.serialize_struct("Pod", 5)?;
        s.serialize_field("apiVersion", "v1")?;
        s.serialize_field("kind", "Pod")?;
        let meta = Meta {
            stored: &self.meta,
            uid: self.uid.as_deref(),
            created: self.created.as_ref(),
            resource_version: &self.resource_version,
        };
        s.serialize_field("metadata", &meta)?;
        match &pod.spec {
            Some(spec) if spec.node_name.is_none() => s.serialize_field(
                "spec",
                &SpecOnNode {
                    spec,
                    node: self.node,
                },
            )?,
            Some(spec) => s.serialize_field("spec", spec)?,
            None => s.skip_field("spec")?,
        }
        s.serialize_field("status", &self.status)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::pods::view::render;
    use k8s_openapi::api::core::v1::{Container, Pod};

    fn desired(uid: Option<&str>, node: Option<&str>) -> DesiredPod {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        pod.metadata.namespace = Some("default".into());
        pod.metadata.uid = uid.map(Into::into);
        pod.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
        pod.spec = Some(PodSpec {
            containers: vec![Container {
                name: "c".into(),
                image: Some("nginx".into()),
                ..Default::default()
            }],
            node_name: node.map(Into::into),
            ..Default::default()
        });
        DesiredPod::new(pod, crate::events::catalogue::PodSource::Api)
    }

    #[test]
    fn writes_the_same_json_as_render() {
        let units = Default::default();
        let observations = Default::default();
        let inputs = RenderInputs {
            status: crate::pod::status::StatusInputs {
                units: &units,
                networks: &[],
                node: "n1",
                started: crate::api::machinery::objects::time(chrono::Utc::now()),
                address: Box::new(|_: &str, _: &str| None),
            },
            observations: &observations,
        };
        let rv = ResourceVersion {
            seq: 42,
            generation: 7,
        };
        for d in [desired(None, None), desired(Some("u-1"), Some("other"))] {
            let fast = serde_json::to_value(RenderedPod::new(&d, rv, &inputs)).unwrap();
            let slow = serde_json::to_value(render(&d, rv, &inputs)).unwrap();
            assert_eq!(fast, slow);
            assert_eq!(fast["metadata"]["resourceVersion"], "42.7");
            let r = RenderedPod::new(&d, rv, &inputs);
            let pod = render(&d, rv, &inputs);
            for f in [
                "metadata.name",
                "metadata.namespace",
                "spec.nodeName",
                "status.phase",
            ] {
                assert_eq!(
                    r.field(f),
                    crate::api::pods::view::pod_field(&pod, f),
                    "{f}"
                );
            }
        }
    }
}
