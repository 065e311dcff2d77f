//! ConfigMaps (controller.md §9): POST creates (201; an existing one is 409 `AlreadyExists`,
//! as on a Kubernetes API server — issue 11 item 4, where the original replaced it), PUT
//! replaces (a stale `resourceVersion` is 409), PATCH merges (merge or strategic-merge patch,
//! see `patch.rs`), DELETE answers a `Status` naming the object; `?dryRun=All` writes nothing.
//! List, get and watch answer from the configmaps fold.

mod watch;

use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::actors::configmaps::{ConfigMapsError, Put, PutMode, Remove};
use crate::actors::pods::configsync::SyncConfigFiles;
use crate::api::ApiState;
use crate::api::MAX_BODY;
use crate::api::cluster;
use crate::api::machinery::decode::valid_name;
use crate::api::machinery::decode::{self, FieldValidation};
use crate::api::machinery::objects::resource_version;
use crate::api::machinery::objects::{age, derived_uid, list, time, typed};
use crate::api::machinery::params::ListParams;
use crate::api::machinery::patch;
use crate::api::machinery::status::{self, ApiError, method_not_allowed};
use crate::api::machinery::table::{Column, col, row, table as build, wants_table};
use crate::api::machinery::version::ResourceVersion;
use crate::api::machinery::write_options::{self, dry_run};
use actix_web::{HttpRequest, HttpResponse, web};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{Value, json};

pub fn routes(cfg: &mut web::ServiceConfig) {
    let one = "/api/v1/namespaces/{ns}/configmaps/{name}";
    cfg.route("/api/v1/configmaps", web::get().to(list_all))
        .route("/api/v1/namespaces/{ns}/configmaps", web::get().to(list_ns))
        .route("/api/v1/namespaces/{ns}/configmaps", web::post().to(create))
        .route(one, web::get().to(get))
        .route(one, web::put().to(replace))
        .route(one, web::patch().to(patch_one))
        .route(one, web::delete().to(delete))
        .route(one, web::route().to(method_not_allowed))
        .route("/api/v1/configmaps", web::route().to(method_not_allowed))
        .route(
            "/api/v1/namespaces/{ns}/configmaps",
            web::route().to(method_not_allowed),
        );
}

type Reply = Result<HttpResponse, ApiError>;

const COLUMNS: [Column; 3] = [
    col("Name", "string", 0),
    col("Data", "string", 0),
    col("Age", "string", 0),
];

pub fn table(cms: &[ConfigMap], rv: u64) -> Value {
    let rows = cms
        .iter()
        .map(|cm| {
            let data = cm.data.as_ref().map_or(0, |d| d.len())
                + cm.binary_data.as_ref().map_or(0, |d| d.len());
            row(
                vec![
                    json!(cm.metadata.name.clone().unwrap_or_default()),
                    json!(data.to_string()),
                    json!(age(cm.metadata.creation_timestamp.as_ref())),
                ],
                &cm.metadata,
            )
        })
        .collect();
    build(&COLUMNS, rows, rv)
}

/// A stored ConfigMap as the API shows it: with its uid and `resourceVersion`.
pub fn render_config_map(cm: &ConfigMap, rv: u64) -> ConfigMap {
    let mut cm = cm.clone();
    if cm.metadata.uid.is_none() {
        cm.metadata.uid = Some(derived_uid(&format!(
            "configmap/{}/{}",
            crate::pod::namespace_of(&cm.metadata),
            cm.metadata.name.as_deref().unwrap_or_default()
        )));
    }
    cm.metadata.resource_version = Some(rv.to_string());
    cm
}

async fn fold(state: &ApiState) -> Result<ConfigMapsState, ApiError> {
    let cluster = cluster(state)?;
    cluster
        .configmaps_published
        .read(&cluster.configmaps)
        .await
        .map(|s| (*s.state).clone())
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))
}

async fn list_all(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    list_cms(&state, &req, None).await
}

async fn list_ns(state: web::Data<ApiState>, req: HttpRequest, ns: web::Path<String>) -> Reply {
    list_cms(&state, &req, Some(ns.into_inner())).await
}

