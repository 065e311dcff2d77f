//! `cargo bench --bench registry`: mkube-registry (in this process, bench profile) against
//! Debian's `docker-registry` 2.8 with a real client (skopeo), and the RouterOS tarball
//! builder. Everything on 127.0.0.1, plain HTTP.
//!
//! 1. Push and pull of a 200 MiB, 5-layer image of random (incompressible) layers with
//!    `skopeo copy` from an `oci:` layout to each registry and back to a fresh `oci:` dir;
//!    a fresh registry store for every run; median of `MKUBE_BENCH_RUNS` (3) runs, ratio
//!    ours/theirs (goal ≤ 1.0).
//! 2. 8 parallel `skopeo copy` pushes of different 25 MiB images to different repositories,
//!    against one push alone: total wall time, slowest single push (spec images.md §7.1-7:
//!    total ≈ the slowest single transfer).
//! 3. Tarball build (`mkube::actors::images::tarball::build`, images.md §3.8) throughput
//!    and peak memory for 50, 200 and 800 MiB images. Each size runs in a child process
//!    (this binary re-executed with `__tarball-child`), which reports its own `VmHWM`
//!    before and after the build, so peaks do not leak from one size to the next.
//!
//! Temporary files go under `MKUBE_BENCH_TMP` (default: the system temp dir) and are removed
//! as soon as each part is done; the largest part needs about 2.5 GB. Sizes scale with
//! `MKUBE_BENCH_SCALE` (a divisor, 1) for a quick smoke run; `MKUBE_BENCH_ONLY` = a comma list
//! of `pushpull`, `parallel`, `tarball` runs only those parts. Without `--bench` it does nothing.

#[path = "../tests/suite/registry_support/mod.rs"]
mod registry_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mkube::actors::images::tarball;
use mkube::registry::{self, RegistryOptions};
use registry_support::{start_registry, write_random_layout};

const MIB: u64 = 1 << 20;
const CHILD: &str = "__tarball-child";

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs skopeo, panicking with its stderr on failure; returns how long it took.
fn skopeo_timed(args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo not found (apt-get install skopeo)");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn push(src: &Path, tag: &str, dest: &str) -> Duration {
    skopeo_timed(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:{tag}", src.display()),
        &format!("docker://{dest}"),
    ])
}

fn pull(src: &str, dest: &Path) -> Duration {
    let took = skopeo_timed(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{src}"),
        &format!("oci:{}:1", dest.display()),
    ]);
    let _ = std::fs::remove_dir_all(dest);
    took
}

/// Which registry a measurement ran against.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Ours,
    Theirs,
}

/// A registry with an empty store, stopped on [`Running::stop`].
enum Running {
    Ours(registry::RunningRegistry, PathBuf),
    Theirs(registry_support::RegistryProc),
}

impl Running {
    async fn start(kind: Kind, work: &Path) -> Running {
        match kind {
            Kind::Ours => {
                let store = work.join(format!("store-{}", uuid::Uuid::new_v4()));
                let reg = registry::start(RegistryOptions::new(store.clone()))
                    .await
                    .unwrap();
                Running::Ours(reg, store)
            }
            Kind::Theirs => Running::Theirs(start_registry(None).await),
        }
    }

    fn host(&self) -> String {
        match self {
            Running::Ours(r, _) => r.host(),
            Running::Theirs(r) => r.host(),
        }
    }

