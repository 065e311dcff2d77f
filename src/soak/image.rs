//! Image pushes: a new digest of the tiny demo image, pushed the way users push (skopeo).

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use tokio::process::Command;

pub const REPO: &str = "hello";
pub const TAG: &str = "latest";

pub struct Pusher {
    /// scripts/make-demo-image.py: writes the OCI layout skopeo pushes.
    pub script: PathBuf,
    pub work: PathBuf,
    pub registry: String,
    pushes: u32,
}

impl Pusher {
    pub fn new(script: PathBuf, work: PathBuf, registry: String) -> Pusher {
        Pusher {
            script,
            work,
            registry,
            pushes: 0,
        }
    }

    /// The pods' image reference.
    pub fn reference(&self) -> String {
        format!("{}/{REPO}:{TAG}", self.registry)
    }

    /// Pushes a new digest of `hello:latest` (a new message in its layer) and returns the
    /// digest the registry now serves for the tag.
    pub async fn push_new(&mut self, http: &reqwest::Client) -> Result<String> {
        self.pushes += 1;
        let layout = self.work.join(format!("image-{}", self.pushes));
        let message = format!("soak push {}", self.pushes);
        run(Command::new("python3")
            .arg(&self.script)
            .arg(&layout)
            .arg(TAG)
            .arg(&message))
        .await
        .context("writing the image layout")?;
        self.copy(&layout).await?;
        self.served_digest(http).await
    }

    async fn copy(&self, layout: &Path) -> Result<()> {
        run(Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:{TAG}", layout.display()))
            .arg(format!("docker://{}", self.reference())))
        .await
        .context("skopeo copy")
    }

    /// The manifest digest the registry serves for the tag.
    pub async fn served_digest(&self, http: &reqwest::Client) -> Result<String> {
        let url = format!("http://{}/v2/{REPO}/manifests/{TAG}", self.registry);
        let r = http
            .head(&url)
            .header(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .send()
            .await
            .with_context(|| format!("HEAD {url}"))?;
        if !r.status().is_success() {
            bail!("HEAD {url}: {}", r.status());
        }
        r.headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .with_context(|| format!("HEAD {url}: no Docker-Content-Digest"))
    }
}

async fn run(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().await.context("running the command")?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
