use super::*;
use crate::actors::consistency::fixtures::*;
use crate::events::catalogue::PodSource;
use crate::pod::DesiredPod;

fn facts<'a>(
    device: &'a DeviceSnapshot,
    pods: &'a PodsState,
    manifest: &'a ManifestView,
    ipam: &'a IpamState,
) -> SweepFacts<'a> {
    SweepFacts {
        device,
        pods,
        manifest,
        ipam,
        max_fraction: 0.5,
    }
}

fn names(s: &Sweep, r: Resource) -> Vec<&str> {
    s.of(r).map(|o| o.name.as_str()).collect()
}

/// Two running pods, an orphan container and veth of mkube's naming, a foreign container
/// without `_`, one with a single `_`, and an allocation whose veth vanished.
fn populated() -> (DeviceSnapshot, PodsState, IpamState) {
    let device = device(
        vec![
            container("default_a_app", "*1", "veth_default_a_0", true),
            container("default_b_app", "*2", "veth_default_b_0", true),
            container("default_gone_app", "*3", "veth_default_gone_0", true),
            container("selfctl", "*4", "veth-mkube", true),
            container("ops_tool", "*5", "veth_ops_tool_0", true),
        ],
        vec![
            veth("veth_default_a_0", "*a", "127.77.0.2/24"),
            veth("veth_default_b_0", "*b", "127.77.0.3/24"),
            veth("veth_default_gone_0", "*c", "127.77.0.4/24"),
            veth("veth-mkube", "*d", "127.77.0.5/24"),
            veth("veth_ops_tool_0", "*e", "127.77.0.6/24"),
            veth("veth_default_stray_0", "*f", ""),
        ],
    );
    let pods = pods(vec![
        running("default", "a", "127.77.0.2"),
        running("default", "b", "127.77.0.3"),
    ]);
    let ipam = ipam(&[
        ("veth_default_a_0", "127.77.0.2"),
        ("veth_default_b_0", "127.77.0.3"),
        ("veth_default_gone_0", "127.77.0.4"),
        ("veth_default_vanished_0", "127.77.0.9"),
        ("veth-mkube", "127.77.0.5"),
    ]);
    (device, pods, ipam)
}

#[test]
fn cc_r1_to_r3_find_only_unclaimed_name1_and_name2_objects() {
    let (device, pods, ipam) = populated();
    let manifest = ManifestView::NotConfigured;
    let mut f = facts(&device, &pods, &manifest, &ipam);
    f.max_fraction = 1.0;
    let s = sweep(&f);
    assert_eq!(s.refusal, None);
    assert_eq!(names(&s, Resource::Container), ["default_gone_app"]);
    // `veth_ops_tool_0` stays: `ops_tool` (one `_`) is no NAME-1 name and is kept.
    assert_eq!(
        names(&s, Resource::Veth),
        ["veth_default_gone_0", "veth_default_stray_0"]
    );
    assert_eq!(names(&s, Resource::Allocation), ["veth_default_vanished_0"]);
    let alloc = s.of(Resource::Allocation).next().unwrap();
    assert_eq!(alloc.id, "t/127.77.0.9");
    assert_eq!(alloc.network.as_deref(), Some("t"));
    let c = s.of(Resource::Container).next().unwrap();
    assert_eq!(c.id, "*3");
    assert!(c.reason.starts_with("CC-R1"), "{}", c.reason);
}

#[test]
fn intents_deleting_pods_and_manifest_pods_are_never_orphans() {
    let (device, mut pods, ipam) = populated();
    // `gone` is being deleted (its teardown owns its objects), `vanished` has only an
    // allocation (a create between `IpAllocated` and its veth), `stray` is a boot pod.
    let (_, gone) = running("default", "gone", "127.77.0.4");
    pods.deleting.insert("default/gone".into(), gone);
    pods.pods.insert(
        "default/vanished".into(),
        DesiredPod::new(pod("default", "vanished"), PodSource::Api),
    );
    let manifest = ManifestView::Loaded(vec![pod("default", "stray")]);
    let s = sweep(&facts(&device, &pods, &manifest, &ipam));
    assert!(s.orphans.is_empty(), "{:?}", s.orphans);
    assert_eq!(s.refusal, None);
}

#[test]
fn l1_an_empty_desired_set_or_an_unloaded_manifest_refuses() {
    let (device, _, ipam) = populated();
    let empty = PodsState::default();
    let manifest = ManifestView::NotConfigured;
    let s = sweep(&facts(&device, &empty, &manifest, &ipam));
    assert!(!s.orphans.is_empty(), "the report still shows them");
    assert!(
        matches!(s.refusal, Some(Refusal::NothingDesired { managed }) if managed > 0),
        "{:?}",
        s.refusal
    );
    let (device, pods, ipam) = populated();
    let broken = ManifestView::Failed("No such file".into());
    let s = sweep(&facts(&device, &pods, &broken, &ipam));
    assert!(matches!(s.refusal, Some(Refusal::ManifestNotLoaded(_))));
    // Nothing on the device and nothing desired: nothing to refuse.
    let bare = DeviceSnapshot::default();
    let none = IpamState::default();
    let s = sweep(&facts(&bare, &empty, &manifest, &none));
    assert_eq!(s.refusal, None);
}

#[test]
fn l1_d_the_cap_refuses_more_than_the_fraction_of_a_class() {
    let (device, pods, ipam) = populated();
    let manifest = ManifestView::NotConfigured;
    // Veths: 2 of 5 managed (a, b, gone, stray, and the NAME-2-shaped `veth_ops_tool_0`
    // that `ops_tool` keeps): allowed at 0.5 and 0.4 (exactly the fraction), refused at 0.35.
    let s = sweep(&facts(&device, &pods, &manifest, &ipam));
    assert_eq!(s.refusal, None);
    let mut f = facts(&device, &pods, &manifest, &ipam);
    f.max_fraction = 0.4;
    assert_eq!(sweep(&f).refusal, None, "exactly the fraction is allowed");
    f.max_fraction = 0.35;
    let s = sweep(&f);
    assert_eq!(
        s.refusal,
        Some(Refusal::Cap {
            resource: Resource::Veth,
            reap: 2,
            managed: 5,
            fraction: 0.35
        })
    );
    assert!(
        s.refusal
            .unwrap()
            .to_string()
            .contains("2 of 5 managed veths, more than 35%")
    );
}