    async fn stop(self) {
        match self {
            Running::Ours(r, store) => {
                r.stop().await;
                let _ = std::fs::remove_dir_all(store);
            }
            Running::Theirs(r) => drop(r),
        }
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

// ---------------------------------------------------------------------------
// 1. Push and pull, ours against docker-registry

struct PushPull {
    push: [Vec<f64>; 2],
    pull: [Vec<f64>; 2],
    bytes: u64,
}

async fn push_pull(work: &Path, runs: u64, scale: u64) -> PushPull {
    let src = work.join("src");
    let image = write_random_layout(&src, "1", &[40 * MIB / scale; 5]);
    let bytes: u64 = image.layers.iter().map(|l| l.size).sum();
    let mut r = PushPull {
        push: [Vec::new(), Vec::new()],
        pull: [Vec::new(), Vec::new()],
        bytes,
    };
    for run in 0..runs {
        // Alternate which registry goes first, so drift (page cache, thermal) is shared.
        let order = if run % 2 == 0 {
            [Kind::Ours, Kind::Theirs]
        } else {
            [Kind::Theirs, Kind::Ours]
        };
        for kind in order {
            let reg = Running::start(kind, work).await;
            let dest = format!("{}/bench/big:1", reg.host());
            let p = push(&src, "1", &dest);
            let q = pull(&dest, &work.join("back"));
            let i = kind as usize;
            r.push[i].push(secs(p));
            r.pull[i].push(secs(q));
            eprintln!(
                "run {run} {kind:?}: push {:.2} s, pull {:.2} s",
                secs(p),
                secs(q)
            );
            reg.stop().await;
        }
    }
    let _ = std::fs::remove_dir_all(&src);
    r
}

// ---------------------------------------------------------------------------
// 2. Parallel pushes

struct Parallel {
    alone: Vec<f64>,
    total: Vec<f64>,
    slowest: Vec<f64>,
    fastest: Vec<f64>,
}

async fn parallel(work: &Path, kind: Kind, runs: u64, scale: u64) -> Parallel {
    const N: usize = 8;
    // Image 0 is pushed alone; 1..=8 together. Different images, so no blob is shared.
    let dirs: Vec<PathBuf> = (0..=N).map(|i| work.join(format!("par-{i}"))).collect();
    let mut out = Parallel {
        alone: Vec::new(),
        total: Vec::new(),
        slowest: Vec::new(),
        fastest: Vec::new(),
    };
    for d in &dirs {
        write_random_layout(d, "1", &[25 * MIB / scale]);
    }
    for run in 0..runs {
        let reg = Running::start(kind, work).await;
        let host = reg.host();
        let alone = push(&dirs[0], "1", &format!("{host}/par/alone:1"));
        let t = Instant::now();
        let each: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = dirs[1..]
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let dest = format!("{host}/par/img{i}:1");
                    s.spawn(move || push(d, "1", &dest))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let total = t.elapsed();
        let slowest = each.iter().max().copied().unwrap_or_default();
        let fastest = each.iter().min().copied().unwrap_or_default();
        eprintln!(
            "run {run} {kind:?}: alone {:.2} s, 8 parallel: total {:.2} s, slowest {:.2} s, fastest {:.2} s",
            secs(alone),
            secs(total),
            secs(slowest),
            secs(fastest)
        );
        out.alone.push(secs(alone));
        out.total.push(secs(total));
        out.slowest.push(secs(slowest));
        out.fastest.push(secs(fastest));
        reg.stop().await;
    }
    for d in &dirs {
        let _ = std::fs::remove_dir_all(d);
    }
    out
}

// ---------------------------------------------------------------------------
// 3. Tarball build, one child process per size

/// `VmHWM` (peak resident set) of this process, in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: `__tarball-child <work> <dest> <layer>...`; prints
/// `RESULT <seconds> <archive bytes> <VmHWM before KiB> <VmHWM after KiB>`.
fn tarball_child(args: &[String]) {
    let work = PathBuf::from(&args[0]);
    let dest = PathBuf::from(&args[1]);
    let layers: Vec<PathBuf> = args[2..].iter().map(PathBuf::from).collect();
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]}}"#;
    let before = vm_hwm_kib();
    let t = Instant::now();
    let built = tarball::build(
        &tarball::Source {
            layers: &layers,
            config,
            repo: "bench/tarball",
            tag: "1",
            arch: "amd64",
        },
        &work,
        &dest,
    )
    .unwrap();
    let took = t.elapsed();
    println!(
        "RESULT {} {} {} {}",
        took.as_secs_f64(),
        built.size,
        before,
        vm_hwm_kib()
    );
}

struct TarballRun {
    mib: u64,
    input: u64,
    secs: f64,
    archive: u64,
    hwm_before: u64,
    hwm_after: u64,
}

fn tarball_size(work: &Path, mib: u64) -> TarballRun {
    let dir = work.join(format!("tarball-{mib}"));
    // Four layers, like a small base image plus three application layers.
    let image = write_random_layout(&dir.join("layout"), "1", &[mib * MIB / 4; 4]);
    let blobs = dir.join("layout/blobs/sha256");
    let layers: Vec<PathBuf> = image
        .layers
        .iter()
        .map(|l| blobs.join(&l.digest["sha256:".len()..]))
        .collect();
    let input: u64 = image.layers.iter().map(|l| l.size).sum();
    let out = Command::new(std::env::current_exe().unwrap())
        .arg(CHILD)
        .arg(&dir)
        .arg(dir.join("out.tar"))
        .args(&layers)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tarball child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("child printed no RESULT");
    let f: Vec<&str> = line.split_whitespace().collect();
    let _ = std::fs::remove_dir_all(&dir);
    TarballRun {
        mib,
        input,
        secs: f[0].parse().unwrap(),
        archive: f[1].parse().unwrap(),
        hwm_before: f[2].parse().unwrap(),
        hwm_after: f[3].parse().unwrap(),
    }
}

// ---------------------------------------------------------------------------

