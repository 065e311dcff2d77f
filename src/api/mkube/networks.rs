//! The networks and their addresses (controller.md §9), for operators and dashboards beside
//! the consistency report: `GET /api/v1/networks`, `/api/v1/networks/{name}`,
//! `/api/v1/networks/{name}/ports` and `GET /api/v1/allocations`, from the configuration and
//! IPAM's published fold. Other methods are 405.

use crate::actors::ipam::pool::{Pool, Usage};
use crate::actors::ipam::state::{IpamState, Port};
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::{ApiState, cluster};
use crate::config::Network;
use actix_web::{HttpResponse, web};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn routes(cfg: &mut web::ServiceConfig) {
    let one = "/api/v1/networks/{name}";
    let ports = "/api/v1/networks/{name}/ports";
    cfg.route("/api/v1/networks", web::get().to(list))
        .route("/api/v1/networks", web::route().to(method_not_allowed))
        .route(one, web::get().to(get))
        .route(one, web::route().to(method_not_allowed))
        .route(ports, web::get().to(get_ports))
        .route(ports, web::route().to(method_not_allowed))
        .route("/api/v1/allocations", web::get().to(allocations))
        .route("/api/v1/allocations", web::route().to(method_not_allowed));
}

type Reply = Result<HttpResponse, ApiError>;

/// A network as the list shows it: the configuration, its DNS zone and how much of its
/// dynamic range IPAM handed out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    name: &'a str,
    bridge: &'a str,
    cidr: String,
    gateway: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    dns_zone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipam: Option<Usage>,
}

/// One network with its ports.
#[derive(Serialize)]
struct Detail<'a> {
    #[serde(flatten)]
    summary: Summary<'a>,
    ports: Vec<Port>,
}

fn summary<'a>(n: &'a Network, ipam: &IpamState) -> Summary<'a> {
    let zone = n.dns.zone.trim();
    let held = ipam
        .pools
        .get(&n.name)
        .map(|p| p.values().map(|a| a.ip).collect())
        .unwrap_or_default();
    Summary {
        name: &n.name,
        bridge: &n.bridge,
        cidr: n
            .try_subnet()
            .map_or_else(|_| n.cidr.clone(), |s| s.to_string()),
        gateway: n
            .try_gateway_ip()
            .map(|g| g.to_string())
            .unwrap_or_default(),
        dns_zone: (!zone.is_empty()).then_some(zone),
        ipam: Pool::of(n).ok().map(|p| p.usage(&held)),
    }
}

fn network<'a>(state: &'a ApiState, name: &str) -> Result<&'a Network, ApiError> {
    state
        .networks
        .iter()
        .find(|n| n.name == name)
        .ok_or_else(|| ApiError::not_found(format!("network {name:?} not found")))
}

async fn ipam(state: &ApiState) -> Result<Arc<IpamState>, ApiError> {
    let cluster = cluster(state)?;
    cluster
        .ipam_published
        .read(&cluster.ipam)
        .await
        .map(|s| s.state)
        .map_err(|e| ApiError::internal(format!("ipam actor unavailable: {e}")))
}

/// 200 `[{name, bridge, cidr, gateway, dnsZone?, ipam}]` in configuration order; `ipam` is
/// `{first, last, size, used, free, freeRuns: [[a, b], …]}` of the dynamic range.
async fn list(state: web::Data<ApiState>) -> Reply {
    let ipam = ipam(&state).await?;
    let all: Vec<Summary> = state.networks.iter().map(|n| summary(n, &ipam)).collect();
    Ok(HttpResponse::Ok().json(all))
}

/// 200 the list's entry plus `ports`; 404 for an unknown network.
async fn get(state: web::Data<ApiState>, name: web::Path<String>) -> Reply {
    let net = network(&state, &name)?;
    let ipam = ipam(&state).await?;
    Ok(HttpResponse::Ok().json(Detail {
        summary: summary(net, &ipam),
        ports: ipam.ports(&net.name),
    }))
}

/// 200 `[{name, ip, hostname}]` ordered by veth; 404 for an unknown network.
async fn get_ports(state: web::Data<ApiState>, name: web::Path<String>) -> Reply {
    let net = network(&state, &name)?;
    Ok(HttpResponse::Ok().json(ipam(&state).await?.ports(&net.name)))
}

/// 200 `{"<veth>": "<ip>"}` across every network.
async fn allocations(state: web::Data<ApiState>) -> Reply {
    let all: BTreeMap<String, String> = ipam(&state)
        .await?
        .allocations()
        .into_iter()
        .map(|(k, ip)| (k, ip.to_string()))
        .collect();
    Ok(HttpResponse::Ok().json(all))
}
