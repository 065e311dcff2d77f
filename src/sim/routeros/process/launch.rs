//! What a started container runs (spec §3.1, §3.5): its command line, environment, mounts,
//! `workdir`, `user`, `hostname`, stop signal and grace, read from its row, its env and mount
//! lists and its image's run config. Pure: built under the device lock, run outside it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::image::ImageConfig;
use crate::sim::routeros::container::parse_duration_ms;
use crate::sim::routeros::device::{Device, ENVS, MOUNTS, VETH};
use crate::sim::routeros::files::rel_path;
use crate::sim::routeros::rows::{Row, is_true, split_list};

/// A mount-list entry: a host directory (or file) bound at `dst` inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    pub src: PathBuf,
    pub dst: String,
    pub read_only: bool,
}

/// Everything the launcher needs, without the image (read from disk outside the lock).
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    pub id: u64,
    pub name: String,
    /// Host path of root-dir.
    pub root: PathBuf,
    /// `entrypoint` and `cmd` of the row, split into words (`None` = the image's).
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// The env lists' entries, in list order.
    pub env: Vec<(String, String)>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: String,
    pub binds: Vec<Bind>,
    pub logging: bool,
    pub stop_signal: i32,
    pub stop_grace: Duration,
    /// The veth's address (loopback), if it has one.
    pub address: Option<Ipv4Addr>,
}

/// The command line, environment and working directory once the image is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub workdir: String,
    pub user: Option<String>,
}

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl LaunchSpec {
    /// Merges the row with the image: a row `entrypoint` replaces the image's entrypoint and
    /// its cmd (as `docker run --entrypoint`); a row `cmd` replaces the image's cmd; env-list
    /// entries override the image's `Env` by key; `PATH` defaults as in a container runtime.
    pub fn resolve(&self, image: &ImageConfig) -> Result<Resolved, String> {
        let (entry, image_cmd) = match &self.entrypoint {
            Some(e) => (e.clone(), Vec::new()),
            None => (image.entrypoint.clone(), image.cmd.clone()),
        };
        let cmd = self.cmd.clone().unwrap_or(image_cmd);
        let argv: Vec<String> = entry.into_iter().chain(cmd).collect();
        if argv.is_empty() {
            return Err("no command specified".into());
        }
        let mut env: Vec<(String, String)> = Vec::new();
        let mut put = |k: String, v: String| match env.iter_mut().find(|(key, _)| *key == k) {
            Some(slot) => slot.1 = v,
            None => env.push((k, v)),
        };
        for kv in &image.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            put(k.to_string(), v.to_string());
        }
        for (k, v) in &self.env {
            put(k.clone(), v.clone());
        }
        if !env.iter().any(|(k, _)| k == "PATH") {
            env.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        let workdir = self
            .workdir
            .clone()
            .or_else(|| (!image.workdir.is_empty()).then(|| image.workdir.clone()))
            .unwrap_or_else(|| "/".into());
        if !workdir.starts_with('/') {
            return Err(format!("workdir {workdir:?} is not absolute"));
        }
        let user = self
            .user
            .clone()
            .or_else(|| (!image.user.is_empty()).then(|| image.user.clone()));
        Ok(Resolved {
            argv,
            env,
            workdir,
            user,
        })
    }
}

/// Splits a RouterOS `cmd`/`entrypoint` string into words: blanks separate, `'…'` and `"…"`
/// quote, a backslash escapes the next character outside single quotes.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated quote in {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => cur.push(chars.next().unwrap_or('\\')),
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated quote in {s:?}")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().unwrap_or('\\'));
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn prop<'a>(row: &'a Row, key: &str) -> Option<&'a str> {
    row.get(key).map(|s| s.as_str()).filter(|s| !s.is_empty())
}

impl Device {
    /// The launch spec of container `id`, or why it cannot start.
    pub fn launch_spec(&self, id: u64, default_grace: Duration) -> Result<LaunchSpec, String> {
        let c = self
            .t
            .containers
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| format!("no container {id}"))?;
        let p = &c.props;
        let words = |key: &str| prop(p, key).map(split_words).transpose();
        let lists = |key: &str| prop(p, key).map(split_list).unwrap_or_default();
        let enabled = |r: &&Row| !is_true(r, "disabled");

        let env_group = self.profile.env_group();
        let mut env = Vec::new();
        for list in lists(self.profile.envs_ref()) {
            for r in self.t.table(ENVS).iter().filter(enabled) {
                if r.get(env_group) == Some(&list)
                    && let Some(k) = prop(r, "key")
                {
                    env.push((k.to_string(), r.get("value").cloned().unwrap_or_default()));
                }
            }
        }

