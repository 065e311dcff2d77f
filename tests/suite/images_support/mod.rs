//! The scratch images of `scripts/images`, shared by the tests that need them (images.rs,
//! sim_process.rs): built once per test run under a file lock, so parallel tests wait for one
//! build. `scripts/test` runs the same static build before the tests, so a test finds the
//! binaries built and only packs the images (a few seconds).
//! Also the probe image: a tiny static program (fixtures/process/probe.rs) that reports how a
//! process container sees the world.
#![allow(dead_code)]

use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use nix::fcntl::{Flock, FlockArg};

/// The images of a site, as `scripts/images` names them, with the program each holds and
/// arguments that make it print something and exit 0.
pub const IMAGES: [(&str, &str, &[&str]); 6] = [
    ("mkube", "mkube", &["version"]),
    ("mkube-registry", "mkube-registry", &["--help"]),
    ("mkube-update", "mkube-update", &["--help"]),
    ("mkube-installer", "mkube-installer", &["--help"]),
    ("nats", "nats-server", &["--version"]),
    ("microdns-sim", "microdns-sim", &["--help"]),
];

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `<target>/images-test`: build contexts, the buildah store and the archives of the tests.
pub fn out_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    target.join("images-test")
}

/// `scripts/images` with the tests' profile and output directory, plus `args`, under the
/// build lock (the tests share one buildah store).
pub fn script(args: &[&str]) -> Output {
    let _lock = locked();
    run_script(args)
}

fn run_script(args: &[&str]) -> Output {
    let out = out_dir();
    let output = Command::new("bash")
        .arg(repo().join("scripts/images"))
        .args(["--profile", "image-dev", "--out"])
        .arg(&out)
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run scripts/images");
    assert!(
        output.status.success(),
        "scripts/images {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Holds the build lock; built things stay valid while it is held or after it.
fn locked() -> Flock<File> {
    let out = out_dir();
    std::fs::create_dir_all(&out).unwrap();
    let f = File::create(out.join(".lock")).unwrap();
    Flock::lock(f, FlockArg::LockExclusive).expect("lock images-test")
}

/// Runs `make` once per test run (nextest's run id, else this process), under the lock.
fn once_per_run(what: &str, make: impl FnOnce()) {
    let _lock = locked();
    let run =
        std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    let stamp = out_dir().join(format!(".{what}.built-for"));
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(run.as_str()) {
        return;
    }
    make();
    std::fs::write(&stamp, run).unwrap();
}

/// The docker-save archives of every image (`<name>.tar`), built once per test run.
pub fn archives() -> PathBuf {
    let dir = out_dir().join("archives");
    once_per_run("images", || {
        run_script(&["--archives", dir.to_str().unwrap()]);
    });
    dir
}

/// A docker-save archive of the probe image: `/probe` (static), `/etc/passwd` with user
/// `app` (1234:1234), an empty `/work`; config entrypoint `/probe`, cmd `stay`, env
/// `FROM_IMAGE=yes` and `SHARED=image`, workdir `/work`.
pub fn probe_archive() -> PathBuf {
    let dir = out_dir().join("probe");
    let archive = dir.join("probe.tar");
    once_per_run("probe", || {
        std::fs::create_dir_all(&dir).unwrap();
        let bin = dir.join("probe");
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let out = Command::new(rustc)
            .args([
                "--edition",
                "2024",
                "-C",
                "target-feature=+crt-static",
                "-o",
            ])
            .arg(&bin)
            .arg(repo().join("tests/suite/fixtures/process/probe.rs"))
            .output()
            .expect("run rustc");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        write_archive(&archive, &std::fs::read(&bin).unwrap());
    });
    archive
}

fn tar_entry(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8], dir: bool) {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    h.set_mode(mode);
    h.set_size(data.len() as u64);
    h.set_mtime(0);
    tar.append_data(&mut h, path, data).unwrap();
}

fn write_archive(path: &Path, probe: &[u8]) {
    let mut layer = tar::Builder::new(Vec::new());
    tar_entry(&mut layer, "probe", 0o755, probe, false);
    tar_entry(&mut layer, "etc/", 0o755, b"", true);
    tar_entry(
        &mut layer,
        "etc/passwd",
        0o644,
        b"app:x:1234:1234::/work:/probe\n",
        false,
    );
    tar_entry(&mut layer, "work/", 0o755, b"", true);
    let layer = layer.into_inner().unwrap();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/probe"], "Cmd": ["stay"],
                   "Env": ["FROM_IMAGE=yes", "SHARED=image"], "WorkingDir": "/work"},
        "rootfs": {"type": "layers", "diff_ids": []},
    })
    .to_string();
    let manifest =
        serde_json::json!([{"Config": "config.json", "RepoTags": ["probe:1"], "Layers": ["layer/layer.tar"]}])
            .to_string();
    let mut outer = tar::Builder::new(Vec::new());
    tar_entry(
        &mut outer,
        "manifest.json",
        0o644,
        manifest.as_bytes(),
        false,
    );
    tar_entry(&mut outer, "config.json", 0o644, config.as_bytes(), false);
    tar_entry(&mut outer, "layer/layer.tar", 0o644, &layer, false);
    let mut f = File::create(path).unwrap();
    f.write_all(&outer.into_inner().unwrap()).unwrap();
}

/// Whether an ELF file is static: no `PT_INTERP` and no `PT_DYNAMIC` program header.
pub fn elf_is_static(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a 64-bit little-endian ELF file".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    for i in 0..count {
        let at = phoff + i * size;
        if at + 4 > bytes.len() {
            return Err("truncated program headers".into());
        }
        match u32_at(at) {
            2 => return Err("has a dynamic section (PT_DYNAMIC)".into()),
            3 => return Err("asks for an interpreter (PT_INTERP)".into()),
            _ => {}
        }
    }
    Ok(())
}

/// Runs `/program args` chrooted into `root` with an empty environment.
pub fn run_in_root(root: &Path, program: &str, args: &[&str]) -> Output {
    let root = root.to_path_buf();
    let mut cmd = Command::new(format!("/{program}"));
    cmd.args(args).env_clear();
    // SAFETY: chroot and chdir only.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::chroot(&root)?;
            nix::unistd::chdir("/")?;
            Ok(())
        });
    }
    cmd.output().expect("run in empty root")
}
