//! The `/api/v1` routes of spec microdns-api.md §2, as plain functions over the store.

use serde::Deserialize;
use serde_json::{Value, json};

use super::MicrodnsVersion;
use super::faults::Mutation;
use super::names::{check_data, check_name};
use super::ptr;
use super::shared::Shared;
use super::store::{NewRecord, Store, Zone, page};

/// A reply before it becomes HTTP.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Body,
    /// Methods for the `Allow` header of a 405.
    pub allow: Option<&'static str>,
}

#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Text(String),
    Json(Value),
    /// JSON content type with a body that may not parse (`bad_json`).
    Raw(String),
}

impl Reply {
    pub fn json(status: u16, v: Value) -> Reply {
        Reply {
            status,
            body: Body::Json(v),
            allow: None,
        }
    }
    pub fn text(status: u16, t: impl Into<String>) -> Reply {
        Reply {
            status,
            body: Body::Text(t.into()),
            allow: None,
        }
    }
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            body: Body::Empty,
            allow: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Zones,
    Zone(String),
    Records(String),
    Record(String, String),
    Leases,
    Health,
}

impl Route {
    /// Matches a path; `None` for unknown routes (404, empty body).
    pub fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/api/v1/")?;
        let segs: Vec<&str> = rest.split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return None;
        }
        let id = |s: &str| percent_decode(s);
        Some(match segs.as_slice() {
            ["zones"] => Route::Zones,
            ["zones", z] => Route::Zone(id(z)),
            ["zones", z, "records"] => Route::Records(id(z)),
            ["zones", z, "records", r] => Route::Record(id(z), id(r)),
            ["leases"] => Route::Leases,
            ["health"] => Route::Health,
            _ => return None,
        })
    }

    pub fn template(&self) -> &'static str {
        match self {
            Route::Zones => "/api/v1/zones",
            Route::Zone(_) => "/api/v1/zones/{zone_id}",
            Route::Records(_) => "/api/v1/zones/{zone_id}/records",
            Route::Record(..) => "/api/v1/zones/{zone_id}/records/{record_id}",
            Route::Leases => "/api/v1/leases",
            Route::Health => "/api/v1/health",
        }
    }

    fn allow(&self) -> &'static str {
        match self {
            Route::Zones | Route::Records(_) => "GET,POST",
            Route::Zone(_) => "GET,DELETE",
            Route::Record(..) => "GET,PUT,DELETE",
            Route::Leases | Route::Health => "GET",
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Modifiers from standing faults that change what list routes return.
#[derive(Debug, Default, Clone)]
pub struct ListMods {
    pub page_override: Option<(usize, bool)>,
    pub mutate: Option<(u64, Mutation)>,
    pub zone_filler: Option<usize>,
}

pub struct Request<'a> {
    pub method: &'a str,
    pub route: Route,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
}

#[derive(Debug, Deserialize)]
struct Paging {
    offset: Option<usize>,
    limit: Option<usize>,
}

fn paging(q: &str) -> Result<(usize, Option<usize>), Reply> {
    let p = actix_web::web::Query::<Paging>::from_query(q)
        .map_err(|e| Reply::text(400, format!("Failed to deserialize query string: {e}")))?
        .into_inner();
    Ok((p.offset.unwrap_or(0), p.limit))
}

fn check_id(sh: &Shared, id: &str) -> Result<(), Reply> {
    if sh.lenient_ids || uuid::Uuid::try_parse(id).is_ok() {
        return Ok(());
    }
    Err(Reply::text(
        400,
        format!("Invalid URL: Cannot parse `{id}` to a `Uuid`"),
    ))
}

/// 415 without a JSON content type, 400 for malformed JSON, 422 for the wrong shape.
fn json_body<T: serde::de::DeserializeOwned>(req: &Request<'_>) -> Result<T, Reply> {
    let ct = req.content_type.unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let is_json =
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
    if !is_json {
        return Err(Reply::text(
            415,
            "Expected request with `Content-Type: application/json`",
        ));
    }
    let v: Value = serde_json::from_slice(req.body).map_err(|e| {
        Reply::text(
            400,
            format!("Failed to parse the request body as JSON: {e}"),
        )
    })?;
    serde_json::from_value(v).map_err(|e| {
        Reply::text(
            422,
            format!("Failed to deserialize the JSON body into the target type: {e}"),
        )
    })
}

pub fn handle(sh: &Shared, req: &Request<'_>, mods: &ListMods) -> Reply {
    let allowed = req.route.allow().split(',').any(|m| m == req.method);
    if !allowed {
        let mut r = Reply::empty(405);
        r.allow = Some(req.route.allow());
        return r;
    }
    let res = match (&req.route, req.method) {
        (Route::Zones, "GET") => list_zones(sh, req, mods),
        (Route::Zones, _) => create_zone(sh, req),
        (Route::Zone(z), "GET") => get_zone(sh, z),
        (Route::Zone(z), _) => delete_zone(sh, z),
        (Route::Records(z), "GET") => list_records(sh, req, z, mods),
        (Route::Records(z), _) => create_record(sh, req, z),
        (Route::Record(z, r), "GET") => get_record(sh, z, r),
        (Route::Record(z, r), "PUT") => put_record(sh, req, z, r),
        (Route::Record(z, r), _) => delete_record(sh, z, r),
        (Route::Leases, _) => list_leases(sh, req, mods),
        (Route::Health, _) => {
            let zones = sh.store().zones.len();
            Ok(Reply::json(
                200,
                json!({"status": "ok", "version": "microdns-sim", "zones": zones}),
            ))
        }
    };
    res.unwrap_or_else(|r| r)
}

