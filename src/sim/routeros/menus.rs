//! `/rest` dispatch: menu lookup, verb mapping (§1.3), parameter checks per profile
//! (§1.12) and the cross-object rules of §5.1-10.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

use super::container::ImportJob;
use super::device::{ADDRESS, BRIDGE, Device, ENVS, MOUNTS, PORT, SERVICE, VETH};
use super::errors::ApiError;
use super::files;
use super::rows::{
    Row, apply_proplist, eval_query, fmt_id, matches_filters, normalize_bool, parse_id,
    parse_proplist, parse_query, row_json, rows_json, split_list, value_to_string,
};
use super::shared::Shared;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Menu {
    Resource,
    Config,
    Container,
    Table(&'static str),
    File,
    Log,
    UserActive,
    Fetch,
    /// `/interface`: every interface (veths and bridges), print only.
    Interfaces,
}

const MENUS: &[(&str, Menu)] = &[
    ("system/resource", Menu::Resource),
    ("container/config", Menu::Config),
    ("container/mounts", Menu::Table(MOUNTS)),
    ("container/envs", Menu::Table(ENVS)),
    ("container", Menu::Container),
    ("interface/veth", Menu::Table(VETH)),
    ("interface/bridge/port", Menu::Table(PORT)),
    ("interface/bridge", Menu::Table(BRIDGE)),
    ("ip/address", Menu::Table(ADDRESS)),
    ("ip/service", Menu::Table(SERVICE)),
    ("file", Menu::File),
    ("log", Menu::Log),
    ("user/active", Menu::UserActive),
    ("tool/fetch", Menu::Fetch),
    ("interface", Menu::Interfaces),
];

/// A parsed /rest request.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Decoded path segments after `/rest`.
    pub segs: Vec<String>,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(Value),
    Empty,
}

/// Longest menu whose path is a prefix of `segs`.
fn lookup(segs: &[String]) -> Option<(Menu, usize)> {
    MENUS
        .iter()
        .filter_map(|(path, menu)| {
            let parts: Vec<&str> = path.split('/').collect();
            (segs.len() >= parts.len() && parts.iter().zip(segs).all(|(a, b)| *a == b))
                .then_some((*menu, parts.len()))
        })
        .max_by_key(|(_, n)| *n)
}

fn name_key(menu: Menu) -> Option<&'static str> {
    match menu {
        Menu::Container | Menu::File | Menu::Interfaces => Some("name"),
        Menu::Table(t) if t == VETH || t == BRIDGE || t == SERVICE => Some("name"),
        _ => None,
    }
}

const FLAG_PROPS: &[&str] = &[
    "logging",
    "start-on-boot",
    "disabled",
    "read-only",
    "check-certificate",
    "dhcp",
    "vlan-filtering",
];

/// Props settable on add/set for a menu, by profile.
fn writable(dev: &Device, menu: Menu) -> Vec<&'static str> {
    let p = dev.profile;
    match menu {
        Menu::Container => p.container_props(),
        Menu::Config => p.config_props(),
        Menu::Table(t) if t == MOUNTS => p.mount_props(),
        Menu::Table(t) if t == ENVS => p.env_props(),
        Menu::Table(t) if t == VETH => {
            let mut v = vec![
                "name", "address", "gateway", "gateway6", "disabled", "comment",
            ];
            if p >= super::Profile::V7_21 {
                v.extend(["mac-address", "dhcp", "container-mac-address"]);
            }
            v
        }
        Menu::Table(t) if t == BRIDGE => vec![
            "name",
            "comment",
            "disabled",
            "mtu",
            "protocol-mode",
            "vlan-filtering",
            "admin-mac",
            "auto-mac",
        ],
        Menu::Table(t) if t == PORT => vec![
            "bridge",
            "interface",
            "pvid",
            "disabled",
            "comment",
            "horizon",
            "edge",
            "frame-types",
        ],
        Menu::Table(t) if t == ADDRESS => {
            vec!["address", "interface", "network", "disabled", "comment"]
        }
        Menu::Table(t) if t == SERVICE => vec![
            "port",
            "disabled",
            "max-sessions",
            "address",
            "certificate",
            "vrf",
            "tls-version",
        ],
        Menu::File => vec!["name", "type", "contents"],
        _ => vec![],
    }
}

