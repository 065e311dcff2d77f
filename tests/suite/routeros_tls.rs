//! The client over HTTPS: `insecureVerify`, a configured CA, and refusal of
//! an unknown certificate. Certificates are test-only fixtures for 127.0.0.1.

use mkube::routeros::{ClientOptions, RosClient, RosError};
use mkube::sim::routeros::{SimOptions, start};

const CA: &str = include_str!("routeros_support/test-ca.pem");
const LEAF: &str = include_str!("routeros_support/test-leaf.pem");
const KEY: &str = include_str!("routeros_support/test-leaf.key");

#[tokio::test]
async fn https_with_insecure_verify_and_with_ca() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions {
        tls: Some((LEAF.as_bytes().to_vec(), KEY.as_bytes().to_vec())),
        ..SimOptions::new(dir.path().to_path_buf())
    })
    .await
    .expect("tls simulator");
    let url = sim.rest_url();
    assert!(url.starts_with("https://127.0.0.1:"));

    let mut insecure = ClientOptions::new(&url, "admin", "");
    insecure.insecure_verify = true;
    let c = RosClient::connect(insecure).await.expect("insecure verify");
    assert!(c.list_containers().await.unwrap().is_empty());

    let mut with_ca = ClientOptions::new(&url, "admin", "");
    with_ca.ca_cert_pem = Some(CA.to_string());
    RosClient::connect(with_ca).await.expect("verified by CA");

    let strict = ClientOptions::new(&url, "admin", "");
    let err = RosClient::connect(strict).await.unwrap_err();
    assert!(matches!(err, RosError::Transport { .. }), "{err:?}");
    sim.stop().await;
}
