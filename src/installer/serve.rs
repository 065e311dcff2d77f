//! A small HTTP server the device fetches larger files from (`/tool/fetch`, routeros-rest.md
//! §4.8 (c)): it serves exactly the files it was given, under a random path, for as long as
//! the installer runs, on an address the device can reach.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running file server; dropped = stopped.
pub struct FileServer {
    addr: SocketAddr,
    token: String,
    files: Arc<std::sync::Mutex<HashMap<String, Arc<Vec<u8>>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FileServer {
    /// Listens on `addr` (port 0 = any free port).
    pub async fn start(addr: SocketAddr) -> std::io::Result<FileServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let files: Arc<std::sync::Mutex<HashMap<String, Arc<Vec<u8>>>>> = Arc::default();
        let served = files.clone();
        let prefix = format!("/{token}/");
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let files = served.clone();
                let prefix = prefix.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, &prefix, &files).await;
                });
            }
        });
        Ok(FileServer {
            addr,
            token,
            files,
            task,
        })
    }

    /// Offers `contents` as `name`; returns the URL the device fetches it from.
    pub fn offer(&self, name: &str, contents: Vec<u8>) -> String {
        let key = name.replace('/', "_");
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), Arc::new(contents));
        format!("http://{}/{}/{key}", self.addr, self.token)
    }
}

async fn answer(
    mut stream: TcpStream,
    prefix: &str,
    files: &std::sync::Mutex<HashMap<String, Arc<Vec<u8>>>>,
) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let mut words = line.split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let body = path.strip_prefix(prefix).and_then(|key| {
        files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()
    });
    match (method, body) {
        ("GET", Some(body)) => {
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            stream.write_all(header.as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        _ => {
            stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await?;
        }
    }
    stream.shutdown().await
}

/// The address of this machine on the route to the device at `rest_url` (what the device
/// can reach us on), port 0.
pub async fn address_towards(rest_url: &str) -> Result<SocketAddr, String> {
    let rest = rest_url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(rest_url);
    let hostport = rest.split('/').next().unwrap_or_default();
    let target = if hostport.contains(':') && !hostport.starts_with('[') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let device = tokio::net::lookup_host(&target)
        .await
        .map_err(|e| format!("cannot resolve the device {hostport}: {e}"))?
        .next()
        .ok_or_else(|| format!("cannot resolve the device {hostport}"))?;
    let any: IpAddr = if device.is_ipv4() {
        IpAddr::from([0, 0, 0, 0])
    } else {
        IpAddr::from([0u16; 8])
    };
    let probe = std::net::UdpSocket::bind((any, 0)).map_err(|e| e.to_string())?;
    probe
        .connect(device)
        .map_err(|e| format!("no route to the device {device}: {e}"))?;
    let local = probe.local_addr().map_err(|e| e.to_string())?;
    Ok(SocketAddr::new(local.ip(), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_offered_files_only() {
        crate::tls::ensure_ring_provider();
        let s = FileServer::start("127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let url = s.offer("raid1/x/config.yaml", b"hello".to_vec());
        // Built like every client of the crate: no system files (resolve.rs checks it).
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::tls::client_config(true, &[]).unwrap())
            .dns_resolver(crate::resolve::Resolver::for_http())
            .no_proxy()
            .build()
            .unwrap();
        let body = http.get(&url).send().await.unwrap().text().await.unwrap();
        assert_eq!(body, "hello");
        let other = url.replace("config.yaml", "other");
        assert_eq!(http.get(&other).send().await.unwrap().status(), 404);
        let addr = address_towards("http://127.0.0.1:9/rest").await.unwrap();
        assert!(addr.ip().is_loopback());
    }
}
