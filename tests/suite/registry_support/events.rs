//! Watching what a registry reports: its push hook, a webhook receiver, and `GET /events`
//! subscribers, plus polling with a deadline. All on 127.0.0.1.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use futures::StreamExt;
use mkube::registry::PushHook;

/// Every (repo, reference, digest) the registry's push hook saw.
#[derive(Clone, Default)]
pub struct HookLog(Arc<Mutex<Vec<(String, String, String)>>>);

impl HookLog {
    pub fn hook(&self) -> PushHook {
        let log = self.0.clone();
        Arc::new(
            move |repo: &str, reference: &str, d: &mkube::registry::Digest| {
                log.lock()
                    .unwrap()
                    .push((repo.into(), reference.into(), d.to_string()));
            },
        )
    }

    pub fn events(&self) -> Vec<(String, String, String)> {
        self.0.lock().unwrap().clone()
    }
}

/// A webhook receiver on 127.0.0.1: (URL, bodies received). Needs an actix system.
pub fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let data = web::Data::new(bodies.clone());
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/hook",
            web::post().to(
                |body: web::Bytes, seen: web::Data<Arc<Mutex<Vec<serde_json::Value>>>>| async move {
                    let v = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
                    seen.lock().unwrap().push(v);
                    HttpResponse::Ok().finish()
                },
            ),
        )
    })
    .workers(1)
    .disable_signals()
    .bind("127.0.0.1:0")
    .unwrap();
    let addr = server.addrs()[0];
    actix_rt::spawn(server.run());
    (format!("http://{addr}/hook"), bodies)
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    pub event: String,
    pub data: String,
}

/// A `GET /events` subscriber: frames arrive on `rx` as they are parsed.
pub struct Subscriber {
    pub rx: tokio::sync::mpsc::UnboundedReceiver<Sse>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Subscriber {
    /// Connects; returns once the answer's headers are in (the subscription is live then).
    pub async fn connect(mgmt_url: &str) -> Subscriber {
        let resp = super::http_client()
            .get(format!("{mgmt_url}/events"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let frame: String = buf.drain(..end + 2).collect();
                    let mut ev = Sse {
                        event: String::new(),
                        data: String::new(),
                    };
                    for line in frame.lines() {
                        if let Some(v) = line.strip_prefix("event:") {
                            ev.event = v.trim().into();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            ev.data = v.trim().into();
                        }
                    }
                    // Comment-only frames (keep-alive, hello) carry no event.
                    if !ev.event.is_empty() && tx.send(ev).is_err() {
                        return;
                    }
                }
            }
        });
        Subscriber { rx, task }
    }

    /// The next event, or panic after `limit`.
    pub async fn next(&mut self, limit: Duration) -> Sse {
        tokio::time::timeout(limit, self.rx.recv())
            .await
            .expect("timed out waiting for a server-sent event")
            .expect("event stream ended")
    }

    /// Events already received (without waiting).
    pub fn drain(&mut self) -> Vec<Sse> {
        let mut out = Vec::new();
        while let Ok(e) = self.rx.try_recv() {
            out.push(e);
        }
        out
    }
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `limit`.
pub async fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
