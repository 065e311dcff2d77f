//! LC-6 restart: restarts ≥ `maxRestarts` → `failed` (recorded; `OnFailed` follows on the
//! next pass); within the cooldown (LC-4) nothing; else stop, wait, start, count + 1.

use super::LifecycleActor;
use super::watchdog::transition;
use crate::actors::pods::units::{Transition, UnitTransition};
use actix::prelude::*;
use std::time::Instant;

impl LifecycleActor {
    pub(super) fn restart(&mut self, unit: &str, reason: String, ctx: &mut Context<Self>) {
        let s = self.settings.clone();
        let Some(rt) = self.units.get_mut(unit) else {
            return;
        };
        if rt.restarts >= s.max_restarts {
            let reason = format!(
                "{reason}; restarts {} >= maxRestarts {}",
                rt.restarts, s.max_restarts
            );
            tracing::warn!(%unit, %reason, "unit failed (LC-6)");
            transition(&self.pods, unit, Transition::Failed { reason });
            return;
        }
        if rt.restarting || rt.cooling(s.cooldown, Instant::now()) {
            return;
        }
        rt.restarting = true;
        let restarts = rt.restarts.saturating_add(1);
        let (device, pods, name) = (self.device.clone(), self.pods.clone(), unit.to_string());
        let metrics = self.metrics.clone();
        let job = async move {
            let ros = device.get().await.map_err(|e| e.to_string())?;
            let row = ros
                .find_container(&name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("container {name} is gone"))?;
            ros.stop_and_wait(&row).await.map_err(|e| e.to_string())?;
            tokio::time::sleep(s.pause).await;
            ros.start_container(&row.id)
                .await
                .map_err(|e| e.to_string())?;
            tracing::info!(unit = %name, restarts, %reason, "unit restarted (LC-6)");
            if let Some(m) = &metrics {
                m.count_container_restart("probe");
            }
            let msg = UnitTransition {
                unit: name.clone(),
                transition: Transition::Restarted { restarts, reason },
                correlation: format!("lifecycle/{name}"),
            };
            pods.send(msg).await.map_err(|e| e.to_string())??;
            Ok::<(), String>(())
        };
        let unit = unit.to_string();
        ctx.spawn(job.into_actor(self).map(move |r, act, _| {
            let Some(rt) = act.units.get_mut(&unit) else {
                return;
            };
            if let Err(e) = r {
                tracing::warn!(%unit, error = %e, "restart failed");
            }
            // A failed attempt counts for the cooldown too, so it is not retried every tick.
            rt.restarted(Instant::now());
        }));
    }
}
