//! The site registry container `registry.gt.lo` (images.md §6.2 step 5): pulled by the device
//! straight from the upstream (`remote-image`, `check-certificate=no`), serving TLS with the
//! site certificate on its own address, and waited for until `GET /v2/` answers over TLS
//! trusting only the site CA.

use std::time::{Duration, Instant};

use super::containers::Wanted;
use super::layout::{self, REGISTRY, REGISTRY_VETH};
use super::options::InstallOptions;
use crate::routeros::{ContainerSpec, ImageSource};

/// How often the health check asks (§6.2: every 2 s).
const HEALTH_EVERY: Duration = Duration::from_secs(2);

pub fn wanted(o: &InstallOptions) -> Wanted {
    let mut spec = ContainerSpec::new(
        REGISTRY,
        ImageSource::Remote {
            image: o.registry_image.clone(),
            check_certificate: false,
        },
        REGISTRY_VETH,
        layout::root_dir(REGISTRY),
    );
    spec.mountlists = layout::lists_of(REGISTRY);
    // Management on the registry's own address too (the image's default is 0.0.0.0:5001).
    spec.cmd = format!(
        "--config /etc/registry/config.yaml --mgmt-listen {}:{}",
        o.registry_ip,
        o.registry_port + 1
    );
    spec.hostname = REGISTRY.into();
    spec.dns = o.dns.clone();
    spec.start_on_boot = true;
    Wanted {
        spec,
        extract_timeout: o.extract_timeout,
        recreate_stopped: false,
    }
}

/// An HTTPS client that trusts only the site CA.
pub fn site_client(ca_pem: &str) -> Result<reqwest::Client, String> {
    let tls = crate::tls::client_config(false, &[ca_pem.as_bytes()])?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(crate::resolve::Resolver::for_http())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("http client: {e}"))
}

/// Polls `GET https://<registry>/v2/` until it answers 200 or `timeout` passes; the error
/// names the last thing seen.
pub async fn wait_healthy(
    o: &InstallOptions,
    ca_pem: &str,
    timeout: Duration,
) -> Result<(), String> {
    let client = site_client(ca_pem)?;
    let url = format!("https://{}/v2/", o.registry_host());
    let started = Instant::now();
    loop {
        let seen = match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => format!("{url} answered {}", r.status()),
            Err(e) => format!("{url}: {}", root_cause(&e)),
        };
        if started.elapsed() >= timeout {
            return Err(format!(
                "no healthy answer within {}s; last: {seen}",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(HEALTH_EVERY.min(timeout.saturating_sub(started.elapsed()))).await;
    }
}

fn root_cause(e: &reqwest::Error) -> String {
    let mut root: &dyn std::error::Error = e;
    while let Some(next) = root.source() {
        root = next;
    }
    format!("{e} ({root})")
}