/// Checks body keys against `allowed` (+ `extra` control args); returns the props as strings.
fn take_props(
    body: &Map<String, Value>,
    allowed: &[&str],
    extra: &[&str],
) -> Result<Row, ApiError> {
    let mut row = Row::new();
    for (k, v) in body {
        if extra.contains(&k.as_str()) {
            continue;
        }
        if !allowed.contains(&k.as_str()) {
            return Err(ApiError::unknown_parameter(k));
        }
        let Some(mut s) = value_to_string(v) else {
            continue;
        };
        if FLAG_PROPS.contains(&k.as_str()) {
            s = normalize_bool(&s)
                .ok_or_else(|| ApiError::bad(format!("invalid value for argument {k}")))?
                .to_string();
        }
        row.insert(k.clone(), s);
    }
    Ok(row)
}

fn body_obj(body: &Option<Value>) -> Result<Map<String, Value>, ApiError> {
    match body {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(ApiError::bad("invalid JSON object")),
    }
}

/// The command target: `.id`, `numbers` (or `number` on ≤7.19 for start/stop).
fn target(body: &Map<String, Value>, names: &[&str]) -> Result<String, ApiError> {
    names
        .iter()
        .find_map(|n| body.get(*n).and_then(value_to_string))
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("missing value for argument numbers"))
}

/// Rows of a table-like menu (not /file, which is walked asynchronously).
fn rows_of(dev: &Device, menu: Menu, now: Instant) -> Vec<Row> {
    match menu {
        Menu::Container => dev.container_rows(now),
        Menu::Log => dev.t.logs.clone(),
        Menu::UserActive => dev
            .rt
            .sessions
            .iter()
            .map(|s| {
                let mut r = Row::new();
                r.insert(".id".into(), fmt_id(s.id));
                r.insert("name".into(), s.name.clone());
                r.insert("when".into(), s.when.clone());
                r.insert("address".into(), s.address.clone());
                r.insert("via".into(), "rest-api".into());
                r.insert("group".into(), "full".into());
                r.insert("radius".into(), "false".into());
                r
            })
            .collect(),
        Menu::Table(t) if t == VETH => {
            let running = dev.running_interfaces();
            dev.t
                .table(VETH)
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    let up = r.get("name").map(|n| running.contains(n)).unwrap_or(false);
                    r.insert("running".into(), up.to_string());
                    r
                })
                .collect()
        }
        Menu::Table(t) => dev.t.table(t).to_vec(),
        Menu::Interfaces => {
            let mut rows: Vec<Row> = [(VETH, "veth"), (BRIDGE, "bridge")]
                .iter()
                .flat_map(|(table, kind)| {
                    rows_of(dev, Menu::Table(table), now)
                        .into_iter()
                        .map(|mut r| {
                            r.insert("type".into(), kind.to_string());
                            r
                        })
                })
                .collect();
            rows.sort_by_key(|r| r.get(".id").and_then(|i| parse_id(i)).unwrap_or(0));
            rows
        }
        Menu::Resource => vec![resource_row(dev)],
        Menu::Config => vec![dev.t.config.clone()],
        Menu::File | Menu::Fetch => vec![],
    }
}

fn fmt_uptime(secs: u64) -> String {
    let (w, d, h, m, s) = (
        secs / 604_800,
        secs / 86_400 % 7,
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60,
    );
    let mut out = String::new();
    for (v, u) in [(w, "w"), (d, "d"), (h, "h"), (m, "m")] {
        if v > 0 || !out.is_empty() {
            out.push_str(&format!("{v}{u}"));
        }
    }
    out.push_str(&format!("{s}s"));
    out
}

fn resource_row(dev: &Device) -> Row {
    let mut r = Row::new();
    for (k, v) in [
        ("uptime", fmt_uptime(dev.uptime_secs())),
        ("version", dev.profile.version().to_string()),
        ("build-time", "2026-06-12 10:21:04".to_string()),
        ("factory-software", "7.14".to_string()),
        ("free-memory", "14521245696".to_string()),
        ("total-memory", "16810770432".to_string()),
        ("cpu", "ARM64".to_string()),
        ("cpu-count", "4".to_string()),
        ("cpu-frequency", "2000".to_string()),
        ("cpu-load", "3".to_string()),
        ("free-hdd-space", "101380096".to_string()),
        ("total-hdd-space", "134217728".to_string()),
        ("architecture-name", "arm64".to_string()),
        ("board-name", "RDS2216".to_string()),
        ("platform", "MikroTik".to_string()),
    ] {
        r.insert(k.into(), v);
    }
    r
}

