//! `mkube-installer` (images.md §6): takes a bare RouterOS device to a site that runs its own
//! registry, the NATS home of mkube's log and mkube-update, which then bootstraps mkube.
//!
//! One run reads the device once ([`observe`]), then walks the steps in order; each compares
//! what it wants with the observation and writes only the difference (§6.4), so a run against
//! an installed device makes no write at all and says so. Progress is one line per step with
//! the device calls it made; a failure names the step, what it saw and what to do.
//!
//! Files, one per step or concern: [`options`] (the flags as data), [`layout`] (names, paths,
//! mount lists), [`observe`], [`certs`], [`infra`], [`configs`], [`transport`] and [`serve`]
//! (how files reach the device), [`containers`] (bring one container to running),
//! [`registry`], [`seed`], [`nats`], [`updater`], [`report`] (progress and errors).

pub mod certs;
pub mod configs;
pub mod containers;
pub mod infra;
pub mod layout;
pub mod nats;
pub mod observe;
pub mod options;
pub mod registry;
pub mod report;
pub mod seed;
pub mod serve;
pub mod transport;
pub mod updater;

use std::collections::BTreeMap;
use std::io::Write;

use crate::routeros::{ClientOptions, RosClient, RosError};
use containers::Outcome;
use observe::Observed;
pub use options::InstallOptions;
use report::{DeviceCalls, Progress, StepError, calls};

/// The steps, in order, as the progress shows them.
pub const STEPS: [&str; 9] = [
    "verify",
    "certificates",
    "infra",
    "configs",
    "registry",
    "seed",
    "nats",
    "cleanup",
    "mkube-update",
];

/// How a successful run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunReport {
    pub calls: DeviceCalls,
}

/// Runs every step against the device, printing progress to `out`.
pub async fn run(o: &InstallOptions, out: Box<dyn Write + Send>) -> Result<RunReport, StepError> {
    let mut p = Progress::new(out, STEPS.len());
    let result = steps(o, &mut p).await;
    match &result {
        Ok(r) if r.calls.writes == 0 => p.line(&format!(
            "done: the device already matched; no write made ({} reads)",
            r.calls.reads
        )),
        Ok(r) => p.line(&format!(
            "done: {} reads, {} writes; mkube-update now bootstraps mkube",
            r.calls.reads, r.calls.writes
        )),
        Err(e) => p.failed(e),
    }
    result
}

