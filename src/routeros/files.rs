//! `/file`: root-dir move-aside, directory creation, removal (§4.7).

use super::client::{RosClient, ok_if_gone};
use super::error::{ErrorKind, RosError};
use super::resources::{FileEntry, FromRow};
use super::values::{Props, Row, normalize_path, rows_of};

/// What [`RosClient::move_aside`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveAside {
    /// Renamed to this path.
    Moved { to: String },
    /// Nothing at the path (already gone).
    Absent,
}

impl RosClient {
    /// Renames `path` to `<path>.trash-<uuid>` (`/file/set`, O(1) on one
    /// disk). `no such item` means already gone. Never lists or walks the
    /// path.
    pub async fn move_aside(&self, path: &str) -> Result<MoveAside, RosError> {
        let from = normalize_path(path);
        let to = format!("{from}.trash-{}", uuid::Uuid::new_v4());
        let body = Props::new().set("numbers", from).set("name", &to);
        match self.post("/file/set", &body).await {
            Ok(_) => Ok(MoveAside::Moved { to }),
            Err(e) if e.is_gone() => Ok(MoveAside::Absent),
            Err(e) => Err(e),
        }
    }

    /// Creates each segment of a directory path in turn; `already exist`
    /// is success. Ancestors this client already created or found are
    /// skipped (the shared volumes root costs one call per process, not one
    /// per container); the path itself is always asked for.
    pub async fn ensure_directory(&self, path: &str) -> Result<(), RosError> {
        let path = normalize_path(path);
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut current = String::new();
        for (i, segment) in segments.iter().enumerate() {
            if !current.is_empty() {
                current.push('/');
            }
            current.push_str(segment);
            // The first segment is the disk itself.
            let last = i + 1 == segments.len();
            if !current.contains('/') || (!last && self.dir_known(&current)) {
                continue;
            }
            let _one = match last {
                true => None,
                false => Some(self.shared().dir_create.lock().await),
            };
            if !last && self.dir_known(&current) {
                continue; // another create made it meanwhile
            }
            let body = Props::new().set("name", &current).set("type", "directory");
            match self.post("/file/add", &body).await {
                Ok(_) => {}
                Err(e) if e.is(ErrorKind::AlreadyExists) => {}
                Err(e) => return Err(e),
            }
            if !last {
                self.dir_exists(&current);
            }
        }
        Ok(())
    }

    /// Creates one directory whose parent exists (`/file/add type=directory`); `already
    /// exist` is success.
    pub async fn add_directory(&self, path: &str) -> Result<(), RosError> {
        let body = Props::new()
            .set("name", normalize_path(path))
            .set("type", "directory");
        match self.post("/file/add", &body).await {
            Ok(_) => Ok(()),
            Err(e) if e.is(ErrorKind::AlreadyExists) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether `dir` is known to exist (created or found by [`RosClient::ensure_directory`]).
    fn dir_known(&self, dir: &str) -> bool {
        self.shared()
            .dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(dir)
    }

    fn dir_exists(&self, dir: &str) {
        self.shared()
            .dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(dir.to_string());
    }

    /// `/file/remove {"numbers": path}`; `false` when it was absent.
    pub async fn remove_file(&self, path: &str) -> Result<bool, RosError> {
        let body = Props::new().set("numbers", normalize_path(path));
        ok_if_gone(self.post("/file/remove", &body).await.map(|_| ()))
    }

    /// `GET /file?name=`: the entry, if present. Slow on big disks (the
    /// device walks the whole tree); avoid on hot paths.
    pub async fn find_file(&self, path: &str) -> Result<Option<FileEntry>, RosError> {
        let name = normalize_path(path);
        let rows: Vec<FileEntry> = self.get_rows("/file", &[("name", name)]).await?;
        Ok(rows.into_iter().find(|f| f.name == name))
    }

    /// The entries among `paths` that exist, in one `POST /file/print` whose `.query` ORs the
    /// names (the device walks its tree once, not once per path). Small files carry their
    /// `contents`.
    pub async fn files_named(&self, paths: &[String]) -> Result<Vec<FileEntry>, RosError> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let mut query = Vec::with_capacity(paths.len() * 2);
        for (i, p) in paths.iter().enumerate() {
            query.push(format!("name={}", normalize_path(p)));
            if i > 0 {
                query.push("#|".to_string());
            }
        }
        let proplist = ["name", "type", "size", "contents"].map(String::from);
        let body = Props::new()
            .set_words(".query", &query)
            .set_words(".proplist", &proplist);
        let value = self.post("/file/print", &body).await?;
        Ok(rows_of(value).iter().map(FileEntry::from_row).collect())
    }

    /// Writes a small text file (§4.7): `/file/add type=file contents=` when `exists` is
    /// false, else `/file/set contents=` on the existing file. The parent directory must exist.
    pub async fn write_small_file(
        &self,
        path: &str,
        contents: &str,
        exists: bool,
    ) -> Result<(), RosError> {
        let name = normalize_path(path);
        let body = if exists {
            Props::new().set("numbers", name).set("contents", contents)
        } else {
            Props::new()
                .set("name", name)
                .set("type", "file")
                .set("contents", contents)
        };
        let path = if exists { "/file/set" } else { "/file/add" };
        self.post(path, &body).await.map(|_| ())
    }

    /// `POST /tool/fetch {"url", "dst-path", "mode":"http"}`: the device
    /// downloads a file onto its disk. Uses the long (add) timeout; returns
    /// the progress rows.
    pub async fn fetch_to_device(&self, url: &str, dst_path: &str) -> Result<Vec<Row>, RosError> {
        let body = Props::new()
            .set("url", url)
            .set("dst-path", normalize_path(dst_path))
            .set("mode", "http");
        let timeout = self.options().add_timeout;
        let value = self
            .post_with_timeout("/tool/fetch", &body, timeout)
            .await?;
        Ok(rows_of(value))
    }
}
