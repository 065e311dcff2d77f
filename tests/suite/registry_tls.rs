//! TLS and transport (spec images.md §2.6, §7.3): one port serves plain HTTP and HTTPS by
//! sniffing the first byte, ALPN offers only http/1.1, certificates verify against the
//! generated CA, and a reload (explicit or SIGHUP) changes the certificate new connections see.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpRequest, web};
use mkube::registry::certs::{self, CertRequest, GeneratedCerts};
use mkube::registry::listener::{self, ReloadableTls, ServeOptions, TlsFiles};
use rustls::pki_types::ServerName;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

fn generate() -> GeneratedCerts {
    certs::generate(&CertRequest {
        ips: vec!["192.168.200.3".parse().unwrap()],
        dns_names: vec![],
        days: 30,
    })
    .unwrap()
}

fn files(dir: &Path) -> TlsFiles {
    TlsFiles {
        cert: dir.join("tls.crt"),
        key: dir.join("tls.key"),
    }
}

/// Starts a trivial app through `listener::serve_with`; it answers `/v2/` with the scheme
/// actix-web saw, so the test can tell which path a request took.
fn start(tls: Option<ReloadableTls>) -> (SocketAddr, actix_web::dev::ServerHandle) {
    start_with(tls, 1)
}

/// [`start`] with a graceful stop of at most `shutdown_timeout` seconds.
fn start_with(
    tls: Option<ReloadableTls>,
    shutdown_timeout: u64,
) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let options = ServeOptions {
        workers: 1,
        disable_signals: true,
        shutdown_timeout,
    };
    let server = listener::serve_with(l, tls, options, move || {
        App::new().route(
            "/v2/",
            web::get()
                .to(|req: HttpRequest| async move { req.connection_info().scheme().to_string() }),
        )
    })
    .unwrap();
    let handle = server.handle();
    actix_rt::spawn(server);
    (addr, handle)
}