/// Resolves an id, a name or a comma list of them to row ids of a table menu.
fn resolve(rows: &[Row], menu: Menu, target: &str) -> Result<Vec<String>, ApiError> {
    let key = name_key(menu);
    let mut out = Vec::new();
    for t in split_list(target) {
        let by_id = parse_id(&t);
        let row = rows.iter().find(|r| {
            r.get(".id")
                .and_then(|i| parse_id(i))
                .is_some_and(|i| Some(i) == by_id)
                || key.is_some_and(|k| r.get(k) == Some(&t))
        });
        out.push(
            row.and_then(|r| r.get(".id").cloned())
                .ok_or_else(ApiError::no_such_item)?,
        );
    }
    if out.is_empty() {
        return Err(ApiError::no_such_item());
    }
    Ok(out)
}

fn filter_rows(
    rows: Vec<Row>,
    filters: &[(String, String)],
    query: &[String],
    proplist: Option<&[String]>,
) -> Vec<Row> {
    rows.into_iter()
        .filter(|r| matches_filters(r, filters) && eval_query(r, query))
        .map(|r| apply_proplist(r, proplist))
        .collect()
}

pub async fn dispatch(sh: &Arc<Shared>, req: Req) -> Result<Reply, ApiError> {
    let Some((menu, used)) = lookup(&req.segs) else {
        let first = req.segs.first().cloned().unwrap_or_default();
        return Err(ApiError::no_command(&first));
    };
    let rest: Vec<String> = req.segs[used..].to_vec();
    let method = req.method.as_str();
    match method {
        "GET" => {
            if rest.is_empty() {
                let mut filters = Vec::new();
                let mut proplist = None;
                for (k, v) in &req.query {
                    if k == ".proplist" {
                        proplist = Some(split_list(v));
                    } else {
                        filters.push((k.clone(), v.clone()));
                    }
                }
                if matches!(menu, Menu::Resource | Menu::Config) {
                    let rows = print_rows(sh, menu).await;
                    let row = rows.into_iter().next().unwrap_or_default();
                    return Ok(Reply::Json(row_json(&apply_proplist(
                        row,
                        proplist.as_deref(),
                    ))));
                }
                if menu == Menu::Fetch {
                    return Err(ApiError::no_command("fetch"));
                }
                let rows = print_rows(sh, menu).await;
                let rows = filter_rows(rows, &filters, &[], proplist.as_deref());
                return Ok(Reply::Json(rows_json(&rows)));
            }
            let target = rest.join("/");
            let rows = print_rows(sh, menu).await;
            let id = resolve(&rows, menu, &target).map_err(|_| ApiError::not_found())?;
            let row = rows
                .into_iter()
                .find(|r| r.get(".id") == id.first())
                .ok_or_else(ApiError::not_found)?;
            Ok(Reply::Json(row_json(&row)))
        }
        "PUT" => {
            if !rest.is_empty() {
                return Err(ApiError::no_command(&rest.join("/")));
            }
            let body = body_obj(&req.body)?;
            let id = add(sh, menu, &body).await?;
            let rows = print_rows(sh, menu).await;
            let row = rows
                .into_iter()
                .find(|r| r.get(".id") == Some(&id))
                .unwrap_or_default();
            Ok(Reply::Json(row_json(&row)))
        }
        "PATCH" => {
            if rest.is_empty() {
                return Err(ApiError::not_found());
            }
            let mut body = body_obj(&req.body)?;
            let target = rest.join("/");
            let rows = print_rows(sh, menu).await;
            let ids = resolve(&rows, menu, &target).map_err(|_| ApiError::not_found())?;
            body.insert(".id".into(), Value::String(ids.join(",")));
            set(sh, menu, &body).await?;
            let rows = print_rows(sh, menu).await;
            let row = rows
                .into_iter()
                .find(|r| r.get(".id") == ids.first())
                .unwrap_or_default();
            Ok(Reply::Json(row_json(&row)))
        }
        "DELETE" => {
            if rest.is_empty() {
                return Err(ApiError::not_found());
            }
            let target = rest.join("/");
            let rows = print_rows(sh, menu).await;
            let ids = resolve(&rows, menu, &target).map_err(|_| ApiError::not_found())?;
            let mut body = Map::new();
            body.insert(".id".into(), Value::String(ids.join(",")));
            remove(sh, menu, &body).await?;
            Ok(Reply::Empty)
        }
        "POST" => {
            let body = body_obj(&req.body)?;
            if menu == Menu::Fetch && rest.is_empty() {
                return super::fetch::fetch(sh, &body).await.map(Reply::Json);
            }
            if rest.len() != 1 {
                let cmd = rest
                    .last()
                    .cloned()
                    .unwrap_or_else(|| req.segs.last().cloned().unwrap_or_default());
                return Err(ApiError::no_command(&cmd));
            }
            let cmd = rest[0].as_str();
            match (menu, cmd) {
                (_, "print") => {
                    let proplist = body.get(".proplist").map(parse_proplist);
                    let query = body.get(".query").map(parse_query).unwrap_or_default();
                    let filters: Vec<(String, String)> = body
                        .iter()
                        .filter(|(k, _)| !k.starts_with('.'))
                        .filter_map(|(k, v)| value_to_string(v).map(|s| (k.clone(), s)))
                        .collect();
                    let rows = print_rows(sh, menu).await;
                    let rows = filter_rows(rows, &filters, &query, proplist.as_deref());
                    Ok(Reply::Json(rows_json(&rows)))
                }
                (Menu::Resource | Menu::Log | Menu::Fetch | Menu::Interfaces, _) => {
                    Err(ApiError::no_command(cmd))
                }
                (Menu::UserActive, "remove") => Err(ApiError::failure("action failed")),
                (Menu::UserActive, _) => Err(ApiError::no_command(cmd)),
                (Menu::Config, "set") => set(sh, menu, &body).await.map(|_| Reply::Json(json!([]))),
                (Menu::Config, _) => Err(ApiError::no_command(cmd)),
                (Menu::Table(t), "add") if t == SERVICE => Err(ApiError::no_command(cmd)),
                (_, "add") => {
                    let id = add(sh, menu, &body).await?;
                    Ok(Reply::Json(json!({"ret": id})))
                }
                (_, "set") => set(sh, menu, &body).await.map(|_| Reply::Json(json!([]))),
                (_, "remove") => remove(sh, menu, &body)
                    .await
                    .map(|_| Reply::Json(json!([]))),
                (Menu::Container, "start" | "stop") => {
                    let arg = sh.dev().profile.target_arg();
                    let _ = take_props(&body, &[], &[".id", arg])?;
                    let t = target(&body, &[".id", arg])?;
                    let now = Instant::now();
                    let mut d = sh.dev();
                    let ids = d.container_targets(&t)?;
                    if cmd == "start" {
                        d.container_start(&ids, now)?;
                    } else {
                        d.container_stop(&ids, now)?;
                    }
                    Ok(Reply::Json(json!([])))
                }
                _ => Err(ApiError::no_command(cmd)),
            }
        }
        _ => Err(ApiError::Status {
            status: 405,
            detail: None,
        }),
    }
}