async fn list_cms(state: &ApiState, req: &HttpRequest, ns: Option<String>) -> Reply {
    let params = ListParams::from_request(req)?;
    if params.watch {
        return watch::watch(state, req, ns, params).await;
    }
    let cluster = cluster(state)?;
    let last = cluster.log.last_sequence().await.unwrap_or(0);
    let mut items = Vec::new();
    for cm in fold(state).await?.config_maps.values() {
        let cm_ns = crate::pod::namespace_of(&cm.metadata);
        let name = cm.metadata.name.as_deref().unwrap_or_default();
        if ns.as_deref().is_some_and(|n| n != cm_ns)
            || !params.labels_match(cm.metadata.labels.as_ref())
            || !params.fields_match(|f| match f {
                "metadata.name" => Some(name.to_string()),
                "metadata.namespace" => Some(cm_ns.to_string()),
                _ => None,
            })?
        {
            continue;
        }
        let rv = resource_version(cluster, "configmaps", cm_ns, name).await;
        items.push(render_config_map(cm, rv));
    }
    if wants_table(req) {
        return Ok(HttpResponse::Ok().json(table(&items, last)));
    }
    let items = items.iter().map(|c| typed(c, "ConfigMap", "v1")).collect();
    Ok(HttpResponse::Ok().json(list("ConfigMapList", last, items)))
}

fn ns_name(req: &HttpRequest) -> (String, String) {
    let get = |k: &str| req.match_info().get(k).unwrap_or_default().to_string();
    (get("ns"), get("name"))
}

async fn current(state: &ApiState, ns: &str, name: &str) -> Result<ConfigMap, ApiError> {
    let cluster = cluster(state)?;
    let cm = fold(state)
        .await?
        .config_maps
        .remove(&config_map_key(ns, name))
        .ok_or_else(|| ApiError::not_found(format!("configmap {ns}/{name} not found")))?;
    let rv = resource_version(cluster, "configmaps", ns, name).await;
    Ok(render_config_map(&cm, rv))
}

async fn get(state: web::Data<ApiState>, req: HttpRequest) -> Reply {
    let (ns, name) = ns_name(&req);
    let cm = current(&state, &ns, &name).await?;
    if wants_table(&req) {
        let rv = cm
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        return Ok(HttpResponse::Ok().json(table(&[cm], rv)));
    }
    Ok(HttpResponse::Ok().json(typed(&cm, "ConfigMap", "v1")))
}

fn config_map_from(
    value: Value,
    validation: FieldValidation,
    ns: &str,
    name: Option<&str>,
) -> Result<ConfigMap, ApiError> {
    let mut cm: ConfigMap = decode::object(value, "ConfigMap", "configmap", validation)?;
    let cm_name = decode::place(&mut cm, ns, name)?;
    if cm_name.is_empty() {
        return Err(ApiError::bad_request("configmap name is required"));
    }
    valid_config_map_name(&cm_name)?;
    for key in cm
        .data
        .iter()
        .flat_map(|d| d.keys())
        .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
    {
        // NAME-6: every key becomes one file name inside the volume directory.
        if !crate::pod::names::config_key_is_file_name(key) {
            return Err(ApiError::invalid(format!(
                "data[{key}]: Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
            )));
        }
    }
    cm.metadata.resource_version = None;
    cm.metadata.managed_fields = None;
    Ok(cm)
}

/// DNS-1123 subdomain: ConfigMap names may contain dots.
fn valid_config_map_name(name: &str) -> Result<(), ApiError> {
    let ok = name.len() <= 253 && name.split('.').all(|label| valid_name(label).is_ok());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "metadata.name: Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )))
    }
}

async fn store(state: &ApiState, mut cm: ConfigMap, mode: PutMode) -> Result<(), ApiError> {
    let cluster = cluster(state)?;
    let trigger = format!(
        "configmap/{}/{}",
        crate::pod::namespace_of(&cm.metadata),
        cm.metadata.name.as_deref().unwrap_or_default()
    );
    let msg = Put {
        config_map: {
            if cm.metadata.creation_timestamp.is_none() {
                cm.metadata.creation_timestamp = time(chrono::Utc::now());
            }
            cm
        },
        mode,
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    ask(cluster, msg).await?;
    // §9/§5 step 5: the pods mounting it get their files (and are rebuilt) at once, without
    // holding the request for a rebuild ([D]: PUT and PATCH too, not only POST).
    cluster.pods.do_send(SyncConfigFiles { trigger });
    Ok(())
}

async fn create(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (ns, _) = ns_name(&req);
    cluster(&state)?;
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::object_body(&req, &body, "configmap")?;
    let mut cm = config_map_from(value, validation, &ns, None)?;
    let name = cm.metadata.name.clone().unwrap_or_default();
    if current(&state, &ns, &name).await.is_ok() {
        return Err(ApiError::already_exists(format!(
            "configmaps \"{name}\" already exists"
        )));
    }
    cm.metadata.uid = Some(uuid::Uuid::new_v4().to_string());
    if dry_run(req.query_string())? {
        if cm.metadata.creation_timestamp.is_none() {
            cm.metadata.creation_timestamp = time(chrono::Utc::now());
        }
        let cm = render_config_map(&cm, 0);
        return Ok(HttpResponse::Created().json(typed(&cm, "ConfigMap", "v1")));
    }
    store(&state, cm, PutMode::Create).await?;
    let cm = current(&state, &ns, &name).await?;
    Ok(HttpResponse::Created().json(typed(&cm, "ConfigMap", "v1")))
}

async fn replace(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (ns, name) = ns_name(&req);
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let value = decode::object_body(&req, &body, "configmap")?;
    // The body's version is checked against the stored one (optimistic concurrency).
    let version = value
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse::<ResourceVersion>().map_err(ApiError::bad_request))
        .transpose()?;
    let cm = config_map_from(value, validation, &ns, Some(&name))?;
    update(&state, &req, &ns, &name, cm, version).await
}

