//! `GET /api/v1/namespaces/{ns}/pods/{name}/log?container=`: the device's `/log` lines that
//! mention the container's device name (NAME-1), as `<time> <topics> <message>` lines. Without a
//! connected device: 503.

use crate::actors::pods::device_log::{DeviceLog, DeviceLogError};
use crate::api::ApiState;
use crate::api::cluster;
use crate::api::machinery::status::ApiError;
use crate::api::pods::view::pods_view;
use crate::pod::pod_key;
use actix_web::{HttpRequest, HttpResponse, web};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/api/v1/namespaces/{ns}/pods/{name}/log",
        web::get().to(log),
    );
}

async fn log(state: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let ns = req.match_info().get("ns").unwrap_or_default().to_string();
    let name = req.match_info().get("name").unwrap_or_default().to_string();
    let query = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
        .into_inner();
    let wanted = query
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty());
    let cluster = cluster(&state)?;
    let view = pods_view(&state).await?;
    let pod = view
        .pods
        .pods
        .get(&pod_key(&ns, &name))
        .ok_or_else(|| ApiError::not_found(format!("pod {ns}/{name} not found")))?;
    let containers: Vec<String> = pod
        .pod
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    let container = match wanted {
        Some(c) if containers.contains(&c) => c,
        Some(c) => {
            return Err(ApiError::bad_request(format!(
                "container {c} is not valid for pod {name}"
            )));
        }
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            )));
        }
    };
    let lines = cluster
        .pods
        .send(DeviceLog {
            namespace: ns.clone(),
            pod: name.clone(),
            container,
        })
        .await
        .map_err(|e| ApiError::internal(format!("pods actor unavailable: {e}")))?
        .map_err(|e| match e {
            DeviceLogError::NoDevice | DeviceLogError::Unreachable(_) => {
                ApiError::unavailable(e.to_string())
            }
            DeviceLogError::Device(_) => ApiError::internal(e.to_string()),
        })?;
    let mut body = String::new();
    for l in lines {
        body.push_str(&format!(
            "{} {} {}\n",
            l.time,
            l.topics.join(","),
            l.message
        ));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(body))
}
