//! ConfigMap volume files (controller.md NAME-6, §3.1 step 3, §5 step 5): each data key of a
//! ConfigMap mounted by a container is a file `<storage.configMapPath>/<container>/<volume>/<key>`
//! in mkube's own filesystem; the device mounts that directory through its NAME-8 path.
//!
//! The directory belongs to mkube: files are written atomically (temp + rename, 0644; dirs
//! 0755) and every other regular file in it is removed, so a key removed from the ConfigMap
//! loses its file ([D]: the original left such files behind). Keys that could leave the
//! directory (`../x`, `a/b`, empty, `.`, `..`) are refused by API admission and skipped here
//! (manifest ConfigMaps do not pass admission), so nothing escapes the directory.

use crate::actors::configmaps::state::{ConfigMapsState, config_map_key};
use crate::actors::images::names::host_visible;
use crate::config::StorageConfig;
use crate::pod::names;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// One ConfigMap-backed volume mount of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmMount {
    /// Index in the container's `volumeMounts` (and in the plan's mount list).
    pub index: usize,
    pub volume: String,
    pub config_map: String,
}

/// The container's volume mounts whose pod volume is a `configMap`.
pub fn config_map_mounts(pod: &Pod, c: &Container) -> Vec<CmMount> {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
    c.volume_mounts
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(index, m)| {
            let v = volumes?.iter().find(|v| v.name == m.name)?;
            let cm = v.config_map.as_ref()?;
            Some(CmMount {
                index,
                volume: m.name.clone(),
                config_map: cm.name.clone(),
            })
        })
        .collect()
}

/// The ConfigMap of a mount, looked up in the pod's namespace.
pub fn lookup<'a>(state: &'a ConfigMapsState, pod: &Pod, m: &CmMount) -> Option<&'a ConfigMap> {
    let ns = crate::pod::namespace_of(&pod.metadata);
    state.config_maps.get(&config_map_key(ns, &m.config_map))
}

/// NAME-6: the local directory of one container's ConfigMap volume.
pub fn local_dir(storage: &StorageConfig, device_name: &str, volume: &str) -> PathBuf {
    Path::new(&storage.config_map_path)
        .join(device_name)
        .join(volume)
}

/// NAME-8: the directory as the device sees it (the mount entry's `src`).
pub fn host_dir(storage: &StorageConfig, device_name: &str, volume: &str) -> String {
    host_visible(
        &local_dir(storage, device_name, volume).to_string_lossy(),
        storage,
    )
}

/// The files a ConfigMap stands for: `data` then `binaryData`, unsafe keys skipped (logged).
pub fn files_of(cm: &ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let text = cm
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.as_bytes().to_vec()));
    let binary = cm
        .binary_data
        .iter()
        .flatten()
        .map(|(k, v)| (k, v.0.clone()));
    for (k, v) in text.chain(binary) {
        if names::config_key_is_file_name(k) {
            out.insert(k.clone(), v);
        } else {
            tracing::warn!(
                configmap = cm.metadata.name.as_deref().unwrap_or_default(),
                key = %k,
                "ConfigMap key cannot be a file name; skipped"
            );
        }
    }
    out
}

/// Whether the directory differs from `files`: missing directory, missing or different file,
/// or a file of a key no longer in the ConfigMap.
pub fn differs(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    let mut seen = 0usize;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file {
            continue;
        }
        match files.get(&name) {
            Some(want) if std::fs::read(entry.path()).is_ok_and(|have| &have == want) => seen += 1,
            _ => return true,
        }
    }
    seen != files.len()
}

/// Makes the directory hold exactly `files` (temp + rename per changed file; other regular
/// files removed). Returns whether anything changed.
pub fn sync(dir: &Path, files: &BTreeMap<String, Vec<u8>>) -> io::Result<bool> {
    let mut changed = false;
    if !dir.is_dir() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
        changed = true;
    }
    for (key, data) in files {
        let path = dir.join(key);
        if std::fs::read(&path).is_ok_and(|have| &have == data) {
            continue;
        }
        write_atomic(dir, key, data)?;
        changed = true;
    }
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_file()) && !files.contains_key(&name) {
            std::fs::remove_file(entry.path())?;
            changed = true;
        }
    }
    Ok(changed)
}

fn write_atomic(dir: &Path, key: &str, data: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(".{key}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(key))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// §5 step 5 comparison for one pod: does any ConfigMap volume of any container differ from
/// its ConfigMap? Missing ConfigMaps are not compared ([O]: their mounts stay empty dirs).
pub fn pod_differs(storage: &StorageConfig, state: &ConfigMapsState, pod: &Pod) -> bool {
    let ns = crate::pod::namespace_of(&pod.metadata);
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    pod.spec.iter().flat_map(|s| &s.containers).any(|c| {
        let device = names::container_name(ns, name, &c.name);
        config_map_mounts(pod, c).iter().any(|m| {
            lookup(state, pod, m)
                .is_some_and(|cm| differs(&local_dir(storage, &device, &m.volume), &files_of(cm)))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn sync_writes_compares_and_removes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("c/v");
        let one = files(&[("a.conf", "1"), ("b", "2")]);
        assert!(differs(&dir, &one));
        assert!(sync(&dir, &one).unwrap());
        assert!(!differs(&dir, &one));
        assert!(!sync(&dir, &one).unwrap());
        let mode = std::fs::metadata(dir.join("b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
        let two = files(&[("a.conf", "9")]);
        assert!(differs(&dir, &two));
        assert!(sync(&dir, &two).unwrap());
        assert_eq!(std::fs::read_to_string(dir.join("a.conf")).unwrap(), "9");
        assert!(!dir.join("b").exists());
        assert!(differs(&dir, &BTreeMap::new()));
    }

    #[test]
    fn unsafe_keys_never_name_files() {
        for k in ["", ".", "..", "../x", "a/b", "/etc/passwd", "a\0b"] {
            assert!(!names::config_key_is_file_name(k), "{k:?}");
        }
        for k in ["a", ".env", "microdns.toml", "x..y"] {
            assert!(names::config_key_is_file_name(k), "{k:?}");
        }
    }

    #[test]
    fn host_dir_follows_name8() {
        let mut s = StorageConfig {
            config_map_path: "/data/configmaps".into(),
            ..StorageConfig::default()
        };
        s.persistent_mounts = vec![crate::config::PersistentMount {
            container_path: "/data".into(),
            host_path: "raid1/volumes/kube.gt.lo/data".into(),
        }];
        assert_eq!(
            host_dir(&s, "g10_dns_microdns", "config"),
            "raid1/volumes/kube.gt.lo/data/configmaps/g10_dns_microdns/config"
        );
    }
}