/// All rows of a menu; `/file` walks the disk root and pays `fileListCostUs` per entry.
async fn print_rows(sh: &Arc<Shared>, menu: Menu) -> Vec<Row> {
    if menu == Menu::File {
        let (root, cost) = {
            let d = sh.dev();
            let k = d.knobs();
            (
                d.disk_root.clone(),
                k.sim_ms(k.file_list_cost_us as f64 / 1000.0),
            )
        };
        let entries = tokio::task::spawn_blocking(move || files::walk(&root))
            .await
            .unwrap_or_default();
        let total = cost * entries.len() as u32;
        if total > Duration::ZERO {
            tokio::time::sleep(total).await;
        }
        return sh.dev().file_rows(&entries);
    }
    let d = sh.dev();
    rows_of(&d, menu, Instant::now())
}

async fn add(sh: &Arc<Shared>, menu: Menu, body: &Map<String, Value>) -> Result<String, ApiError> {
    let now = Instant::now();
    let job;
    let id;
    let blocks;
    {
        let mut d = sh.dev();
        let props = take_props(body, &writable(&d, menu), &[])?;
        match menu {
            Menu::Container => {
                let has_file = props.get("file").is_some_and(|s| !s.is_empty());
                let (i, j) = d.container_add(props, now)?;
                id = i;
                job = j;
                blocks = has_file && d.knobs().add_blocks;
            }
            Menu::File => {
                let name = props.get("name").cloned().unwrap_or_default();
                id = d.file_add(
                    &name,
                    props.get("type").map(|s| s.as_str()),
                    props.get("contents").map(|s| s.as_str()),
                )?;
                return Ok(fmt_id(id));
            }
            Menu::Table(t) => {
                id = d.table_add(t, props)?;
                return Ok(fmt_id(id));
            }
            _ => return Err(ApiError::no_command("add")),
        }
    }
    if let Some(job) = job {
        spawn_import(sh.clone(), job);
    }
    if blocks {
        loop {
            let still = {
                let d = sh.dev();
                d.t.containers
                    .iter()
                    .any(|c| c.id == id && c.state == super::container::CState::Extracting)
            };
            if !still {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(fmt_id(id))
}

/// Runs an import off the request: extraction on the blocking pool, pulls as a task.
pub fn spawn_import(sh: Arc<Shared>, job: ImportJob) {
    let keep_config = sh.processes.is_some();
    actix_rt::spawn(async move {
        let (id, res) = match job {
            ImportJob::Archive { id, archive, root } => {
                let res = tokio::task::spawn_blocking(move || {
                    std::fs::create_dir_all(&root)
                        .map_err(|e| e.to_string())
                        .and_then(|_| {
                            super::import::extract_docker_archive(&archive, &root)
                                .map_err(|e| e.to_string())
                                .and_then(|o| keep_image_config(keep_config, &root, &o))
                        })
                })
                .await
                .unwrap_or_else(|e| Err(format!("extraction panicked: {e}")));
                (id, res)
            }
            ImportJob::Pull {
                id,
                reference,
                root,
                opts,
            } => {
                let _ = std::fs::create_dir_all(&root);
                let res = super::import::pull_remote_image(&reference, &root, &opts)
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|o| keep_image_config(keep_config, &root, &o));
                (id, res)
            }
        };
        sh.dev().import_finished(id, res);
        sh.persist_if_dirty();
    });
}

/// Process containers: the image's run config beside root-dir, for the start.
fn keep_image_config(
    keep: bool,
    root: &std::path::Path,
    outcome: &super::import::ImportOutcome,
) -> Result<(), String> {
    let (true, Some(bytes)) = (keep, &outcome.config) else {
        return Ok(());
    };
    super::process::image::ImageConfig::from_image_json(bytes)?
        .save(root)
        .map_err(|e| format!("image config: {e}"))
}

async fn set(sh: &Arc<Shared>, menu: Menu, body: &Map<String, Value>) -> Result<(), ApiError> {
    let rows = if menu == Menu::File {
        Vec::new()
    } else {
        print_rows(sh, menu).await
    };
    let mut d = sh.dev();
    let props = take_props(body, &writable(&d, menu), &[".id", "numbers"])?;
    match menu {
        Menu::Config => {
            d.t.config.extend(props);
            d.rt.dirty = true;
            Ok(())
        }
        Menu::File => {
            let t = target(body, &[".id", "numbers"])?;
            let olds = d.file_targets(&t)?;
            // `set contents=` alone rewrites a file in place; `name=` renames (§4.7).
            let new = match (props.get("name"), props.get("contents")) {
                (Some(n), _) => n.clone(),
                (None, Some(_)) => olds[0].clone(),
                (None, None) => return Err(ApiError::bad("missing value for argument name")),
            };
            if let Some(c) = props.get("contents") {
                if d.disk_root.join(&olds[0]).is_dir() {
                    return Err(ApiError::failure("cannot set contents of a directory"));
                }
                let abs = d.disk_root.join(&olds[0]);
                std::fs::write(abs, c).map_err(|e| ApiError::failure(&e.to_string()))?;
            }
            if new != olds[0] {
                d.file_rename(&olds[0], &new)?;
            }
            Ok(())
        }
        Menu::Container => {
            let t = target(body, &[".id", "numbers"])?;
            let ids = d.container_targets(&t)?;
            for c in d.t.containers.iter_mut().filter(|c| ids.contains(&c.id)) {
                let mut p = props.clone();
                if let Some(r) = p.get_mut("root-dir") {
                    *r = r.trim_start_matches('/').to_string();
                }
                c.props.extend(p);
            }
            d.rt.dirty = true;
            Ok(())
        }
        Menu::Table(tab) => {
            let t = target(body, &[".id", "numbers"])?;
            let ids = resolve(&rows, menu, &t)?;
            d.table_set(tab, &ids, &props)
        }
        _ => Err(ApiError::no_command("set")),
    }
}

async fn remove(sh: &Arc<Shared>, menu: Menu, body: &Map<String, Value>) -> Result<(), ApiError> {
    let rows = if menu == Menu::File || menu == Menu::Container {
        Vec::new()
    } else {
        print_rows(sh, menu).await
    };
    let mut d = sh.dev();
    let _ = take_props(body, &[], &[".id", "numbers"])?;
    let t = target(body, &[".id", "numbers"])?;
    match menu {
        Menu::Container => {
            let ids = d.container_targets(&t)?;
            d.container_remove(&ids, Instant::now())
        }
        Menu::File => {
            for name in d.file_targets(&t)? {
                d.file_remove(&name)?;
            }
            Ok(())
        }
        Menu::Table(tab) if tab == SERVICE => Err(ApiError::no_command("remove")),
        Menu::Table(tab) => {
            let ids = resolve(&rows, menu, &t)?;
            d.table_remove(tab, &ids)
        }
        _ => Err(ApiError::no_command("remove")),
    }
}
