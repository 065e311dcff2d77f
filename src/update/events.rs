//! The registry's push stream (`GET :5001/events`, images.md §5.5): every `push` (and `lagged`)
//! event asks for a cycle now, and so does every (re)connect, since pushes may have been missed
//! while the stream was down. Polling stays on as the fallback. Plain HTTP even when the
//! registry URL is https.

use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The registry sends a comment every 15 s; silence for this long means a dead connection.
const SILENCE: Duration = Duration::from_secs(45);
const RECONNECT: Duration = Duration::from_secs(5);

/// Follows `url` forever, notifying `wake` on every push and every (re)connect.
pub async fn follow(url: String, wake: Arc<Notify>) {
    let tls = match crate::tls::client_config(false, &[]) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "event stream client; polling only");
            return;
        }
    };
    let client = match reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(crate::resolve::Resolver::for_http())
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(SILENCE)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "event stream client; polling only");
            return;
        }
    };
    loop {
        match client.get(&url).send().await {
            Ok(resp) if resp.status().is_success() => {
                tracing::info!(%url, "following the registry's push events");
                wake.notify_one();
                read(resp, &wake).await;
                tracing::info!(%url, "push event stream ended");
            }
            Ok(resp) => tracing::debug!(%url, status = %resp.status(), "no push event stream"),
            Err(e) => tracing::debug!(%url, error = %e, "push event stream unreachable"),
        }
        tokio::time::sleep(RECONNECT).await;
    }
}

async fn read(resp: reqwest::Response, wake: &Notify) {
    let mut stream = resp.bytes_stream();
    let mut buf = String::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return;
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(event) = event_name(&frame)
                && (event == "push" || event == "lagged")
            {
                tracing::debug!(event, frame = frame.trim(), "registry event");
                wake.notify_one();
            }
        }
    }
}

/// The `event:` field of one server-sent frame (`message` when data comes without a name).
pub fn event_name(frame: &str) -> Option<&str> {
    let mut name = None;
    let mut data = false;
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if line.starts_with("data:") {
            data = true;
        }
    }
    name.or(data.then_some("message"))
}

#[cfg(test)]
mod tests {
    use super::event_name;

    #[test]
    fn frames() {
        assert_eq!(event_name("event: push\ndata: {}\n\n"), Some("push"));
        assert_eq!(event_name(": subscribed\n\n"), None);
        assert_eq!(event_name("data: x\n\n"), Some("message"));
    }
}