async fn patch_one(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (ns, name) = ns_name(&req);
    let kind = patch::kind_of(&req)?;
    let validation = FieldValidation::from_query(req.query_string())?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let patch_value = decode::json_object(&body, "patch")?;
    let mut existing = current(&state, &ns, &name).await?;
    existing.metadata.resource_version = None;
    let patched = patch::apply(&typed(&existing, "ConfigMap", "v1"), &patch_value, kind);
    let cm = config_map_from(patched, validation, &ns, Some(&name))?;
    update(&state, &req, &ns, &name, cm, None).await
}

/// The stored version of a rendered ConfigMap.
fn version_of(cm: &ConfigMap) -> ResourceVersion {
    cm.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

async fn update(
    state: &ApiState,
    req: &HttpRequest,
    ns: &str,
    name: &str,
    mut cm: ConfigMap,
    version: Option<ResourceVersion>,
) -> Reply {
    let existing = current(state, ns, name).await?;
    let have = version_of(&existing);
    if let Some(want) = version
        && want.seq != have.seq
    {
        return Err(ApiError::conflict(format!(
            "Operation cannot be fulfilled on configmaps {name:?}: the object has been modified; please apply your changes to the latest version ({have}) and try again"
        )));
    }
    cm.metadata.uid = existing.metadata.uid;
    cm.metadata.creation_timestamp = existing.metadata.creation_timestamp;
    if dry_run(req.query_string())? {
        let cm = render_config_map(&cm, have.seq);
        return Ok(HttpResponse::Ok().json(typed(&cm, "ConfigMap", "v1")));
    }
    store(state, cm, PutMode::Replace).await?;
    let cm = current(state, ns, name).await?;
    Ok(HttpResponse::Ok().json(typed(&cm, "ConfigMap", "v1")))
}

async fn delete(state: web::Data<ApiState>, req: HttpRequest, payload: web::Payload) -> Reply {
    let (namespace, name) = ns_name(&req);
    let cluster = cluster(&state)?;
    let body = status::read_body(payload, MAX_BODY).await?;
    let options = write_options::Delete::parse(req.query_string(), &body)?;
    let existing = current(&state, &namespace, &name).await?;
    let uid = existing.metadata.uid.clone().unwrap_or_default();
    options.check(&uid, version_of(&existing))?;
    if options.dry_run {
        return Ok(status::deleted("configmaps", &name, &uid));
    }
    let msg = Remove {
        namespace,
        name: name.clone(),
        correlation: uuid::Uuid::new_v4().to_string(),
    };
    ask(cluster, msg).await?;
    Ok(status::deleted("configmaps", &name, &uid))
}

/// Sends a write to the configmaps actor; its refusal becomes the matching `Status`.
async fn ask<M, T>(cluster: &crate::actors::wiring::Cluster, msg: M) -> Result<T, ApiError>
where
    M: actix::Message<Result = Result<T, ConfigMapsError>> + Send + 'static,
    T: Send + 'static,
    crate::actors::configmaps::ConfigMapsActor: actix::Handler<M>,
{
    cluster
        .configmaps
        .send(msg)
        .await
        .map_err(|e| ApiError::internal(format!("configmaps actor unavailable: {e}")))?
        .map_err(|e| cm_error(&e))
}

fn cm_error(e: &ConfigMapsError) -> ApiError {
    match e {
        ConfigMapsError::AlreadyExists(_) => ApiError::already_exists(e.to_string()),
        ConfigMapsError::NotFound(_) => ApiError::not_found(e.to_string()),
        ConfigMapsError::Log(append) => append.into(),
    }
}
