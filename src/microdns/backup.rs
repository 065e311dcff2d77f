//! R16 backups: every zone of one instance (reverse and empty zones too), each with every
//! record, paged.

use serde::{Deserialize, Serialize};

use super::client::MicrodnsClient;
use super::error::MicrodnsError;
use super::types::{Record, Zone};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Backup {
    /// `<host>:<port>` of the REST endpoint.
    pub server: String,
    pub network: String,
    pub zones: Vec<ZoneBackup>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneBackup {
    pub zone: Zone,
    pub records: Vec<Record>,
}

/// Reads every zone and all of its records from `endpoint`.
pub async fn backup_endpoint(
    client: &MicrodnsClient,
    network: &str,
    endpoint: &str,
) -> Result<Backup, MicrodnsError> {
    let mut zones = client.list_zones(endpoint).await?;
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::with_capacity(zones.len());
    for zone in zones {
        let records = client.list_records(endpoint, &zone.id).await?;
        out.push(ZoneBackup { zone, records });
    }
    Ok(Backup {
        server: host_port(endpoint),
        network: network.to_string(),
        zones: out,
    })
}

/// `http://10.0.0.1:8080/` → `10.0.0.1:8080`.
fn host_port(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    rest.split('/').next().unwrap_or(rest).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn server_is_host_and_port() {
        assert_eq!(
            super::host_port("http://192.168.200.199:8080"),
            "192.168.200.199:8080"
        );
        assert_eq!(super::host_port("http://127.0.0.1:9/"), "127.0.0.1:9");
    }
}
