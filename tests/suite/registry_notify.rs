//! Push notifications (spec images.md §2.8, §7.4): one webhook POST per tag push, retried with
//! back-off until 2xx, delivered once each and in order; a full queue drops the oldest event and
//! counts it; digest-only pushes are suppressed; identical pending pushes are coalesced.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use mkube::registry::notify::{Notifier, NotifyOptions, PushEvent};
use serde_json::Value;

#[derive(Default)]
struct Receiver {
    /// Answer 500 to this many requests first.
    fail_first: usize,
    /// Every request: (when, body, status answered).
    attempts: Vec<(Instant, Value, u16)>,
}

type Shared = Arc<Mutex<Receiver>>;

impl Receiver {
    fn accepted(shared: &Shared) -> Vec<Value> {
        let r = shared.lock().unwrap();
        r.attempts
            .iter()
            .filter(|(_, _, s)| *s == 200)
            .map(|(_, b, _)| b.clone())
            .collect()
    }
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert_eq!(content_type, "application/json");
    let body: Value = serde_json::from_slice(&body).expect("JSON body");
    let mut r = state.lock().unwrap();
    let status = if r.fail_first > 0 {
        r.fail_first -= 1;
        500
    } else {
        200
    };
    r.attempts.push((Instant::now(), body, status));
    if status == 200 {
        HttpResponse::Ok().finish()
    } else {
        HttpResponse::InternalServerError().finish()
    }
}

/// A webhook receiver on `listener` (127.0.0.1).
fn receiver(
    listener: std::net::TcpListener,
    fail_first: usize,
) -> (Shared, actix_web::dev::ServerHandle) {
    let shared: Shared = Arc::new(Mutex::new(Receiver {
        fail_first,
        attempts: Vec::new(),
    }));
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/api/v1/registry/push-notify", web::post().to(receive))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    (shared, handle)
}

fn bind() -> (std::net::TcpListener, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = url_for(l.local_addr().unwrap());
    (l, url)
}

fn url_for(addr: SocketAddr) -> String {
    format!("http://{addr}/api/v1/registry/push-notify")
}

fn event(repo: &str, tag: &str, digest: &str) -> PushEvent {
    PushEvent {
        repository: repo.into(),
        tag: tag.into(),
        digest: digest.into(),
    }
}

fn fast(capacity: usize) -> NotifyOptions {
    NotifyOptions {
        capacity,
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        timeout: Duration::from_secs(2),
        ..NotifyOptions::default()
    }
}

async fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
const D3: &str = "sha256:3333333333333333333333333333333333333333333333333333333333333333";
const D4: &str = "sha256:4444444444444444444444444444444444444444444444444444444444444444";

#[actix_web::test]
async fn one_post_per_tag_push_with_the_spec_body() {
    let (l, url) = bind();
    let (rx, handle) = receiver(l, 0);
    // Default options: the spec's 1 s / 30 s / 10 s, queue of 256.
    let notifier = Notifier::new(url);
    let pushed = Instant::now();
    notifier.tag_pushed(event("mkube", "edge", D1));
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 1
    })
    .await;
    assert!(pushed.elapsed() < Duration::from_secs(1), "within 1 s");
    let got = Receiver::accepted(&rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["image"], "mkube:edge");
    assert_eq!(got[0]["repo"], "mkube");
    assert_eq!(got[0]["tag"], "edge");
    assert_eq!(got[0]["digest"], D1);

    // A multi-arch push: the children by digest are suppressed, the tag is sent once.
    notifier.tag_pushed(event("app", D2, D2));
    notifier.tag_pushed(event("app", D3, D3));
    notifier.tag_pushed(event("app", "v1", D4));
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got = Receiver::accepted(&rx);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[1]["image"], "app:v1");
    let stats = notifier.stats();
    assert_eq!(stats.suppressed, 2);
    assert_eq!(stats.failed_attempts, 0);
    assert_eq!(stats.queued, 0);

    handle.stop(false).await;
}

