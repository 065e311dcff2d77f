//! The engine's link to the RouterOS device. Connecting reads `/system/resource` once; an
//! unreachable device must not stop boot, so the link connects lazily and every user (pod
//! workers, the veths actor, the reconcile loop) retries through it on its next turn.

use crate::config::Config;
use crate::metrics::Metrics;
use crate::routeros::{ClientOptions, RosClient, RosError};
use std::sync::Arc;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct DeviceLink {
    options: Result<ClientOptions, String>,
    client: Arc<Mutex<Option<RosClient>>>,
}

impl DeviceLink {
    pub fn new(config: &Config) -> DeviceLink {
        DeviceLink {
            options: ClientOptions::from_config(&config.routeros).map_err(|e| e.to_string()),
            client: Arc::new(Mutex::new(None)),
        }
    }

    /// Count the calls of the client this link connects (`/metrics`).
    pub fn with_metrics(mut self, metrics: Metrics) -> DeviceLink {
        if let Ok(options) = &mut self.options {
            options.metrics = Some(metrics);
        }
        self
    }

    /// A link that never connects (actors built without a device, e.g. in unit tests).
    pub fn unconfigured() -> DeviceLink {
        DeviceLink {
            options: Err("no RouterOS device configured".into()),
            client: Arc::new(Mutex::new(None)),
        }
    }

    /// A link that starts out connected (boot connected already).
    pub fn with_client(config: &Config, client: Option<RosClient>, metrics: Metrics) -> DeviceLink {
        let link = DeviceLink::new(config).with_metrics(metrics);
        if let Ok(mut slot) = link.client.try_lock() {
            *slot = client;
        }
        link
    }

    /// The connected client, connecting first if needed.
    pub async fn get(&self) -> Result<RosClient, RosError> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let opts = self.options.clone().map_err(RosError::Config)?;
        let client = RosClient::connect(opts).await?;
        tracing::info!("RouterOS device connected");
        *slot = Some(client.clone());
        Ok(client)
    }

    /// The client if connected, without trying to connect.
    pub async fn connected(&self) -> Option<RosClient> {
        self.client.lock().await.clone()
    }

    /// One connection attempt, for boot: logs and returns `None` when the device is down.
    pub async fn try_connect(&self) -> Option<RosClient> {
        match self.get().await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "RouterOS device unreachable at boot; reconcile retries");
                None
            }
        }
    }
}