fn override_page(
    all: &[Value],
    offset: usize,
    limit: Option<usize>,
    mods: &ListMods,
) -> Vec<Value> {
    match mods.page_override {
        Some((n, true)) if !all.is_empty() => (0..n)
            .map(|i| all[(offset + i) % all.len()].clone())
            .collect(),
        Some((n, _)) => page(all, offset, Some(n)),
        None => page(all, offset, limit),
    }
}

fn list_zones(sh: &Shared, req: &Request<'_>, mods: &ListMods) -> Result<Reply, Reply> {
    let (offset, limit) = paging(req.query)?;
    let st = sh.store();
    let mut all: Vec<Value> = Vec::new();
    for i in 0..mods.zone_filler.unwrap_or(0) {
        let mut z = Zone::new(&format!("filler{i}.sim.invalid"));
        z.id = format!("00000000-0000-4000-8000-{i:012}");
        all.push(st.zone_json(&z));
    }
    all.extend(st.zones_sorted().into_iter().map(|z| st.zone_json(z)));
    Ok(Reply::json(
        200,
        Value::Array(override_page(&all, offset, limit, mods)),
    ))
}

#[derive(Deserialize)]
struct SoaPatch {
    mname: Option<String>,
    rname: Option<String>,
    serial: Option<u32>,
    refresh: Option<u32>,
    retry: Option<u32>,
    expire: Option<u32>,
    minimum: Option<u32>,
}

#[derive(Deserialize)]
struct ZoneCreate {
    name: String,
    default_ttl: Option<u32>,
    soa: Option<SoaPatch>,
}

fn create_zone(sh: &Shared, req: &Request<'_>) -> Result<Reply, Reply> {
    let body: ZoneCreate = json_body(req)?;
    let name = body.name.trim_end_matches('.');
    check_name(name).map_err(|e| Reply::text(400, e))?;
    let mut st = sh.store();
    if st.zone_by_name(name).is_some() {
        return Err(Reply::text(409, format!("duplicate zone: {name}")));
    }
    let mut z = Zone::new(name);
    if let Some(t) = body.default_ttl {
        z.default_ttl = t;
    }
    if let Some(p) = body.soa {
        let s = &mut z.soa;
        s.mname = p.mname.unwrap_or(s.mname.clone());
        s.rname = p.rname.unwrap_or(s.rname.clone());
        s.serial = p.serial.unwrap_or(s.serial);
        s.refresh = p.refresh.unwrap_or(s.refresh);
        s.retry = p.retry.unwrap_or(s.retry);
        s.expire = p.expire.unwrap_or(s.expire);
        s.minimum = p.minimum.unwrap_or(s.minimum);
    }
    Ok(Reply::json(201, st.add_zone(z)))
}

fn zone_not_found() -> Reply {
    Reply::text(404, "zone not found")
}

fn get_zone(sh: &Shared, z: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    let st = sh.store();
    let zone = st.zone(z).ok_or_else(zone_not_found)?;
    Ok(Reply::json(200, st.zone_json(zone)))
}

fn delete_zone(sh: &Shared, z: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    if sh.store().delete_zone(z) {
        Ok(Reply::empty(204))
    } else {
        Err(zone_not_found())
    }
}

pub fn record_json(version: MicrodnsVersion, r: &super::store::Record) -> Value {
    let mut v = r.to_json();
    if version == MicrodnsVersion::Current {
        v["source"] = json!(r.source);
        v["origin"] = r.origin.clone();
    }
    v
}

fn list_records(sh: &Shared, req: &Request<'_>, z: &str, mods: &ListMods) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    let (offset, limit) = paging(req.query)?;
    let mut st = sh.store();
    if st.zone(z).is_none() {
        return Err(zone_not_found());
    }
    let all: Vec<Value> = st
        .zone_records(z)
        .into_iter()
        .map(|r| record_json(sh.version, r))
        .collect();
    let out = override_page(&all, offset, limit, mods);
    if let Some((after, action)) = mods.mutate {
        let served = {
            let mut f = sh.faults();
            f.pages_served += 1;
            f.pages_served
        };
        if served == after {
            mutate(&mut st, z, action);
        }
    }
    Ok(Reply::json(200, Value::Array(out)))
}

