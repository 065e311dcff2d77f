//! The paginated listings (spec images.md §2.3): `GET /v2/_catalog` and
//! `GET /v2/<name>/tags/list`, with `n`/`last` and a `Link` header to the next page.

use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::header;

use super::reply::Reply;
use crate::registry::error::OciError;
use crate::registry::state::Registry;

/// (n, last) of the next page when a listing was truncated.
type NextPage = Option<(usize, String)>;

fn paginate(
    items: Vec<String>,
    q: &HashMap<String, String>,
) -> Result<(Vec<String>, NextPage), OciError> {
    let mut items: Vec<String> = match q.get("last") {
        Some(last) => items.into_iter().filter(|t| t > last).collect(),
        None => items,
    };
    let Some(n) = q.get("n") else {
        return Ok((items, None));
    };
    let n: usize = n.parse().map_err(|_| {
        OciError::new(
            400,
            "PAGINATION_NUMBER_INVALID",
            "invalid number of results requested",
        )
    })?;
    if items.len() > n {
        items.truncate(n);
        let next = items.last().cloned().map(|l| (n, l));
        return Ok((items, next));
    }
    Ok((items, None))
}

fn link(path: &str, next: NextPage, b: &mut actix_web::HttpResponseBuilder) {
    if let Some((n, last)) = next {
        b.insert_header((
            header::LINK,
            format!("<{path}?n={n}&last={last}>; rel=\"next\""),
        ));
    }
}

pub fn catalog(reg: &Registry, q: &HashMap<String, String>) -> Reply {
    let (page, next) = paginate(reg.store.catalog(), q)?;
    let mut b = HttpResponse::Ok();
    link("/v2/_catalog", next, &mut b);
    Ok(b.content_type("application/json")
        .body(serde_json::json!({ "repositories": page }).to_string()))
}

pub fn tags_list(reg: &Registry, name: &str, q: &HashMap<String, String>) -> Reply {
    let tags = reg.store.tags(name).ok_or_else(|| {
        OciError::new(404, "NAME_UNKNOWN", "repository name not known to registry")
    })?;
    let (page, next) = paginate(tags, q)?;
    let mut b = HttpResponse::Ok();
    link(&format!("/v2/{name}/tags/list"), next, &mut b);
    Ok(b.content_type("application/json")
        .body(serde_json::json!({ "name": name, "tags": page }).to_string()))
}
