//! The management listener (spec images.md §2.1, §2.8), plain HTTP on `:5001`:
//! - `GET /healthz` → 200 `ok`;
//! - `POST /poll` → asks the watcher for a cycle now, 200 `{"status":"ok"}`; 404 without one;
//! - `GET /events` → `text/event-stream`: `event: push` + `data: <webhook JSON>` per push, a
//!   comment line every 15 s to keep proxies and idle timers quiet. A subscriber too slow to
//!   keep up gets one `event: lagged` with the number missed and the stream ends (it
//!   reconnects and re-reads state); it never holds up pushes or other subscribers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::state::Registry;

pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

fn json_error(status: u16, message: &str) -> HttpResponse {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::NOT_FOUND),
    )
    .content_type("application/json")
    .body(serde_json::json!({"status": "error", "error": message}).to_string())
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn poll(reg: web::Data<Arc<Registry>>) -> HttpResponse {
    match &reg.watcher {
        Some(w) => {
            w.trigger();
            HttpResponse::Ok()
                .content_type("application/json")
                .body(r#"{"status":"ok"}"#)
        }
        None => json_error(404, "no watcher configured"),
    }
}

/// What the stream does next.
enum Step {
    Open(
        Receiver<String>,
        tokio::time::Interval,
        tokio::sync::watch::Receiver<bool>,
    ),
    Done,
}

async fn next_frame(step: Step) -> Option<(Result<Bytes, std::io::Error>, Step)> {
    let Step::Open(mut rx, mut tick, mut closing) = step else {
        return None;
    };
    if *closing.borrow() {
        return None;
    }
    tokio::select! {
        r = rx.recv() => match r {
            Ok(json) => Some((Ok(Bytes::from(format!("event: push\ndata: {json}\n\n"))), Step::Open(rx, tick, closing))),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(missed = n, "SSE subscriber lagged; closing its stream");
                let frame = format!("event: lagged\ndata: {{\"missed\":{n}}}\n\n");
                Some((Ok(Bytes::from(frame)), Step::Done))
            }
            Err(RecvError::Closed) => None,
        },
        _ = tick.tick() => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), Step::Open(rx, tick, closing))),
        // The only change ever made is to true; a dropped sender ends the stream too.
        _ = closing.changed() => None,
    }
}

async fn events(reg: web::Data<Arc<Registry>>) -> HttpResponse {
    // Subscribed before the answer starts: a client that has the headers misses nothing.
    let rx = reg.feed.subscribe();
    let tick = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let hello = futures::stream::once(async {
        Ok::<_, std::io::Error>(Bytes::from_static(b": subscribed\n\n"))
    });
    let frames = futures::stream::unfold(Step::Open(rx, tick, reg.feed.closing()), next_frame);
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(futures::StreamExt::chain(hello, frames))
}

async fn not_found() -> HttpResponse {
    json_error(404, "not found")
}

/// The management server for `registry` bound to `listen` (not yet running).
pub fn server(
    registry: Arc<Registry>,
    listen: SocketAddr,
) -> std::io::Result<(actix_web::dev::Server, SocketAddr)> {
    let data = web::Data::new(registry);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/poll", web::post().to(poll))
            .route("/events", web::get().to(events))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .bind(listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("no listening address"))?;
    Ok((server.run(), addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::feed::PushFeed;
    use crate::registry::notify::PushEvent;

    fn event(tag: &str) -> PushEvent {
        PushEvent {
            repository: "r".into(),
            tag: tag.into(),
            digest: format!("sha256:{}", "a".repeat(64)),
        }
    }

    fn open(feed: &PushFeed) -> Step {
        Step::Open(
            feed.subscribe(),
            tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE),
            feed.closing(),
        )
    }

    async fn frame(step: Step) -> (String, Step) {
        let (bytes, next) = next_frame(step).await.expect("a frame");
        (String::from_utf8(bytes.unwrap().to_vec()).unwrap(), next)
    }

    #[tokio::test]
    async fn push_frames_then_lagged_then_end() {
        let feed = PushFeed::new();
        let step = open(&feed);
        feed.publish(&event("v1"));
        let (f, step) = frame(step).await;
        assert_eq!(f, format!("event: push\ndata: {}\n\n", event("v1").body()));
        // A subscriber that falls behind is told how much it missed, then its stream ends;
        // publishing never waited for it.
        for i in 0..crate::registry::feed::CAPACITY + 5 {
            feed.publish(&event(&format!("t{i}")));
        }
        let (f, step) = frame(step).await;
        assert_eq!(f, "event: lagged\ndata: {\"missed\":5}\n\n");
        assert!(next_frame(step).await.is_none());
    }

    #[tokio::test]
    async fn close_ends_open_streams() {
        let feed = PushFeed::new();
        let step = open(&feed);
        feed.close();
        assert!(next_frame(step).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_comment_when_idle() {
        let feed = PushFeed::new();
        let (f, _) = frame(open(&feed)).await;
        assert_eq!(f, ": keep-alive\n\n");
    }
}