/// `mutate_between_pages`: a record that sorts before everything, or the first one gone.
fn mutate(st: &mut Store, z: &str, action: Mutation) {
    match action {
        Mutation::Insert => {
            let n = st.next_seq;
            st.insert_record(
                z,
                NewRecord {
                    name: format!("0mutant{n}"),
                    ttl: 60,
                    rtype: "A".into(),
                    data: json!({"type": "A", "data": "192.0.2.1"}),
                    enabled: true,
                    health_check: Value::Null,
                },
            );
        }
        Mutation::Delete => {
            if let Some(id) = st.zone_records(z).first().map(|r| r.id.clone()) {
                st.delete_record(&id);
            }
        }
    }
}

#[derive(Deserialize)]
struct RecordCreate {
    name: String,
    ttl: Option<u32>,
    data: Value,
    enabled: Option<bool>,
    health_check: Option<Value>,
    source: Option<String>,
    origin: Option<Value>,
}

fn create_record(sh: &Shared, req: &Request<'_>, z: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    let body: RecordCreate = json_body(req)?;
    let rtype = check_data(&body.data).map_err(|e| Reply::text(422, e))?;
    check_name(&body.name).map_err(|e| Reply::text(400, e))?;
    let mut st = sh.store();
    let zone = st.zone(z).ok_or_else(zone_not_found)?;
    let n = NewRecord {
        name: body.name,
        ttl: body.ttl.unwrap_or(zone.default_ttl),
        rtype,
        data: body.data,
        enabled: body.enabled.unwrap_or(true),
        health_check: body.health_check.unwrap_or(Value::Null),
    };
    if sh.dedup
        && let Some(existing) = st.find_duplicate(z, &n)
    {
        return Ok(Reply::json(200, record_json(sh.version, existing)));
    }
    let id = st.insert_record(z, n)["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let Some(r) = st.record_mut(&id) {
        r.source = body.source.unwrap_or_else(|| "manual".into());
        r.origin = body.origin.unwrap_or(Value::Null);
    }
    if sh.version == MicrodnsVersion::Current {
        ptr::on_write(&mut st, &id);
    }
    let out = st
        .record(&id)
        .map(|r| record_json(sh.version, r))
        .unwrap_or_default();
    Ok(Reply::json(201, out))
}

fn record_not_found() -> Reply {
    Reply::text(404, "record not found")
}

fn get_record(sh: &Shared, z: &str, r: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    check_id(sh, r)?;
    let st = sh.store();
    let rec = st.record(r).ok_or_else(record_not_found)?;
    Ok(Reply::json(200, record_json(sh.version, rec)))
}

#[derive(Deserialize)]
struct RecordPatch {
    name: Option<String>,
    ttl: Option<u32>,
    data: Option<Value>,
    enabled: Option<bool>,
    health_check: Option<Value>,
}

fn put_record(sh: &Shared, req: &Request<'_>, z: &str, r: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    check_id(sh, r)?;
    let p: RecordPatch = json_body(req)?;
    let rtype = match &p.data {
        Some(d) => Some(check_data(d).map_err(|e| Reply::text(422, e))?),
        None => None,
    };
    if let Some(n) = &p.name {
        check_name(n).map_err(|e| Reply::text(400, e))?;
    }
    let mut st = sh.store();
    let current = sh.version == MicrodnsVersion::Current;
    if current && st.record(r).is_some() {
        ptr::on_delete(&mut st, r);
    }
    let rec = st.record_mut(r).ok_or_else(record_not_found)?;
    if let Some(n) = p.name {
        rec.name = n;
    }
    if let Some(t) = p.ttl {
        rec.ttl = t;
    }
    if let (Some(d), Some(t)) = (p.data, rtype) {
        rec.data = d;
        rec.rtype = t;
    }
    if let Some(e) = p.enabled {
        rec.enabled = e;
    }
    if let Some(h) = p.health_check {
        rec.health_check = h;
    }
    rec.updated_at = super::store::now_text();
    let zone_id = rec.zone_id.clone();
    st.touch_zone(&zone_id);
    if current {
        ptr::on_write(&mut st, r);
    }
    let out = st
        .record(r)
        .map(|x| record_json(sh.version, x))
        .unwrap_or_default();
    Ok(Reply::json(200, out))
}

fn delete_record(sh: &Shared, z: &str, r: &str) -> Result<Reply, Reply> {
    check_id(sh, z)?;
    check_id(sh, r)?;
    let mut st = sh.store();
    if st.record(r).is_none() {
        return Err(record_not_found());
    }
    if sh.version == MicrodnsVersion::Current {
        ptr::on_delete(&mut st, r);
    }
    st.delete_record(r);
    Ok(Reply::empty(204))
}

fn list_leases(sh: &Shared, req: &Request<'_>, mods: &ListMods) -> Result<Reply, Reply> {
    let (offset, limit) = paging(req.query)?;
    let all = sh.store().leases.clone();
    Ok(Reply::json(
        200,
        Value::Array(override_page(&all, offset, limit, mods)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/api/v1/zones"), Some(Route::Zones));
        assert_eq!(
            Route::parse("/api/v1/zones/a/records/b"),
            Some(Route::Record("a".into(), "b".into()))
        );
        assert_eq!(Route::parse("/api/v1/zones/"), None);
        assert_eq!(Route::parse("/api/v1/zones//records"), None);
        assert_eq!(Route::parse("/api/v2/zones"), None);
    }
}
