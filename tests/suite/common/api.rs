//! The API served in-process on a free loopback port, in front of a cluster booted with the
//! same `wiring::boot` the binary uses, so tests can record engine facts (containers created,
//! IPs allocated) that the API then reports.

use super::cluster;
use super::nats::free_port;
use mkube::actors::wiring::Cluster;
use mkube::api::{self, ApiState};
use mkube::config::{ApiConfig, Config};
use mkube::events::EventLog;
use mkube::metrics::Metrics;
use serde_json::Value;

pub struct Api {
    pub cluster: Cluster,
    pub config: Config,
    pub base: String,
    pub http: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl Api {
    /// Boots a cluster on `nats_url` and serves the API for it. Run inside an actix system.
    pub async fn start(nats_url: &str) -> Api {
        Api::start_with(cluster::config(nats_url)).await
    }

    /// Boots a cluster with `config` (e.g. standalone against the simulator) and serves it.
    pub async fn start_with(config: Config) -> Api {
        let cluster = cluster::boot(&config).await;
        let state = ApiState::new(cluster::NODE, Metrics::new(), &config.networks);
        let _ = state.cluster.set(cluster.clone());
        let listen = format!("127.0.0.1:{}", free_port());
        let api_config = ApiConfig {
            listen: listen.clone(),
            ..ApiConfig::default()
        };
        let server = api::server(&api_config, state).expect("API binds");
        let handle = server.handle();
        actix_rt::spawn(server);
        Api {
            cluster,
            config,
            base: format!("http://{listen}"),
            http: super::http(),
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> &EventLog {
        &self.cluster.log
    }

    pub async fn last_seq(&self) -> u64 {
        self.cluster
            .log
            .last_sequence()
            .await
            .expect("last sequence")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn send(&self, method: &str, path: &str, ctype: &str, body: String) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = self
            .http
            .request(method, self.url(path))
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .expect("request");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, "application/json", body.to_string())
            .await
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

/// Asserts a `v1.Status` failure with `code` whose message contains `needle`.
pub fn assert_status(got: &(u16, Value), code: u16, needle: &str) {
    let (status, body) = got;
    assert_eq!(*status, code, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    assert_eq!(body["code"], code, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message:?} lacks {needle:?}");
}
