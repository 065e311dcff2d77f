//! `/container/mounts` and `/container/envs`: sync a list to a desired set
//! (§4.4, §4.5). Always filtered by `?list=`.

use super::client::{RosClient, ok_if_gone};
use super::error::{ErrorKind, RosError};
use super::resources::{Env, Mount};
use super::values::{Props, normalize_path};

/// One desired mount of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    /// Device path (stored verbatim by RouterOS, compared normalised).
    pub src: String,
    pub dst: String,
    pub read_only: bool,
}

impl MountSpec {
    pub fn new(src: impl Into<String>, dst: impl Into<String>) -> MountSpec {
        MountSpec {
            src: src.into(),
            dst: dst.into(),
            read_only: false,
        }
    }

    fn matches(&self, m: &Mount) -> bool {
        normalize_path(&self.src) == normalize_path(&m.src) && self.dst == m.dst
    }
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: usize,
    pub removed: usize,
    pub kept: usize,
}

/// Mounts on persistent volumes are never deleted by mkube.
pub fn is_protected_mount(m: &Mount) -> bool {
    m.src.contains("/pvc/") || m.src.contains("/volumes/pvc/")
}

impl RosClient {
    /// `GET /container/mounts?list=`.
    pub async fn list_mounts(&self, list: &str) -> Result<Vec<Mount>, RosError> {
        let key = self.names().mount_group;
        let rows: Vec<Mount> = self.get_rows("/container/mounts", &[(key, list)]).await?;
        Ok(rows.into_iter().filter(|m| m.list == list).collect())
    }

    /// `GET /container/mounts` (every list; slow with many stale entries).
    pub async fn list_all_mounts(&self) -> Result<Vec<Mount>, RosError> {
        self.get_rows("/container/mounts", &[]).await
    }

    /// Makes list `list` hold exactly `desired`: extras removed (except
    /// PVC mounts whose dst no desired mount needs), missing ones added. A
    /// `same dst already exists` on add re-reads the list, removes the
    /// conflicting entry and adds again.
    pub async fn sync_mounts(
        &self,
        list: &str,
        desired: &[MountSpec],
    ) -> Result<SyncReport, RosError> {
        let current = self.list_mounts(list).await?;
        let mut report = SyncReport::default();
        let mut present = vec![false; desired.len()];
        for m in &current {
            if let Some(i) = desired.iter().position(|d| d.matches(m)) {
                present[i] = true;
                report.kept += 1;
                continue;
            }
            let needed_dst = desired.iter().any(|d| d.dst == m.dst);
            if is_protected_mount(m) && !needed_dst {
                report.kept += 1;
                continue;
            }
            if ok_if_gone(self.remove("/container/mounts", &m.id).await)? {
                report.removed += 1;
            }
        }
        for (d, _) in desired.iter().zip(&present).filter(|(_, p)| !**p) {
            match self.add_mount(list, d).await {
                Ok(_) => report.added += 1,
                Err(e) if e.is(ErrorKind::SameDstExists) => {
                    let rows = self.list_mounts(list).await?;
                    if rows.iter().any(|m| d.matches(m)) {
                        report.kept += 1;
                        continue;
                    }
                    for m in rows.iter().filter(|m| m.dst == d.dst) {
                        ok_if_gone(self.remove("/container/mounts", &m.id).await)?;
                        report.removed += 1;
                    }
                    self.add_mount(list, d).await?;
                    report.added += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// [`RosClient::sync_mounts`] for a list the caller knows to be empty
    /// (a container no record names, whose teardown removed its list): adds
    /// only. A `same dst already exists` (the list was not empty after all)
    /// or an unknown outcome falls back to the full sync.
    pub async fn add_mounts(
        &self,
        list: &str,
        desired: &[MountSpec],
    ) -> Result<SyncReport, RosError> {
        let mut report = SyncReport::default();
        for d in desired {
            match self.add_mount(list, d).await {
                Ok(_) => report.added += 1,
                Err(e) if e.is(ErrorKind::SameDstExists) || e.is_indeterminate() => {
                    return self.sync_mounts(list, desired).await;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// `POST /container/mounts/add {list, src, dst}`.
    pub async fn add_mount(&self, list: &str, m: &MountSpec) -> Result<String, RosError> {
        let names = self.names();
        let mut body = Props::new()
            .set(names.mount_group, list)
            .set("src", &m.src)
            .set("dst", &m.dst);
        if m.read_only {
            body = if names.version.at_least(7, 23) {
                body.set("mode", "ro")
            } else {
                body.flag("read-only", true)
            };
        }
        self.add("/container/mounts", &body).await
    }

    /// Removes every (non-PVC) mount of a list.
    pub async fn remove_mount_list(&self, list: &str) -> Result<usize, RosError> {
        self.sync_mounts(list, &[]).await.map(|r| r.removed)
    }

    /// `GET /container/envs?list=`.
    pub async fn list_envs(&self, list: &str) -> Result<Vec<Env>, RosError> {
        let key = self.names().env_group;
        let rows: Vec<Env> = self.get_rows("/container/envs", &[(key, list)]).await?;
        Ok(rows.into_iter().filter(|e| e.list == list).collect())
    }

    /// Makes env list `list` hold exactly `desired` (key, value) pairs:
    /// extras and changed values removed, missing ones added.
    pub async fn sync_envs(
        &self,
        list: &str,
        desired: &[(String, String)],
    ) -> Result<SyncReport, RosError> {
        let current = self.list_envs(list).await?;
        let mut report = SyncReport::default();
        let mut present = vec![false; desired.len()];
        for e in &current {
            let hit = desired
                .iter()
                .enumerate()
                .position(|(i, (k, v))| !present[i] && *k == e.key && *v == e.value);
            if let Some(i) = hit {
                present[i] = true;
                report.kept += 1;
            } else if ok_if_gone(self.remove("/container/envs", &e.id).await)? {
                report.removed += 1;
            }
        }
        let group = self.names().env_group;
        for ((k, v), _) in desired.iter().zip(&present).filter(|(_, p)| !**p) {
            let body = Props::new().set(group, list).set("key", k).set("value", v);
            self.add("/container/envs", &body).await?;
            report.added += 1;
        }
        Ok(report)
    }

    /// [`RosClient::sync_envs`] for a list the caller knows to be empty (see
    /// [`RosClient::add_mounts`]): adds only; an unknown outcome falls back to the full sync.
    pub async fn add_envs(
        &self,
        list: &str,
        desired: &[(String, String)],
    ) -> Result<SyncReport, RosError> {
        let group = self.names().env_group;
        let mut report = SyncReport::default();
        for (k, v) in desired {
            let body = Props::new().set(group, list).set("key", k).set("value", v);
            match self.add("/container/envs", &body).await {
                Ok(_) => report.added += 1,
                Err(e) if e.is_indeterminate() => return self.sync_envs(list, desired).await,
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }

    /// Removes every env of a list.
    pub async fn remove_env_list(&self, list: &str) -> Result<usize, RosError> {
        self.sync_envs(list, &[]).await.map(|r| r.removed)
    }
}