fn mb_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(CHILD) {
        tarball_child(&args[2..]);
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        return;
    }
    mkube::tls::ensure_ring_provider();
    let runs = env_u64("MKUBE_BENCH_RUNS", 3).max(1);
    let scale = env_u64("MKUBE_BENCH_SCALE", 1).max(1);
    let base = std::env::var_os("MKUBE_BENCH_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let work = tempfile::tempdir_in(&base).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let only = std::env::var("MKUBE_BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only.split(',').any(|p| p.trim() == name);
    let (pp, par) = runtime.block_on(async {
        let pp = match part("pushpull") {
            true => Some(push_pull(work.path(), runs, scale).await),
            false => None,
        };
        let par = match part("parallel") {
            true => Some((
                parallel(work.path(), Kind::Ours, runs, scale).await,
                parallel(work.path(), Kind::Theirs, runs, scale).await,
            )),
            false => None,
        };
        (pp, par)
    });
    let sizes: Vec<u64> = match part("tarball") {
        true => [50, 200, 800].iter().map(|m| m / scale).collect(),
        false => Vec::new(),
    };
    let tarballs: Vec<TarballRun> = sizes
        .iter()
        .map(|&mib| {
            let r = tarball_size(work.path(), mib);
            eprintln!(
                "tarball {mib} MiB: {:.2} s, VmHWM {} → {} KiB",
                r.secs, r.hwm_before, r.hwm_after
            );
            r
        })
        .collect();
    drop(work);

    let o = Kind::Ours as usize;
    let t = Kind::Theirs as usize;
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("\n| Measurement | mkube-registry | docker-registry 2.8 | ours/theirs | Goal | Met |");
    println!("|---|---|---|---|---|---|");
    if let Some(pp) = &pp {
        let (push_o, push_t) = (median(pp.push[o].clone()), median(pp.push[t].clone()));
        let (pull_o, pull_t) = (median(pp.pull[o].clone()), median(pp.pull[t].clone()));
        eprintln!(
            "push/pull image: {} MiB in 5 layers ({} bytes of blobs), {runs} runs, median (all runs in s)",
            200 / scale,
            pp.bytes
        );
        println!(
            "| skopeo push, {} MiB, 5 layers | {push_o:.2} s ({:.0} MB/s; {}) | {push_t:.2} s ({:.0} MB/s; {}) | {:.2} | ≤ 1.0 | {} |",
            200 / scale,
            mb_s(pp.bytes, push_o),
            list(&pp.push[o]),
            mb_s(pp.bytes, push_t),
            list(&pp.push[t]),
            push_o / push_t,
            if push_o <= push_t { "yes" } else { "no" }
        );
        println!(
            "| skopeo pull to oci:, {} MiB, 5 layers | {pull_o:.2} s ({:.0} MB/s; {}) | {pull_t:.2} s ({:.0} MB/s; {}) | {:.2} | ≤ 1.0 | {} |",
            200 / scale,
            mb_s(pp.bytes, pull_o),
            list(&pp.pull[o]),
            mb_s(pp.bytes, pull_t),
            list(&pp.pull[t]),
            pull_o / pull_t,
            if pull_o <= pull_t { "yes" } else { "no" }
        );
    }
    if let Some((par_ours, par_theirs)) = &par {
        for (name, p) in [
            ("mkube-registry", par_ours),
            ("docker-registry 2.8", par_theirs),
        ] {
            let (alone, total, slowest, fastest) = (
                median(p.alone.clone()),
                median(p.total.clone()),
                median(p.slowest.clone()),
                median(p.fastest.clone()),
            );
            println!(
                "| {name}: 8 parallel pushes × {} MiB, different repos | total {total:.2} s (slowest single {slowest:.2} s, fastest {fastest:.2} s; one push alone {alone:.2} s; total/slowest {:.2}, total/alone {:.2}) | | | total ≈ slowest | {} |",
                25 / scale,
                total / slowest,
                total / alone,
                if total <= slowest * 1.1 { "yes" } else { "no" }
            );
        }
    }
    println!(
        "\n| Tarball build | Input (layer blobs) | Time | Throughput | Archive | VmHWM before → after build |"
    );
    println!("|---|---|---|---|---|---|");
    for r in &tarballs {
        println!(
            "| {} MiB, 4 layers | {} bytes | {:.2} s | {:.0} MB/s | {} bytes | {:.1} → {:.1} MiB |",
            r.mib,
            r.input,
            r.secs,
            mb_s(r.input, r.secs),
            r.archive,
            r.hwm_before as f64 / 1024.0,
            r.hwm_after as f64 / 1024.0
        );
    }
    println!("\nWhole run: {:.0} s", started.elapsed().as_secs_f64());
}