async fn steps(o: &InstallOptions, p: &mut Progress) -> Result<RunReport, StepError> {
    o.validate()
        .map_err(|e| StepError::new("verify", e, "fix the flags (see --help)"))?;

    p.begin("verify");
    let (client, observed) = verify(o).await?;
    let r = client.system_resource();
    p.end(
        &format!(
            "RouterOS {} ({}, board {}), bridge {} present",
            r.version, r.architecture_name, r.board_name, o.bridge
        ),
        calls(&client),
    );
    let mut before = calls(&client);
    let mut done = |p: &mut Progress, summary: &str, client: &RosClient| {
        let now = calls(client);
        p.end(summary, now.since(before));
        before = now;
    };

    p.begin("certificates");
    let (site_certs, origin) =
        certs::reuse_or_generate(&observed, o.registry_ip, o.rotate_certs)
            .map_err(|e| StepError::new("certificates", e, "report this; nothing was written"))?;
    let certs_changed = origin != certs::Origin::Reused;
    let summary = match &origin {
        certs::Origin::Reused => format!(
            "reused (key matches, chain verifies, SANs cover {})",
            o.registry_ip
        ),
        certs::Origin::Generated { why } => format!("generated a new CA and server pair ({why})"),
    };
    done(p, &summary, &client);

    p.begin("infra");
    let changes = infra::ensure(&client, &observed, o)
        .await
        .map_err(|e| device_error("infra", e, &format!("check that bridge {} exists and that no other veth holds these addresses; run again", o.bridge)))?;
    let summary = if changes.is_empty() {
        "veths, bridge ports, mounts and directories present".to_string()
    } else {
        format!("created {}", changes.summary())
    };
    done(p, &summary, &client);

    p.begin("configs");
    let files = configs::desired(o, &site_certs)
        .map_err(|e| StepError::new("configs", e, "fix --mkube-config / --boot-order"))?;
    let written = transport::put(&client, &observed, &files, o.serve_address)
        .await
        .map_err(|e| StepError::new("configs", e, "check the device's disk and, for large files, that it can reach this machine (--serve-address); run again"))?;
    let summary = if written.is_empty() {
        format!("all {} files match", files.len())
    } else {
        format!("wrote {}", written.join(", "))
    };
    done(p, &summary, &client);

    let reconfigured = |container: &str| {
        let dir = layout::volume(container, "config");
        written.iter().any(|w| w.starts_with(&dir))
    };

    p.begin("registry");
    let restart = certs_changed || reconfigured(layout::REGISTRY);
    let summary = ensure_registry(o, &client, &observed, &site_certs.ca_pem, restart).await?;
    done(p, &summary, &client);

    p.begin("seed");
    let (summary, seeded) = seed_all(o, &site_certs.ca_pem).await?;
    done(p, &summary, &client);

    p.begin("nats");
    let restart = reconfigured(layout::NATS);
    let summary =
        ensure_reconfigured(&client, &observed, &nats::wanted(o), "nats", restart).await?;
    done(p, &summary, &client);

    p.begin("cleanup");
    let summary = match observed.container(layout::LEFTOVER_INSTALLER) {
        None => "no leftover installer container".to_string(),
        Some(_) => {
            client
                .delete_container(layout::LEFTOVER_INSTALLER)
                .await
                .map_err(|e| {
                    device_error(
                        "cleanup",
                        e,
                        "remove the mkube-installer container by hand; run again",
                    )
                })?;
            format!("removed leftover {}", layout::LEFTOVER_INSTALLER)
        }
    };
    done(p, &summary, &client);

    p.begin("mkube-update");
    let baseline = updater::write_baseline(&client, &observed, &seeded)
        .await
        .map_err(|e| device_error("mkube-update", e, "check the device's disk; run again"))?;
    let restart = reconfigured(layout::UPDATER);
    let mut summary = ensure_reconfigured(
        &client,
        &observed,
        &updater::wanted(o),
        "mkube-update",
        restart,
    )
    .await?;
    if let Some(b) = baseline {
        summary = format!("{b}; {summary}");
    }
    done(p, &summary, &client);

    Ok(RunReport {
        calls: calls(&client),
    })
}

/// Connects (one read), checks the bridge (one read) and reads the device (five reads).
async fn verify(o: &InstallOptions) -> Result<(RosClient, Observed), StepError> {
    let mut opts = ClientOptions::new(&o.rest_url, &o.ros_user, &o.ros_password);
    opts.insecure_verify = o.rest_insecure;
    let client = RosClient::connect(opts).await.map_err(|e| {
        device_error(
            "verify",
            e,
            "check --device (or --rest-url), --ros-user/--ros-password, and that the device's www service is enabled",
        )
    })?;
    let bridges = client
        .list_bridges()
        .await
        .map_err(|e| device_error("verify", e, "run again"))?;
    if !bridges.iter().any(|b| b.name == o.bridge) {
        let names: Vec<&str> = bridges.iter().map(|b| b.name.as_str()).collect();
        return Err(StepError::new(
            "verify",
            format!(
                "no bridge {} on the device (bridges: {})",
                o.bridge,
                names.join(", ")
            ),
            format!(
                "create it (/interface/bridge add name={}) or pass --bridge",
                o.bridge
            ),
        ));
    }
    let observed = Observed::read(&client, &observe::site_paths())
        .await
        .map_err(|e| device_error("verify", e, "run again"))?;
    Ok((client, observed))
}

