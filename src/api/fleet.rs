//! One API for the fleet (issue 16): a request a controller cannot answer alone is carried to
//! the controller that can, over NATS request/reply — the log's own connection, so a node
//! that reaches the log reaches the others.
//!
//! Each controller answers on `mkube-fleet.<node>.api` (outside the event stream's
//! `mkube.<node>.>`): a forwarded request is run against its own HTTP listener, with its own
//! token, marked [`FORWARDED`] so it is answered locally and never forwarded again. Admission,
//! status codes and shapes are therefore exactly those of the owner's API. Which requests are
//! forwarded, and how lists are merged, is the pods layer's business (`pods::fleet`).

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Marks a request that came from another controller: answer it from this node alone.
pub const FORWARDED: &str = "x-mkube-forwarded";

/// How long a forwarded change may take (a pod create waits for its log append).
pub const ASK_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a list waits for another node's part: a hung node must not hold every list.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(3);

/// The subject a node's controller answers forwarded requests on.
pub fn subject(node: &str) -> String {
    format!(
        "mkube-fleet.{}.api",
        crate::events::subject::escape_token(node)
    )
}

/// An HTTP request, carried to another controller.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Forward {
    pub method: String,
    /// Path and query, e.g. `/api/v1/pods?labelSelector=app%3Dweb`.
    pub path: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: String,
    /// The controller that forwarded it.
    pub from: String,
}

/// Its answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: String,
}

/// Asks `node`'s controller, waiting at most `within`; the error says why there was no answer.
pub async fn ask(
    client: &async_nats::Client,
    node: &str,
    forward: &Forward,
    within: Duration,
) -> Result<Answer, String> {
    let payload = serde_json::to_vec(forward).map_err(|e| e.to_string())?;
    let reply = tokio::time::timeout(within, client.request(subject(node), payload.into()))
        .await
        .map_err(|_| format!("node {node} did not answer within {}s", within.as_secs()))?
        .map_err(|e| match e.kind() {
            async_nats::RequestErrorKind::NoResponders => {
                format!("node {node} is not running (no controller answers for it)")
            }
            _ => format!("node {node} did not answer: {e}"),
        })?;
    serde_json::from_slice(&reply.payload).map_err(|e| format!("node {node}: bad answer: {e}"))
}

/// Answers forwarded requests for `node` by running them against `self_url` (this
/// controller's own listener) until the process ends.
pub fn serve(client: async_nats::Client, node: &str, self_url: String, token: Option<String>) {
    let subject = subject(node);
    let http = match self_client() {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "fleet: cannot call the own API; forwarded requests go unanswered");
            return;
        }
    };
    tokio::spawn(async move {
        let mut requests = loop {
            match client.subscribe(subject.clone()).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, %subject, "fleet: subscribing failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        };
        use futures::StreamExt;
        while let Some(msg) = requests.next().await {
            let Some(reply) = msg.reply.clone() else {
                continue;
            };
            let (client, http, base, token) = (
                client.clone(),
                http.clone(),
                self_url.clone(),
                token.clone(),
            );
            tokio::spawn(async move {
                let answer = match serde_json::from_slice::<Forward>(&msg.payload) {
                    Ok(f) => run_locally(&http, &base, token.as_deref(), &f).await,
                    Err(e) => Answer {
                        status: 400,
                        content_type: None,
                        body: format!("undecodable forwarded request: {e}"),
                    },
                };
                let bytes = serde_json::to_vec(&answer).unwrap_or_default();
                if let Err(e) = client.publish(reply, bytes.into()).await {
                    tracing::debug!(error = %e, "fleet: answer not sent");
                }
            });
        }
    });
}

async fn run_locally(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    f: &Forward,
) -> Answer {
    let method = reqwest::Method::from_bytes(f.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut req = http
        .request(method, format!("{base}{}", f.path))
        .header(FORWARDED, f.from.as_str())
        .body(f.body.clone());
    if let Some(ct) = &f.content_type {
        req = req.header(reqwest::header::CONTENT_TYPE, ct.as_str());
    }
    if let Some(a) = &f.accept {
        req = req.header(reqwest::header::ACCEPT, a.as_str());
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            Answer {
                status,
                content_type,
                body: resp.text().await.unwrap_or_default(),
            }
        }
        Err(e) => Answer {
            status: 503,
            content_type: None,
            body: format!("the controller could not run the request: {e}"),
        },
    }
}

/// A client for this controller's own listener, plain or TLS (it trusts whatever certificate
/// it serves: the peer is this very process). Like every client of the shipped programs, it
/// needs no system files (`resolve.rs`).
fn self_client() -> Result<reqwest::Client, String> {
    crate::tls::ensure_ring_provider();
    let tls = crate::tls::client_config(true, &[])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(crate::resolve::Resolver::for_http())
        .no_proxy()
        .timeout(ASK_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())
}

/// This controller's own URL from `api.listen` (an unspecified address becomes loopback).
pub fn self_url(listen: &str, tls: bool) -> String {
    let scheme = if tls { "https" } else { "http" };
    let (host, port) = listen.rsplit_once(':').unwrap_or((listen, "8082"));
    let host = match host.trim_matches(['[', ']']) {
        "" | "0.0.0.0" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    format!("{scheme}://{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_url_and_subject() {
        assert_eq!(self_url("0.0.0.0:8082", false), "http://127.0.0.1:8082");
        assert_eq!(self_url("[::]:8082", true), "https://[::1]:8082");
        assert_eq!(self_url("127.44.0.2:8082", false), "http://127.44.0.2:8082");
        assert_eq!(subject("rack-a"), "mkube-fleet.rack-a.api");
        assert_eq!(subject("a.b"), "mkube-fleet.a%2Eb.api");
    }
}
