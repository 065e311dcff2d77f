//! Pods to build in tests, benchmarks and examples, so they share one fixture instead of
//! each writing out a `Pod` literal: `SamplePod::new("default", "web")` is a pod with one
//! container `app`; the methods add what a case needs.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, VolumeMount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub struct SamplePod(Pod);

impl SamplePod {
    /// `ns/name` with one container `app` and nothing else.
    pub fn new(ns: &str, name: &str) -> SamplePod {
        SamplePod(Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    /// The pod the engine tests and the pods bench run on the simulator: container `app`
    /// running the device tarball `tarball` (`vkube.io/file`) as `/bin/app --serve`, with a
    /// volume `data` at `/data`, `restartPolicy: Always`.
    pub fn on_device(ns: &str, name: &str, tarball: &str) -> SamplePod {
        SamplePod::new(ns, name)
            .annotation(crate::pod::annotations::ANN_FILE, tarball)
            .command(&["/bin/app", "--serve"])
            .volume("data", "/data")
            .restart_policy("Always")
    }

    fn container(&mut self) -> &mut Container {
        let spec = self.0.spec.get_or_insert_with(Default::default);
        if spec.containers.is_empty() {
            spec.containers.push(Container {
                name: "app".into(),
                ..Default::default()
            });
        }
        &mut spec.containers[0]
    }

    /// Renames the (first) container.
    pub fn container_name(mut self, name: &str) -> SamplePod {
        self.container().name = name.into();
        self
    }

    pub fn image(mut self, image: &str) -> SamplePod {
        self.container().image = Some(image.into());
        self
    }

    pub fn command(mut self, command: &[&str]) -> SamplePod {
        self.container().command = Some(command.iter().map(|s| s.to_string()).collect());
        self
    }

    /// A volume mount of the (first) container.
    pub fn volume(mut self, name: &str, mount_path: &str) -> SamplePod {
        self.container()
            .volume_mounts
            .get_or_insert_with(Vec::new)
            .push(VolumeMount {
                name: name.into(),
                mount_path: mount_path.into(),
                ..Default::default()
            });
        self
    }

    pub fn annotation(mut self, key: &str, value: &str) -> SamplePod {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
        self
    }

    pub fn label(mut self, key: &str, value: &str) -> SamplePod {
        self.0
            .metadata
            .labels
            .get_or_insert_with(Default::default)
            .insert(key.into(), value.into());
        self
    }

    /// Another container `name` after the ones already there (nothing else set).
    pub fn add_container(mut self, name: &str) -> SamplePod {
        self.container();
        let spec = self.0.spec.get_or_insert_with(Default::default);
        spec.containers.push(Container {
            name: name.into(),
            ..Default::default()
        });
        self
    }

    pub fn restart_policy(mut self, policy: &str) -> SamplePod {
        self.0
            .spec
            .get_or_insert_with(Default::default)
            .restart_policy = Some(policy.into());
        self
    }

    pub fn build(self) -> Pod {
        self.0
    }
}
