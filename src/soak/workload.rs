//! The workload: pod creates, updates and deletes and ConfigMap writes through the HTTP API,
//! as kubectl sends them, each answer recorded in the ledger.

use super::config::{NAMESPACE, NETWORK};
use super::ledger::{Answer, Kind, Ledger, Promise};
use super::measure::Latencies;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

pub const CONFIGMAPS: usize = 3;
pub const CONTAINER: &str = "app";

pub fn pod_name(i: usize) -> String {
    format!("p{i}")
}

pub fn configmap_name(i: usize) -> String {
    format!("cm{i}")
}

/// The ConfigMap pod `i` mounts.
pub fn configmap_of(i: usize) -> String {
    configmap_name(i % CONFIGMAPS)
}

pub fn pod_body(i: usize, generation: u64, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(i),
            "namespace": NAMESPACE,
            "annotations": {"vkube.io/network": NETWORK, "vkube.io/image-policy": "auto"}
        },
        "spec": {
            "restartPolicy": "Always",
            "containers": [{
                "name": CONTAINER,
                "image": image,
                "env": [{"name": "GEN", "value": generation.to_string()}],
                "volumeMounts": [{"name": "cfg", "mountPath": "/etc/soak"}]
            }],
            "volumes": [{"name": "cfg", "configMap": {"name": configmap_of(i)}}]
        }
    })
}

pub fn configmap_body(name: &str, value: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "data": {"v": value}
    })
}

pub struct Workload {
    http: reqwest::Client,
    api: String,
    image: String,
    pods: usize,
    rng: StdRng,
    next_generation: u64,
    pub ledger: Ledger,
    pub latencies: Latencies,
    /// Whether a fault is in place now (the run loop says), for the latencies.
    pub during_fault: bool,
}

impl Workload {
    pub fn new(http: reqwest::Client, api: String, image: String, pods: usize, seed: u64) -> Self {
        Workload {
            http,
            api,
            image,
            pods,
            // Its own stream, so the fault schedule does not depend on how writes went.
            rng: StdRng::seed_from_u64(seed ^ 0x005e_ed0f_3017),
            next_generation: 1,
            ledger: Ledger::default(),
            latencies: Latencies::default(),
            during_fault: false,
        }
    }

    /// One write, chosen at random: mostly pods, sometimes a ConfigMap.
    pub async fn step(&mut self) {
        if self.rng.random_bool(0.2) {
            let i = self.rng.random_range(0..CONFIGMAPS);
            self.write_configmap(&configmap_name(i)).await;
            return;
        }
        let i = self.rng.random_range(0..self.pods);
        let name = pod_name(i);
        let mut exists = matches!(
            self.ledger.believed(Kind::Pod, &name),
            Some(Promise::Pod { .. })
        );
        // After an unanswered write either may be true; try both in turn.
        if self.ledger.is_uncertain(Kind::Pod, &name) {
            exists = self.rng.random_bool(0.5);
        }
        if !exists {
            self.create_pod(i).await;
        } else if self.rng.random_bool(0.7) {
            self.update_pod(i).await;
        } else {
            self.delete_pod(i).await;
        }
    }

    /// Every ConfigMap, then every pod, written once (the warm-up before the faults).
    pub async fn populate(&mut self) {
        for i in 0..CONFIGMAPS {
            self.write_configmap(&configmap_name(i)).await;
        }
        for i in 0..self.pods {
            self.create_pod(i).await;
        }
    }

    /// Writes each object whose last write went unanswered again until one is acknowledged
    /// (bounded), so the end can be checked against every object.
    pub async fn settle_uncertain(&mut self) {
        for _ in 0..5 {
            for i in 0..self.pods {
                if self.ledger.is_uncertain(Kind::Pod, &pod_name(i)) {
                    self.create_pod(i).await;
                    if self.ledger.is_uncertain(Kind::Pod, &pod_name(i)) {
                        self.update_pod(i).await;
                    }
                }
            }
            for i in 0..CONFIGMAPS {
                if self
                    .ledger
                    .is_uncertain(Kind::ConfigMap, &configmap_name(i))
                {
                    self.write_configmap(&configmap_name(i)).await;
                }
            }
            if self.ledger.uncertain_count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        }
    }

    fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    fn pods_url(&self) -> String {
        format!("{}/api/v1/namespaces/{NAMESPACE}/pods", self.api)
    }

    fn configmaps_url(&self) -> String {
        format!("{}/api/v1/namespaces/{NAMESPACE}/configmaps", self.api)
    }

    async fn create_pod(&mut self, i: usize) {
        let generation = self.generation();
        let body = pod_body(i, generation, &self.image);
        let answer = self.send(self.http.post(self.pods_url()).json(&body)).await;
        let promise = Promise::Pod { generation };
        self.ledger.record(Kind::Pod, &pod_name(i), promise, answer);
    }

    /// A PUT of the whole pod with a new `GEN` (no resourceVersion: an unconditional replace).
    async fn update_pod(&mut self, i: usize) {
        let generation = self.generation();
        let body = pod_body(i, generation, &self.image);
        let url = format!("{}/{}", self.pods_url(), pod_name(i));
        let answer = self.send(self.http.put(url).json(&body)).await;
        let promise = Promise::Pod { generation };
        self.ledger.record(Kind::Pod, &pod_name(i), promise, answer);
    }

    async fn delete_pod(&mut self, i: usize) {
        let url = format!("{}/{}", self.pods_url(), pod_name(i));
        let answer = self.send(self.http.delete(url)).await;
        self.ledger
            .record(Kind::Pod, &pod_name(i), Promise::Absent, answer);
    }

    /// Sends one write, timing it when it reached mkube (a timeout counts, at its length).
    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let what = describe(&req);
        let sent = std::time::Instant::now();
        let (answer, reached) = send(req, &what).await;
        let took = sent.elapsed();
        if reached {
            self.latencies.record(took, self.during_fault);
        }
        if took > SLOW {
            println!(
                "soak: slow write {what}: {} ms ({answer:?})",
                took.as_millis()
            );
        }
        answer
    }

    /// A PUT when the ConfigMap is believed to exist, else a POST.
    async fn write_configmap(&mut self, name: &str) {
        let value = format!("v{}", self.generation());
        let body = configmap_body(name, &value);
        let exists = self.ledger.believed(Kind::ConfigMap, name).is_some();
        let req = if exists {
            self.http
                .put(format!("{}/{name}", self.configmaps_url()))
                .json(&body)
        } else {
            self.http.post(self.configmaps_url()).json(&body)
        };
        let answer = self.send(req).await;
        self.ledger
            .record(Kind::ConfigMap, name, Promise::ConfigMap { value }, answer);
    }
}

/// A write slower than this is printed: the API's goal for mutating calls (p99 ≤ 1 s).
const SLOW: std::time::Duration = std::time::Duration::from_secs(1);

/// `PUT /api/v1/…` of a request.
fn describe(req: &reqwest::RequestBuilder) -> String {
    req.try_clone()
        .and_then(|r| r.build().ok())
        .map(|r| format!("{} {}", r.method(), r.url().path()))
        .unwrap_or_default()
}

/// Sends one write and classifies the answer, and whether it reached mkube; anything but
/// an acknowledgement is printed (with the status and the start of the message), so a refusal
/// can be told from a defect.
async fn send(req: reqwest::RequestBuilder, what: &str) -> (Answer, bool) {
    let r = match req.send().await {
        Ok(r) => r,
        // Connection refused: the request never reached mkube (it is down).
        Err(e) if e.is_connect() => return (Answer::Unavailable, false),
        Err(e) => {
            println!("soak: write {what}: no answer: {e}");
            return (Answer::Unknown, true);
        }
    };
    let status = r.status();
    if status.is_success() {
        return (Answer::Acked, true);
    }
    let text = r.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_string))
        .unwrap_or(text);
    let message: String = message.chars().take(160).collect();
    println!("soak: write {what}: {status}: {message}");
    let answer = match status.as_u16() {
        503 => Answer::Unavailable,
        400..=499 => Answer::Refused,
        _ => Answer::Unknown,
    };
    (answer, true)
}