async fn ensure_registry(
    o: &InstallOptions,
    client: &RosClient,
    observed: &Observed,
    ca_pem: &str,
    restart: bool,
) -> Result<String, StepError> {
    let wanted = registry::wanted(o);
    let summary = ensure_reconfigured(client, observed, &wanted, "registry", restart).await?;
    registry::wait_healthy(o, ca_pem, o.health_timeout)
        .await
        .map_err(|e| {
            StepError::new(
                "registry",
                e,
                format!(
                    "read the container's log on the device (/log print where message~\"{}\"), check that {} is reachable from here; run again",
                    layout::REGISTRY,
                    o.registry_host()
                ),
            )
        })?;
    Ok(format!(
        "{summary}; https://{}/v2/ healthy",
        o.registry_host()
    ))
}

/// [`ensure`], and a container that was already running is restarted when its configuration
/// (or certificate) changed in this run, so it reads the new files.
async fn ensure_reconfigured(
    client: &RosClient,
    observed: &Observed,
    wanted: &containers::Wanted,
    step: &'static str,
    restart: bool,
) -> Result<String, StepError> {
    let name = wanted.spec.name.as_str();
    let outcome = ensure(client, observed, wanted, step).await?;
    if !(restart && outcome == Outcome::AlreadyRunning) {
        return Ok(outcome.describe(name));
    }
    if let Some(row) = observed.container(name) {
        containers::restart(client, row)
            .await
            .map_err(|e| device_error(step, e, &format!("start {name} by hand or run again")))?;
    }
    Ok(format!("{name} restarted to read its new configuration"))
}

/// Seeds every image; returns the summary and each seed's digest in the device's registry by
/// short name.
async fn seed_all(
    o: &InstallOptions,
    ca_pem: &str,
) -> Result<(String, BTreeMap<String, String>), StepError> {
    let http =
        registry::site_client(ca_pem).map_err(|e| StepError::new("seed", e, "report this"))?;
    let mut present = 0;
    let mut copied = Vec::new();
    let mut digests = BTreeMap::new();
    for s in &o.seeds {
        match seed::seed_one(o, &http, s).await {
            Ok(seeded) => {
                if let seed::Seeded::Copied { blobs_uploaded, .. } = &seeded {
                    copied.push(format!(
                        "{} ({blobs_uploaded} blobs)",
                        options::short_name(s)
                    ));
                } else {
                    present += 1;
                }
                digests.insert(options::short_name(s), seeded.digest().to_string());
            }
            Err(e) => {
                return Err(StepError::new(
                    "seed",
                    e,
                    format!(
                        "check that {s} exists upstream and both registries are reachable; run again (images already seeded are kept)"
                    ),
                ));
            }
        }
    }
    let summary = match copied.is_empty() {
        true => format!("{present} images present in {}", o.registry_host()),
        false => format!("copied {}; {present} already present", copied.join(", ")),
    };
    Ok((summary, digests))
}

async fn ensure(
    client: &RosClient,
    observed: &Observed,
    wanted: &containers::Wanted,
    step: &'static str,
) -> Result<Outcome, StepError> {
    let name = &wanted.spec.name;
    let root = crate::routeros::normalize_path(&wanted.spec.root_dir);
    containers::ensure_running(
        client,
        observed.container(name),
        observed.file(root).is_some(),
        wanted,
    )
    .await
    .map_err(|e| {
        let image = match &wanted.spec.image {
            crate::routeros::ImageSource::Remote { image, .. } => image.clone(),
            crate::routeros::ImageSource::File(f) => f.clone(),
        };
        device_error(
            step,
            e,
            &format!("check that the device can pull {image} and read /log for {name}; run again"),
        )
    })
}

fn device_error(step: &'static str, e: RosError, todo: &str) -> StepError {
    StepError::new(step, e.to_string(), todo)
}
