//! The event log over HTTP, for the console's live feed (issue 18): `GET /api/v1/log` answers
//! the newest records (`limit`, default 200, at most 1000; `area` keeps one area) as
//! `{"items": [...], "metadata": {"resourceVersion": "<last sequence>"}}`, each record as
//! `mkube events --format json` prints it; `?watch=true` follows the log from after
//! `resourceVersion` (or from its end) with one `{"type":"ADDED","object":<record>}` line per
//! record, as a Kubernetes watch does.

use crate::api::ApiState;
use crate::api::machinery::params::ListParams;
use crate::api::machinery::status::{ApiError, method_not_allowed};
use crate::api::machinery::watch;
use crate::events::{Record, record_json, subject};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use serde_json::{Value, json};

const DEFAULT_LIMIT: u64 = 200;
const MAX_LIMIT: u64 = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v1/log", web::get().to(get))
        .route("/api/v1/log", web::route().to(method_not_allowed));
}

/// `limit` and `area` (the rest is a watch's `ListParams`).
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    limit: u64,
    area: Option<String>,
}

impl Filter {
    fn parse(query: &str) -> Result<Filter, ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(query)
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?
            .into_inner();
        let mut f = Filter {
            limit: DEFAULT_LIMIT,
            area: None,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "limit" => {
                    f.limit = v
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "limit: Invalid value: {v:?}: must be 1 to {MAX_LIMIT}"
                            ))
                        })?
                }
                "area" if !v.is_empty() => f.area = Some(v),
                _ => {}
            }
        }
        Ok(f)
    }

    fn keeps(&self, record: &Record) -> bool {
        self.area
            .as_deref()
            .is_none_or(|a| subject::area_of(&record.subject) == Some(a))
    }
}

async fn get(state: web::Data<ApiState>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let filter = Filter::parse(req.query_string())?;
    let params = ListParams::from_request(&req)?;
    if params.watch {
        return follow(&state, &req, &params, filter).await;
    }
    let cluster = crate::api::cluster(&state)?;
    let unavailable = |e: crate::events::LogError| ApiError::unavailable(e.to_string());
    let last = cluster.log.last_sequence().await.map_err(unavailable)?;
    let first = cluster.log.first_sequence().await.map_err(unavailable)?;
    // The newest `limit` records of the area: read back from the end in windows.
    let mut items: Vec<Value> = Vec::new();
    let mut until = last;
    while until >= first && (items.len() as u64) < filter.limit {
        let from = until.saturating_sub(filter.limit * 4).max(first);
        let records = cluster.log.read(from, until).await.map_err(unavailable)?;
        let mut window: Vec<Value> = records
            .filter_map(|r| async move { r.ok() })
            .filter(|r| std::future::ready(filter.keeps(r)))
            .map(|r| record_json(&r, &r.decode()))
            .collect()
            .await;
        window.append(&mut items);
        items = window;
        if from <= first {
            break;
        }
        until = from - 1;
    }
    let skip = items.len().saturating_sub(filter.limit as usize);
    let items: Vec<Value> = items.into_iter().skip(skip).collect();
    Ok(HttpResponse::Ok().json(json!({
        "kind": "LogRecordList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": last.to_string()},
        "items": items,
    })))
}

async fn follow(
    state: &ApiState,
    req: &HttpRequest,
    params: &ListParams,
    filter: Filter,
) -> Result<HttpResponse, ApiError> {
    let begin = watch::begin(state, req, params).await?;
    let on_record = move |record: &Record| -> Vec<web::Bytes> {
        if !filter.keeps(record) {
            return Vec::new();
        }
        vec![watch::line("ADDED", &record_json(record, &record.decode()))]
    };
    let watched = watch::LogWatch::new("LogRecord", begin.from, on_record);
    Ok(watch::respond(
        &begin.cluster,
        begin.from,
        Vec::new(),
        watch::Follow::of(params),
        watched,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_and_area_are_checked() {
        let f = Filter::parse("limit=5&area=pods&watch=true").unwrap();
        assert_eq!(f.limit, 5);
        assert_eq!(f.area.as_deref(), Some("pods"));
        assert_eq!(Filter::parse("").unwrap().limit, DEFAULT_LIMIT);
        for bad in ["limit=0", "limit=1001", "limit=x", "limit=-1"] {
            let e = Filter::parse(bad).unwrap_err();
            assert_eq!(actix_web::ResponseError::status_code(&e), 400, "{bad}");
        }
    }
}
