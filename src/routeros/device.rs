//! Device-level reads: resource, config, log, services, sessions.

use super::client::RosClient;
use super::error::RosError;
use super::resources::{ActiveUser, ContainerConfig, LogEntry, Service, SystemResource};
use super::values::Props;

impl RosClient {
    /// `GET /system/resource` (fresh; the connect-time copy is
    /// [`RosClient::system_resource`]).
    pub async fn read_system_resource(&self) -> Result<SystemResource, RosError> {
        self.get_singleton("/system/resource").await
    }

    /// `GET /container/config`.
    pub async fn container_config(&self) -> Result<ContainerConfig, RosError> {
        self.get_singleton("/container/config").await
    }

    /// `GET /log`.
    pub async fn read_log(&self) -> Result<Vec<LogEntry>, RosError> {
        self.get_rows("/log", &[]).await
    }

    /// `/log` lines whose message mentions `name` (pod log fallback).
    pub async fn log_lines_about(&self, name: &str) -> Result<Vec<LogEntry>, RosError> {
        Ok(self
            .read_log()
            .await?
            .into_iter()
            .filter(|l| l.message.contains(name))
            .collect())
    }

    /// `GET /ip/service`.
    pub async fn list_services(&self) -> Result<Vec<Service>, RosError> {
        self.get_rows("/ip/service", &[]).await
    }

    /// `POST /ip/service/set {"numbers": service, "max-sessions": n}`.
    pub async fn set_max_sessions(&self, service: &str, max: u32) -> Result<(), RosError> {
        let body = Props::new()
            .set("numbers", service)
            .set("max-sessions", max.to_string());
        self.post("/ip/service/set", &body).await.map(|_| ())
    }

    /// `GET /user/active`.
    pub async fn active_users(&self) -> Result<Vec<ActiveUser>, RosError> {
        self.get_rows("/user/active", &[]).await
    }

    /// Number of REST sessions the device holds (`via=rest-api`).
    pub async fn rest_session_count(&self) -> Result<usize, RosError> {
        Ok(self
            .active_users()
            .await?
            .iter()
            .filter(|u| u.via == "rest-api")
            .count())
    }
}
