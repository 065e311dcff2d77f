//! The log's own home (README "The log's own home"): the NATS JetStream container
//! `nats.gt.lo` that holds mkube's event log. The installer owns it like the registry — its own
//! veth and address, its store on a mounted volume, its image from the device's registry — so
//! it runs before mkube exists, and mkube, configured to use it, never has to create a pod it
//! could not record. mkube-update keeps it current.

use super::containers::Wanted;
use super::layout::{self, NATS, NATS_VETH};
use super::options::InstallOptions;
use crate::routeros::{ContainerSpec, ImageSource};

pub fn wanted(o: &InstallOptions) -> Wanted {
    let mut spec = ContainerSpec::new(
        NATS,
        ImageSource::Remote {
            image: o.local_ref("nats"),
            check_certificate: false,
        },
        NATS_VETH,
        layout::root_dir(NATS),
    );
    spec.mountlists = layout::lists_of(NATS);
    spec.cmd = "-c /etc/nats/nats.conf".into();
    spec.hostname = NATS.into();
    spec.dns = o.dns.clone();
    spec.start_on_boot = true;
    Wanted {
        spec,
        extract_timeout: o.extract_timeout,
        recreate_stopped: false,
    }
}
