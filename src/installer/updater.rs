//! mkube-update (images.md §6.2 steps 7 and 8): a leftover `mkube-installer` container is
//! removed, then `mkube-update-updater` is created from the device's registry. A running one is
//! left alone; a stopped one is removed and created afresh (its root-dir moved aside), as the
//! spec asks. It then bootstraps mkube from its config.
//! Before it first runs, it is handed the digests the installer deployed ([`write_baseline`]).

use std::collections::BTreeMap;

use super::configs::WATCHED;
use super::containers::Wanted;
use super::layout::{self, UPDATER, UPDATER_VETH};
use super::observe::Observed;
use super::options::InstallOptions;
use crate::routeros::{ContainerSpec, ImageSource, RosClient, RosError};
use crate::update::record::Record;

pub fn wanted(o: &InstallOptions) -> Wanted {
    let mut spec = ContainerSpec::new(
        UPDATER,
        ImageSource::Remote {
            image: o.local_ref("mkube-update"),
            check_certificate: false,
        },
        UPDATER_VETH,
        layout::root_dir(UPDATER),
    );
    spec.mountlists = layout::lists_of(UPDATER);
    spec.hostname = UPDATER.into();
    spec.dns = o.dns.clone();
    spec.start_on_boot = true;
    Wanted {
        spec,
        extract_timeout: o.extract_timeout,
        recreate_stopped: true,
    }
}

/// Hands mkube-update the digests the installer deployed, as its record's starting point
/// (`deployed` and `seen` of `update-state.json`), so that its first poll compares the
/// registry with what the containers really run: a push between this run and that poll is
/// rolled out, not taken for the baseline (images.md §5.2 [lesson]). Only when mkube-update
/// has no record yet and does not run (a running one keeps its own); a re-run writes nothing.
/// mkube's digest is recorded by mkube-update's bootstrap, which creates that container.
/// Returns what it did, for the progress line.
pub async fn write_baseline(
    client: &RosClient,
    observed: &Observed,
    seeded: &BTreeMap<String, String>,
) -> Result<Option<String>, RosError> {
    let path = layout::files::updater_record();
    let running = observed
        .container(UPDATER)
        .is_some_and(|c| c.state.is_running());
    if observed.file(&path).is_some() || running {
        return Ok(None);
    }
    let record = baseline(seeded);
    if record.deployed.is_empty() {
        return Ok(None);
    }
    let text = serde_json::to_string_pretty(&record).unwrap_or_default();
    client.write_small_file(&path, &text, false).await?;
    Ok(Some(format!(
        "recorded the deployed digests of {}",
        record
            .deployed
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    )))
}

/// The record for the containers the installer creates from its seeds.
pub fn baseline(seeded: &BTreeMap<String, String>) -> Record {
    let mut record = Record::default();
    for (repo, container, _) in WATCHED {
        if container == layout::MKUBE {
            continue;
        }
        if let Some(digest) = seeded.get(repo) {
            record
                .deployed
                .insert(container.to_string(), digest.clone());
            record.seen.insert(repo.to_string(), digest.clone());
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_baseline_names_the_installers_containers_by_their_seeds() {
        let seeded: BTreeMap<String, String> = [
            ("mkube", "sha256:m"),
            ("mkube-update", "sha256:u"),
            ("mkube-registry", "sha256:r"),
            ("nats", "sha256:n"),
            ("microdns", "sha256:d"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let r = baseline(&seeded);
        let deployed: Vec<(&str, &str)> = r
            .deployed
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            deployed,
            [
                ("mkube-update-updater", "sha256:u"),
                ("nats.gt.lo", "sha256:n"),
                ("registry.gt.lo", "sha256:r")
            ]
        );
        assert_eq!(r.seen.len(), 3);
        assert!(baseline(&BTreeMap::new()).deployed.is_empty());
    }
}
