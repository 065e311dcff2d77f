//! `mkube-installer --device ADDR [flags]`: takes a bare RouterOS 7 device to a self-hosting
//! mkube site (images.md §6): certificates, infra veths and mounts, configuration files, the
//! registry container, seeded images, the NATS home of mkube's log, and mkube-update, which then
//! bootstraps mkube. Every step is idempotent; a re-run on an installed device writes nothing.
//! Exit status: 0 done, 1 a step failed (the output names it), 2 bad flags.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use mkube::installer::options::{self, InstallOptions, REFERENCE_UPSTREAM, SITE_IMAGES};

#[derive(Parser, Debug)]
#[command(
    name = "mkube-installer",
    version,
    about = "Install a self-hosting mkube site onto a RouterOS 7 device"
)]
struct Args {
    /// IP or host name of the RouterOS device.
    #[arg(long)]
    device: String,
    /// Accepted for compatibility with the original installer; files travel over REST
    /// (`/file` contents and `/tool/fetch`), so no SSH is used.
    #[arg(long, default_value = "admin")]
    ssh_user: String,
    #[arg(long, default_value = "mkube")]
    ros_user: String,
    #[arg(long, default_value = "mkube-rest")]
    ros_password: String,
    /// REST scheme: http or https (self-signed device certificates are accepted).
    #[arg(long, default_value = "http", value_parser = ["http", "https"])]
    rest_scheme: String,
    /// REST port (default: the scheme's).
    #[arg(long)]
    rest_port: Option<u16>,
    /// Full REST base URL; overrides --device, --rest-scheme and --rest-port for the API.
    #[arg(long)]
    rest_url: Option<String>,
    /// The upstream registry and namespace the site images come from.
    #[arg(long, default_value = REFERENCE_UPSTREAM)]
    upstream: String,
    #[arg(long, default_value = "192.168.200.3")]
    registry_ip: Ipv4Addr,
    #[arg(long, default_value_t = 5000)]
    registry_port: u16,
    /// Image of the registry container (default: <upstream>/mkube-registry:edge).
    #[arg(long)]
    registry_image: Option<String>,
    #[arg(long, default_value = "bridge-gt")]
    bridge: String,
    #[arg(long, default_value = "192.168.200.1")]
    gateway: Ipv4Addr,
    #[arg(long, default_value = "192.168.200.199")]
    dns: String,
    #[arg(long, default_value = "192.168.200.2")]
    mkube_ip: Ipv4Addr,
    #[arg(long, default_value = "192.168.200.5")]
    mkube_update_ip: Ipv4Addr,
    /// Address of the NATS container that holds mkube's log.
    #[arg(long, default_value = "192.168.200.10")]
    nats_ip: Ipv4Addr,
    #[arg(long, default_value_t = 24)]
    prefix_len: u8,
    /// Images to seed (repeatable or comma-separated): full references, or names under
    /// --upstream tagged edge (default: the eleven site images).
    #[arg(long, value_delimiter = ',')]
    seed: Vec<String>,
    /// Architecture picked from multi-platform images when seeding.
    #[arg(long, default_value = "arm64")]
    arch: String,
    /// Regenerate the registry certificates, restart the registry, redistribute the CA.
    #[arg(long)]
    rotate_certs: bool,
    /// Copy a seed again when the device's tag differs from the upstream's.
    #[arg(long)]
    refresh_seeds: bool,
    /// The REST API as containers reach it (mkube-update's routerosURL; default
    /// http://<gateway>/rest).
    #[arg(long)]
    container_rest_url: Option<String>,
    /// mkube's device config, installed as /etc/mkube/config.yaml (default ./config.yaml when
    /// present).
    #[arg(long)]
    mkube_config: Option<PathBuf>,
    /// mkube's boot manifest, installed as /etc/mkube/boot-order.yaml (default
    /// ./boot-order.yaml when present).
    #[arg(long)]
    boot_order: Option<PathBuf>,
    /// Where this machine serves files the device fetches (default: this machine's address
    /// towards the device, any port).
    #[arg(long)]
    serve_address: Option<SocketAddr>,
    /// Seconds the registry gets to answer after it runs.
    #[arg(long, default_value_t = 120)]
    health_timeout: u64,
    /// Seconds an image extraction may take.
    #[arg(long, default_value_t = 300)]
    extract_timeout: u64,
}

fn options(a: Args) -> InstallOptions {
    let rest_url = a.rest_url.clone().unwrap_or_else(|| match a.rest_port {
        Some(port) => format!("{}://{}:{port}/rest", a.rest_scheme, a.device),
        None => format!("{}://{}/rest", a.rest_scheme, a.device),
    });
    let mut o = InstallOptions::reference(rest_url);
    o.ros_user = a.ros_user;
    o.ros_password = a.ros_password;
    o.registry_image = a
        .registry_image
        .unwrap_or_else(|| options::image_ref(&a.upstream, "mkube-registry"));
    o.seeds = if a.seed.is_empty() {
        SITE_IMAGES
            .iter()
            .map(|n| options::image_ref(&a.upstream, n))
            .collect()
    } else {
        a.seed
            .iter()
            .map(|s| options::seed_ref(&a.upstream, s))
            .collect()
    };
    o.upstream = a.upstream;
    o.registry_ip = a.registry_ip;
    o.registry_port = a.registry_port;
    o.bridge = a.bridge;
    o.gateway = a.gateway;
    o.dns = a.dns;
    o.mkube_ip = a.mkube_ip;
    o.mkube_update_ip = a.mkube_update_ip;
    o.nats_ip = a.nats_ip;
    o.prefix_len = a.prefix_len;
    o.arch = a.arch;
    o.rotate_certs = a.rotate_certs;
    o.refresh_seeds = a.refresh_seeds;
    o.container_rest_url = a
        .container_rest_url
        .unwrap_or_else(|| format!("http://{}/rest", a.gateway));
    o.mkube_config = a.mkube_config.or_else(|| present("config.yaml"));
    o.boot_order = a.boot_order.or_else(|| present("boot-order.yaml"));
    o.serve_address = a.serve_address;
    o.health_timeout = Duration::from_secs(a.health_timeout);
    o.extract_timeout = Duration::from_secs(a.extract_timeout);
    o
}

fn present(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(name);
    p.is_file().then_some(p)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    mkube::tls::ensure_ring_provider();
    let o = options(Args::parse());
    if let Err(e) = o.validate() {
        eprintln!("mkube-installer: {e}");
        return ExitCode::from(2);
    }
    println!("mkube-installer: device {}", o.rest_url);
    match mkube::installer::run(&o, Box::new(std::io::stdout())).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(1),
    }
}