#[actix_web::test]
async fn failures_are_retried_with_backoff_and_each_event_arrives_once_in_order() {
    let (l, url) = bind();
    let (rx, handle) = receiver(l, 4);
    let notifier = Notifier::with_options(url, fast(16));
    for (tag, d) in [("a", D1), ("b", D2), ("c", D3)] {
        notifier.tag_pushed(event("repo", tag, d));
    }
    wait_for("delivery", Duration::from_secs(10), || {
        notifier.stats().delivered == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let images: Vec<String> = Receiver::accepted(&rx)
        .iter()
        .map(|b| b["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(images, ["repo:a", "repo:b", "repo:c"]);

    let attempts = rx.lock().unwrap().attempts.clone();
    // Four failed attempts, all for the head of the queue, then one success each.
    assert_eq!(attempts.len(), 7);
    for (_, body, status) in &attempts[..4] {
        assert_eq!(*status, 500);
        assert_eq!(body["image"], "repo:a");
    }
    // Back-off doubles from 50 ms and is capped at 200 ms.
    let gaps: Vec<Duration> = attempts[..5].windows(2).map(|w| w[1].0 - w[0].0).collect();
    let expect = [50u64, 100, 200, 200];
    for (gap, want) in gaps.iter().zip(expect) {
        assert!(
            *gap >= Duration::from_millis(want * 9 / 10),
            "gaps {gaps:?} want {expect:?}"
        );
        assert!(*gap < Duration::from_millis(want + 1000), "gaps {gaps:?}");
    }
    let stats = notifier.stats();
    assert_eq!(stats.failed_attempts, 4);
    assert_eq!(stats.delivered, 3);
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.dropped, 0);

    handle.stop(false).await;
}

#[actix_web::test]
async fn receiver_down_then_up_gets_the_event() {
    // A port with nothing listening: connection refused until the receiver starts.
    let (l, url) = bind();
    let addr = l.local_addr().unwrap();
    drop(l);
    let notifier = Notifier::with_options(url, fast(16));
    notifier.tag_pushed(event("mkube", "edge", D1));
    wait_for("failed attempts", Duration::from_secs(5), || {
        notifier.stats().failed_attempts >= 2
    })
    .await;
    assert_eq!(notifier.stats().queued, 1);

    let l = std::net::TcpListener::bind(addr).unwrap();
    let (rx, handle) = receiver(l, 0);
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = Receiver::accepted(&rx);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["image"], "mkube:edge");
    assert_eq!(notifier.stats().queued, 0);

    handle.stop(false).await;
}

#[actix_web::test]
async fn a_full_queue_drops_the_oldest_and_counts_it() {
    let (l, url) = bind();
    let addr = l.local_addr().unwrap();
    drop(l);
    let notifier = Notifier::with_options(url, fast(2));
    notifier.tag_pushed(event("r", "1", D1));
    // "1" is in flight (failing) before the others arrive.
    wait_for("in flight", Duration::from_secs(5), || {
        notifier.stats().failed_attempts >= 1
    })
    .await;
    notifier.tag_pushed(event("r", "2", D2));
    notifier.tag_pushed(event("r", "3", D3));
    notifier.tag_pushed(event("r", "4", D4));
    let stats = notifier.stats();
    assert_eq!(stats.dropped, 1);
    assert_eq!(stats.accepted, 4);
    assert_eq!(stats.queued, 3, "in flight + capacity");

    let l = std::net::TcpListener::bind(addr).unwrap();
    let (rx, handle) = receiver(l, 0);
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let images: Vec<String> = Receiver::accepted(&rx)
        .iter()
        .map(|b| b["image"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        images,
        ["r:1", "r:3", "r:4"],
        "oldest waiting (r:2) dropped"
    );

    handle.stop(false).await;
}

#[actix_web::test]
async fn identical_pending_pushes_are_coalesced_but_later_repushes_are_sent() {
    let (l, url) = bind();
    let addr = l.local_addr().unwrap();
    drop(l);
    let notifier = Notifier::with_options(url, fast(16));
    notifier.tag_pushed(event("r", "edge", D1));
    wait_for("in flight", Duration::from_secs(5), || {
        notifier.stats().failed_attempts >= 1
    })
    .await;
    notifier.tag_pushed(event("r", "edge", D1)); // same as the one in flight
    notifier.tag_pushed(event("r", "other", D2));
    notifier.tag_pushed(event("r", "other", D2)); // same as one waiting
    notifier.tag_pushed(event("r", "edge", D3)); // same tag, new digest: a real change
    assert_eq!(notifier.stats().coalesced, 2);

    let l = std::net::TcpListener::bind(addr).unwrap();
    let (rx, handle) = receiver(l, 0);
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 3
    })
    .await;
    // Pushed again after delivery: a new push, a new event.
    notifier.tag_pushed(event("r", "edge", D3));
    wait_for("delivery", Duration::from_secs(5), || {
        notifier.stats().delivered == 4
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got: Vec<(String, String)> = Receiver::accepted(&rx)
        .iter()
        .map(|b| {
            (
                b["image"].as_str().unwrap().to_string(),
                b["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        ("r:edge", D1),
        ("r:other", D2),
        ("r:edge", D3),
        ("r:edge", D3),
    ]
    .iter()
    .map(|(i, d)| (i.to_string(), d.to_string()))
    .collect();
    assert_eq!(got, want);

    handle.stop(false).await;
}

#[test]
fn disabled_and_misconfigured_notifiers_accept_and_ignore_events() {
    let off = Notifier::disabled();
    assert!(!off.is_enabled());
    off.tag_pushed(event("r", "t", D1));
    assert_eq!(off.stats(), Default::default());

    let bad = Notifier::new("not a url".into());
    assert!(!bad.is_enabled());
    bad.tag_pushed(event("r", "t", D1));

    // Usable without any runtime; dropping the last clone stops the delivery thread.
    let n = Notifier::new("http://127.0.0.1:9/".into());
    let clone = n.clone();
    n.tag_pushed(event("r", "t", D1));
    drop(n);
    clone.tag_pushed(event("r", "u", D2));
    assert_eq!(clone.stats().accepted, 2);
}