fn http_client(ca: Option<&str>) -> reqwest::Client {
    let cas: Vec<&[u8]> = ca.map(str::as_bytes).into_iter().collect();
    reqwest::Client::builder()
        .tls_backend_preconfigured(mkube::tls::client_config(false, &cas).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A raw rustls handshake: (negotiated ALPN, SHA-256 of the server certificate).
async fn handshake(
    addr: SocketAddr,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> std::io::Result<(Option<Vec<u8>>, Vec<u8>)> {
    let mut config = mkube::tls::client_config(false, &[ca_pem.as_bytes()]).unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("registry.gt.lo").unwrap();
    let mut tls = connector.connect(name, stream).await?;
    let (_, conn) = tls.get_ref();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    let cert = conn.peer_certificates().unwrap()[0].to_vec();
    // The connection is usable HTTP/1.1.
    tls.write_all(b"GET /v2/ HTTP/1.1\r\nHost: registry.gt.lo\r\nConnection: close\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("https"), "{answer}");
    Ok((alpn, Sha256::digest(&cert).to_vec()))
}

fn fingerprint(pem: &str) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap();
    Sha256::digest(&der).to_vec()
}

#[actix_web::test]
async fn plain_http_and_https_share_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate();
    certs::write_files(&generated, dir.path()).unwrap();
    let tls = ReloadableTls::load(files(dir.path())).unwrap();
    let (addr, handle) = start(Some(tls));
    let port = addr.port();

    // Plain HTTP from a client with no CA at all.
    let plain = http_client(None)
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.text().await.unwrap(), "http");

    // HTTPS with the generated CA, by IP and by name.
    let client = http_client(Some(&generated.ca_cert_pem));
    let secure = client
        .get(format!("https://127.0.0.1:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(secure.status(), 200);
    assert_eq!(secure.version(), reqwest::Version::HTTP_11);
    assert_eq!(secure.text().await.unwrap(), "https");
    let by_name = http_client(Some(&generated.ca_cert_pem))
        .get(format!("https://localhost:{port}/v2/"))
        .send()
        .await;
    // `localhost` may resolve to ::1 first; the IPv4 fallback must then succeed.
    assert_eq!(by_name.unwrap().status(), 200);

    // Several requests over one kept-alive TLS connection, then plain again.
    for _ in 0..3 {
        let r = client
            .get(format!("https://127.0.0.1:{port}/v2/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), "https");
    }

    // A client trusting nothing (no CA) cannot verify the server; one trusting another CA
    // neither.
    assert!(
        http_client(None)
            .get(format!("https://127.0.0.1:{port}/v2/"))
            .send()
            .await
            .is_err()
    );
    let other = generate();
    assert!(
        http_client(Some(&other.ca_cert_pem))
            .get(format!("https://127.0.0.1:{port}/v2/"))
            .send()
            .await
            .is_err()
    );

    // A client that connects and says nothing, or sends junk, does not disturb the server.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut junk = tokio::net::TcpStream::connect(addr).await.unwrap();
    junk.write_all(b"\x16\x03\x01\x00\x05hello").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), junk.read_to_end(&mut buf)).await;
    let r = http_client(None)
        .get(format!("http://127.0.0.1:{port}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    idle.shutdown().await.unwrap();

    handle.stop(false).await;
}

#[actix_web::test]
async fn alpn_offers_only_http11() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate();
    certs::write_files(&generated, dir.path()).unwrap();
    let tls = ReloadableTls::load(files(dir.path())).unwrap();
    let (addr, handle) = start(Some(tls));
    let ca = &generated.ca_cert_pem;

    // `openssl s_client -alpn h2,http/1.1` equivalent: http/1.1 is chosen.
    let (alpn, _) = handshake(addr, ca, &[b"h2", b"http/1.1"]).await.unwrap();
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    // No ALPN at all is fine too.
    let (alpn, _) = handshake(addr, ca, &[]).await.unwrap();
    assert_eq!(alpn, None);
    // An h2-only client is refused (no_application_protocol).
    assert!(handshake(addr, ca, &[b"h2"]).await.is_err());

    handle.stop(false).await;
}

#[actix_web::test]
async fn without_tls_only_plain_http_is_served() {
    let (addr, handle) = start(None);
    let r = http_client(None)
        .get(format!("http://{addr}/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "http");
    let generated = generate();
    let https = http_client(Some(&generated.ca_cert_pem))
        .get(format!("https://{addr}/v2/"))
        .send()
        .await;
    assert!(https.is_err());
    handle.stop(false).await;
}

/// A graceful stop closes idle keep-alive connections at once, as actix-web's own HttpServer
/// does, instead of waiting for them until the shutdown timeout: the registry's process exits
/// promptly when its container is stopped, so the registry swap's pull outage is the swap
/// itself (images.md §5.5), not the swap plus the clients' idle connections.
#[actix_web::test]
async fn a_graceful_stop_does_not_wait_for_idle_keep_alive_connections() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate();
    certs::write_files(&generated, dir.path()).unwrap();
    let tls = ReloadableTls::load(files(dir.path())).unwrap();
    let (addr, handle) = start_with(Some(tls), 10);
    // An HTTPS client (its pooled connection stays open and idle) and a raw plain HTTP/1.1
    // connection left idle after one request.
    let https = http_client(Some(&generated.ca_cert_pem));
    let r = https
        .get(format!("https://127.0.0.1:{}/v2/", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "https");
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = plain.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
    let began = std::time::Instant::now();
    handle.stop(true).await;
    let took = began.elapsed();
    assert!(took < Duration::from_secs(3), "graceful stop took {took:?}");
    // The idle connection was closed by the server.
    let n = tokio::time::timeout(Duration::from_secs(1), plain.read(&mut buf))
        .await
        .expect("closed")
        .unwrap_or(0);
    assert_eq!(n, 0);
}

#[test]
fn unloadable_pairs_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate();
    // Certificate without key.
    std::fs::write(dir.path().join("tls.crt"), &generated.server_cert_pem).unwrap();
    assert!(ReloadableTls::load(files(dir.path())).is_err());
    // Key that does not belong to the certificate.
    let other = generate();
    std::fs::write(dir.path().join("tls.key"), &other.server_key_pem).unwrap();
    assert!(ReloadableTls::load(files(dir.path())).is_err());
    // Garbage certificate.
    std::fs::write(dir.path().join("tls.crt"), "not a certificate").unwrap();
    std::fs::write(dir.path().join("tls.key"), &generated.server_key_pem).unwrap();
    assert!(ReloadableTls::load(files(dir.path())).is_err());
    // The matching pair, SEC1 key as the installer writes it.
    std::fs::write(dir.path().join("tls.crt"), &generated.server_cert_pem).unwrap();
    assert!(ReloadableTls::load(files(dir.path())).is_ok());
}

#[actix_web::test]
async fn reload_and_sighup_change_the_served_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let first = generate();
    certs::write_files(&first, dir.path()).unwrap();
    let tls = ReloadableTls::load(files(dir.path())).unwrap();
    let (addr, handle) = start(Some(tls.clone()));

    let (_, seen) = handshake(addr, &first.ca_cert_pem, &[]).await.unwrap();
    assert_eq!(seen, fingerprint(&first.server_cert_pem));

    // Replace the files: nothing changes until a reload.
    let second = generate();
    certs::write_files(&second, dir.path()).unwrap();
    let (_, seen) = handshake(addr, &first.ca_cert_pem, &[]).await.unwrap();
    assert_eq!(seen, fingerprint(&first.server_cert_pem));
    tls.reload().unwrap();
    let (_, seen) = handshake(addr, &second.ca_cert_pem, &[]).await.unwrap();
    assert_eq!(seen, fingerprint(&second.server_cert_pem));
    // Clients trusting only the old CA now fail.
    assert!(handshake(addr, &first.ca_cert_pem, &[]).await.is_err());

    // A broken pair on disk: reload fails and the previous certificate stays in use.
    std::fs::write(dir.path().join("tls.key"), "garbage").unwrap();
    assert!(tls.reload().is_err());
    let (_, seen) = handshake(addr, &second.ca_cert_pem, &[]).await.unwrap();
    assert_eq!(seen, fingerprint(&second.server_cert_pem));

    // SIGHUP to this process reloads too (the handler is installed before watch_sighup
    // returns, so the signal cannot kill the test process).
    tls.watch_sighup();
    let third = generate();
    certs::write_files(&third, dir.path()).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let want = fingerprint(&third.server_cert_pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok((_, seen)) = handshake(addr, &third.ca_cert_pem, &[]).await
            && seen == want
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    handle.stop(false).await;
}

/// Deterministic pseudo-random bytes (xorshift), so bodies do not compress or repeat.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[actix_web::test]
async fn large_uploads_over_tls_and_plain_arrive_intact() {
    use futures::StreamExt as _;
    let dir = tempfile::tempdir().unwrap();
    let generated = generate();
    certs::write_files(&generated, dir.path()).unwrap();
    let tls = ReloadableTls::load(files(dir.path())).unwrap();
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let options = ServeOptions {
        workers: 2,
        disable_signals: true,
        shutdown_timeout: 1,
    };
    let server = listener::serve_with(l, Some(tls), options, || {
        App::new().route(
            "/upload",
            web::post().to(|mut body: web::Payload| async move {
                let mut hash = Sha256::new();
                let mut n = 0usize;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk?;
                    n += chunk.len();
                    hash.update(&chunk);
                }
                Ok::<_, actix_web::Error>(format!("{n} {}", hex::encode(hash.finalize())))
            }),
        )
    })
    .unwrap();
    let handle = server.handle();
    actix_rt::spawn(server);

    let client = http_client(Some(&generated.ca_cert_pem));
    let big = payload(64 << 20, 7);
    let want = format!("{} {}", big.len(), hex::encode(Sha256::digest(&big)));
    let got = client
        .post(format!("https://127.0.0.1:{}/upload", addr.port()))
        .body(big)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(got, want);

    // Parallel uploads, TLS and plain mixed.
    let mut tasks = Vec::new();
    for i in 0..6u64 {
        let client = client.clone();
        let scheme = if i % 2 == 0 { "https" } else { "http" };
        let url = format!("{scheme}://127.0.0.1:{}/upload", addr.port());
        tasks.push(tokio::spawn(async move {
            let body = payload(8 << 20, i + 100);
            let want = format!("{} {}", body.len(), hex::encode(Sha256::digest(&body)));
            let got = client
                .post(url)
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(got, want);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    handle.stop(false).await;
}
