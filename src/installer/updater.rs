//! mkube-update (images.md §6.2 steps 7 and 8): a leftover `mkube-installer` container is
//! removed, then `mkube-update-updater` is created from the device's registry. A running one is
//! left alone; a stopped one is removed and created afresh (its root-dir moved aside), as the
//! spec asks. It then bootstraps mkube from its config.

use super::containers::Wanted;
use super::layout::{self, UPDATER, UPDATER_VETH};
use super::options::InstallOptions;
use crate::routeros::{ContainerSpec, ImageSource};

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
