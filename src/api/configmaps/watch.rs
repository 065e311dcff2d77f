//! ConfigMap watches: every `ConfigMapPut`/`ConfigMapDeleted` of a watched ConfigMap, after
//! the current ones (API-3, `machinery::watch`).

use super::render_config_map;
use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::api::ApiState;
use crate::api::machinery::objects::typed;
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::ApiError;
use crate::api::machinery::watch::{Begin, Follow, LogWatch, Reply, begin, line, respond};
use crate::events::catalogue::ConfigMapsEvent;
use crate::events::{Event, Record};
use actix_web::{HttpRequest, web};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;
use std::collections::BTreeMap;

fn config_map_object(cm: &ConfigMap, as_table: bool, rv: u64) -> Value {
    if as_table {
        super::table(std::slice::from_ref(cm), rv)
    } else {
        typed(cm, "ConfigMap", "v1")
    }
}

pub async fn watch(
    state: &ApiState,
    req: &HttpRequest,
    ns: Option<String>,
    params: ListParams,
) -> Reply {
    let Begin {
        cluster,
        as_table,
        from,
        send_current,
    } = begin(state, req, &params).await?;
    let mut local: ConfigMapsState = cluster
        .configmaps_published
        .read(&cluster.configmaps)
        .await
        .map(|s| (*s.state).clone())
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))?;
    let mut known: BTreeMap<String, u64> = BTreeMap::new();
    let mut initial = Vec::new();
    for (key, cm) in &local.config_maps {
        let cm_ns = crate::pod::namespace_of(&cm.metadata);
        let name = cm.metadata.name.as_deref().unwrap_or_default();
        let rv =
            crate::api::machinery::objects::resource_version(&cluster, "configmaps", cm_ns, name)
                .await;
        known.insert(key.clone(), rv);
        let cm = render_config_map(cm, rv);
        if send_current
            && ns.as_deref().is_none_or(|ns| ns == cm_ns)
            && params.labels_match(cm.metadata.labels.as_ref())
        {
            initial.push(line("ADDED", &config_map_object(&cm, as_table, rv)));
        }
    }
    let follow = Follow::of(&params);
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        let Ok(envelope) = record.decode() else {
            return Vec::new();
        };
        let Event::ConfigMaps(event) = envelope.event else {
            return Vec::new();
        };
        let (cm_ns, name) = event.config_map_key();
        let key = config_map_key(cm_ns, name);
        let before = local.config_maps.get(&key).cloned();
        if record.seq > known.get(&key).copied().unwrap_or(0) {
            local.apply(&event);
            known.insert(key.clone(), record.seq);
        }
        if ns.as_deref().is_some_and(|ns| ns != cm_ns) {
            return Vec::new();
        }
        let (kind, cm) = match &event {
            ConfigMapsEvent::ConfigMapDeleted { .. } => (
                "DELETED",
                before.unwrap_or_else(|| ConfigMap {
                    metadata: ObjectMeta {
                        namespace: Some(cm_ns.into()),
                        name: Some(name.into()),
                        ..Default::default()
                    },
                    ..Default::default()
                }),
            ),
            ConfigMapsEvent::ConfigMapPut { config_map, .. } => (
                if before.is_some() {
                    "MODIFIED"
                } else {
                    "ADDED"
                },
                local
                    .config_maps
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| (**config_map).clone()),
            ),
        };
        if !params.labels_match(cm.metadata.labels.as_ref()) {
            return Vec::new();
        }
        let cm = render_config_map(&cm, record.seq);
        vec![line(kind, &config_map_object(&cm, as_table, record.seq))]
    };
    let watched = LogWatch::new("ConfigMap", from, on_record);
    Ok(respond(&cluster, from, initial, follow, watched))
}
