//! `kubectl logs` (controller.md §9): the device's `/log` lines about one pod container,
//! read by the pods actor through its device link so API handlers never talk to RouterOS.

use super::PodsActor;
use crate::pod::names;
use crate::routeros::LogEntry;
use actix::prelude::*;

#[derive(Debug, thiserror::Error)]
pub enum DeviceLogError {
    #[error("no RouterOS device is managed here (standalone mode only); logs come from the device")]
    NoDevice,
    #[error("the RouterOS device is unreachable: {0}")]
    Unreachable(String),
    #[error("reading the device log: {0}")]
    Device(String),
}

/// The device log lines mentioning the container's device name (NAME-1).
#[derive(Debug, Message)]
#[rtype(result = "Result<Vec<LogEntry>, DeviceLogError>")]
pub struct DeviceLog {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl Handler<DeviceLog> for PodsActor {
    type Result = ResponseFuture<Result<Vec<LogEntry>, DeviceLogError>>;

    fn handle(&mut self, msg: DeviceLog, _: &mut Context<Self>) -> Self::Result {
        let Some(device) = self.engine.as_ref().map(|e| e.deps.device.clone()) else {
            return Box::pin(async { Err(DeviceLogError::NoDevice) });
        };
        let name = names::container_name(&msg.namespace, &msg.pod, &msg.container);
        Box::pin(async move {
            let ros = device
                .get()
                .await
                .map_err(|e| DeviceLogError::Unreachable(e.to_string()))?;
            ros.log_lines_about(&name)
                .await
                .map_err(|e| DeviceLogError::Device(e.to_string()))
        })
    }
}