        let mount_group = self.profile.mount_group();
        let mut binds = Vec::new();
        for list in lists(self.profile.mounts_ref()) {
            for r in self.t.table(MOUNTS).iter().filter(enabled) {
                if r.get(mount_group) != Some(&list) {
                    continue;
                }
                let src = prop(r, "src").ok_or_else(|| format!("mount {list} has no src"))?;
                let dst = prop(r, "dst").ok_or_else(|| format!("mount {list} has no dst"))?;
                let rel = rel_path(src).map_err(|_| format!("mount {list}: bad src {src:?}"))?;
                binds.push(Bind {
                    src: self.disk_root.join(rel),
                    dst: dst.to_string(),
                    read_only: is_true(r, "read-only") || r.get("mode").is_some_and(|m| m == "ro"),
                });
            }
        }

        let mut address = None;
        for iface in lists("interface") {
            let Some(veth) = self.find_row(VETH, "name", &iface) else {
                continue;
            };
            for cidr in veth
                .get("address")
                .map(|a| split_list(a))
                .unwrap_or_default()
            {
                let ip = cidr.split('/').next().unwrap_or_default();
                let ip: Ipv4Addr = ip
                    .parse()
                    .map_err(|_| format!("veth {iface}: address {cidr:?} is not IPv4"))?;
                if !ip.is_loopback() {
                    return Err(format!(
                        "veth {iface}: address {ip} is outside 127.0.0.0/8 (run-containers binds loopback only)"
                    ));
                }
                address.get_or_insert(ip);
            }
        }

        let stop_grace = prop(p, "stop-time")
            .and_then(parse_duration_ms)
            .map(|ms| Duration::from_secs_f64(ms.max(0.0) / 1000.0))
            .unwrap_or(default_grace);
        Ok(LaunchSpec {
            id,
            name: c.name().to_string(),
            root: self.disk_root.join(c.root_dir()),
            entrypoint: words("entrypoint")?,
            cmd: words("cmd")?,
            env,
            workdir: prop(p, "workdir").map(String::from),
            user: prop(p, "user").map(String::from),
            hostname: prop(p, "hostname").unwrap_or(c.name()).to_string(),
            binds,
            logging: is_true(p, "logging"),
            stop_signal: prop(p, "stop-signal")
                .and_then(|s| s.parse().ok())
                .unwrap_or(15),
            stop_grace,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_a_command_line() {
        assert_eq!(
            split_words(r#" --listen 127.0.0.5:5000  --store "/raid1/my store" 'a b' c\ d "#)
                .unwrap(),
            vec![
                "--listen",
                "127.0.0.5:5000",
                "--store",
                "/raid1/my store",
                "a b",
                "c d"
            ]
        );
        assert_eq!(split_words("").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), vec![""]);
        assert!(split_words("'open").is_err());
    }

    fn spec() -> LaunchSpec {
        LaunchSpec {
            id: 1,
            name: "c".into(),
            root: "/r".into(),
            entrypoint: None,
            cmd: None,
            env: vec![("A".into(), "list".into())],
            workdir: None,
            user: None,
            hostname: "c".into(),
            binds: vec![],
            logging: false,
            stop_signal: 15,
            stop_grace: Duration::from_secs(1),
            address: None,
        }
    }

    #[test]
    fn the_row_overrides_the_image() {
        let image = ImageConfig {
            entrypoint: vec!["/bin/app".into()],
            cmd: vec!["--default".into()],
            env: vec!["A=image".into(), "B=image".into(), "PATH=/bin".into()],
            workdir: "/data".into(),
            user: "1000".into(),
        };
        let r = spec().resolve(&image).unwrap();
        assert_eq!(r.argv, vec!["/bin/app", "--default"]);
        assert_eq!(
            r.env,
            vec![
                ("A".into(), "list".into()),
                ("B".into(), "image".into()),
                ("PATH".into(), "/bin".into())
            ]
        );
        assert_eq!(
            (r.workdir.as_str(), r.user.as_deref()),
            ("/data", Some("1000"))
        );

        let mut s = spec();
        s.cmd = Some(vec!["--other".into()]);
        assert_eq!(s.resolve(&image).unwrap().argv, vec!["/bin/app", "--other"]);
        s.entrypoint = Some(vec!["/bin/sh".into()]);
        s.cmd = None;
        assert_eq!(s.resolve(&image).unwrap().argv, vec!["/bin/sh"]);

        let bare = spec().resolve(&ImageConfig::default());
        assert_eq!(bare.unwrap_err(), "no command specified");
        let mut s = spec();
        s.cmd = Some(vec!["/x".into()]);
        let r = s.resolve(&ImageConfig::default()).unwrap();
        assert_eq!(r.workdir, "/");
        assert!(r.env.iter().any(|(k, _)| k == "PATH"));
        s.workdir = Some("rel".into());
        assert!(s.resolve(&ImageConfig::default()).is_err());
    }
}
