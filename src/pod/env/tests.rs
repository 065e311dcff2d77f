use super::*;
use k8s_openapi::api::core::v1::{
    ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVarSource, ObjectFieldSelector,
    SecretKeySelector,
};
use std::collections::BTreeMap;

fn pod() -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web".into());
    pod.metadata.namespace = Some("default".into());
    pod.metadata.labels = Some(BTreeMap::from([("app".into(), "shop".into())]));
    pod
}

fn cm(pairs: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        data: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

fn key_ref(name: &str, cm: &str, key: &str, optional: Option<bool>) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            config_map_key_ref: Some(ConfigMapKeySelector {
                name: cm.into(),
                key: key.into(),
                optional,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn field(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn resolve_with(
    c: &Container,
    maps: &BTreeMap<String, ConfigMap>,
) -> Result<Vec<(String, String)>, EnvError> {
    let p = pod();
    let lookup = |name: &str| maps.get(name);
    let ctx = EnvContext {
        pod: &p,
        config_map: &lookup,
        node: "rose1",
        pod_ip: Some("10.0.0.5".parse().unwrap()),
        host_ip: Some("10.0.0.1".parse().unwrap()),
    };
    resolve(c, &ctx)
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

// Issue 11 item 1: value, configMapKeyRef, fieldRef and envFrom, env overriding envFrom in place.
#[test]
fn sources_in_kubernetes_order() {
    let maps = BTreeMap::from([
        (
            "cfg".to_string(),
            cm(&[("GREETING", "hi"), ("MODE", "prod")]),
        ),
        (
            "more".to_string(),
            cm(&[("x", "1"), ("bad=key", "skipped")]),
        ),
    ]);
    let c = Container {
        name: "app".into(),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "more".into(),
                optional: None,
            }),
            prefix: Some("M_".into()),
            ..Default::default()
        }]),
        env: Some(vec![
            var("M_x", "overridden"),
            key_ref("GREETING", "cfg", "GREETING", None),
            field("POD", "metadata.name"),
            field("IP", "status.podIP"),
            field("APP", "metadata.labels['app']"),
            field("NODE", "spec.nodeName"),
        ]),
        ..Default::default()
    };
    let env = resolve_with(&c, &maps).unwrap();
    assert_eq!(
        env,
        pairs(&[
            ("M_x", "overridden"),
            ("GREETING", "hi"),
            ("POD", "web"),
            ("IP", "10.0.0.5"),
            ("APP", "shop"),
            ("NODE", "rose1"),
        ])
    );
}

#[test]
fn missing_config_map_or_key_is_an_error_unless_optional() {
    let maps = BTreeMap::from([("cfg".to_string(), cm(&[("A", "1")]))]);
    let with = |v: EnvVar| Container {
        name: "app".into(),
        env: Some(vec![v]),
        ..Default::default()
    };
    let err = resolve_with(&with(key_ref("X", "nope", "A", None)), &maps).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container app: configmap \"nope\" not found"
    );
    let err = resolve_with(&with(key_ref("X", "cfg", "B", None)), &maps).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container app: couldn't find key B in ConfigMap default/cfg"
    );
    assert!(
        resolve_with(&with(key_ref("X", "cfg", "B", Some(true))), &maps)
            .unwrap()
            .is_empty()
    );
    assert!(
        resolve_with(&with(key_ref("X", "nope", "A", Some(true))), &maps)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn references_expand_like_kubernetes() {
    let vars = HashMap::from([("A", "1"), ("B", "two")]);
    assert_eq!(expand("$(A)-$(B)", &vars), "1-two");
    assert_eq!(expand("$$(A)", &vars), "$(A)");
    assert_eq!(expand("$(C) $A $", &vars), "$(C) $A $");
    assert_eq!(expand("x$(A", &vars), "x$(A");
    assert_eq!(expand("$()", &vars), "$()");
    let c = Container {
        name: "app".into(),
        env: Some(vec![
            var("A", "1"),
            var("B", "$(A)$(A)"),
            var("C", "$(D)"),
            var("D", "4"),
        ]),
        ..Default::default()
    };
    let env = resolve_with(&c, &BTreeMap::new()).unwrap();
    assert_eq!(
        env,
        pairs(&[("A", "1"), ("B", "11"), ("C", "$(D)"), ("D", "4")])
    );
}

#[test]
fn digest_is_empty_only_without_variables() {
    assert_eq!(digest(&[]), "");
    let a = digest(&pairs(&[("A", "1")]));
    assert!(a.starts_with("sha256:"));
    assert_ne!(a, digest(&pairs(&[("A", "2")])));
    assert_ne!(digest(&pairs(&[("AB", "")])), digest(&pairs(&[("A", "B")])));
}

#[test]
fn admission_refuses_what_mkube_cannot_provide() {
    let with = |v: EnvVar| Container {
        name: "app".into(),
        env: Some(vec![v]),
        ..Default::default()
    };
    assert!(check(&with(var("GREETING", "hello"))).is_ok());
    assert!(check(&with(field("P", "status.podIP"))).is_ok());
    assert!(check(&with(field("P", "metadata.annotations['a/b']"))).is_ok());
    let (f, m) = check(&with(var("A=B", "x"))).unwrap_err();
    assert_eq!(f, "env[0].name");
    assert!(m.contains("Invalid value"), "{m}");
    let (f, _) = check(&with(var("", "x"))).unwrap_err();
    assert_eq!(f, "env[0].name");
    let (f, m) = check(&with(field("P", "spec.serviceAccountName"))).unwrap_err();
    assert_eq!(f, "env[0].valueFrom.fieldRef.fieldPath");
    assert!(m.starts_with("Unsupported value"), "{m}");
    let secret = EnvVar {
        name: "S".into(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: "s".into(),
                key: "k".into(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (f, _) = check(&with(secret)).unwrap_err();
    assert_eq!(f, "env[0].valueFrom.secretKeyRef");
    let (f, _) = check(&with(EnvVar {
        name: "E".into(),
        value_from: Some(EnvVarSource::default()),
        ..Default::default()
    }))
    .unwrap_err();
    assert_eq!(f, "env[0].valueFrom");
    let (f, _) = check(&with(key_ref("K", "", "k", None))).unwrap_err();
    assert_eq!(f, "env[0].valueFrom.configMapKeyRef");
    let from = Container {
        name: "app".into(),
        env_from: Some(vec![EnvFromSource::default()]),
        ..Default::default()
    };
    let (f, _) = check(&from).unwrap_err();
    assert_eq!(f, "envFrom[0].configMapRef");
}

#[test]
fn config_maps_lists_every_reference() {
    let c = Container {
        name: "app".into(),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: "a".into(),
                optional: None,
            }),
            ..Default::default()
        }]),
        env: Some(vec![key_ref("X", "b", "k", None), var("Y", "v")]),
        ..Default::default()
    };
    assert_eq!(config_maps(&c), vec!["a", "b"]);
}
