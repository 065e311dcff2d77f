//! Runs a container's process the way a device isolates it, and checks at start that the
//! machine allows it.
//!
//! The child, between fork and exec: dies with the simulator thread that started it
//! (`PR_SET_PDEATHSIG`), enters new mount and UTS namespaces, makes every mount private (nothing
//! it binds reaches the host), binds each mount entry at its `dst` inside root-dir (read-only
//! when the entry says so), takes root-dir as `/` (chroot), changes to `workdir`, sets its
//! `hostname`, drops to `user`, and executes with only its own environment. There is no network
//! namespace: veth addresses stay in 127.0.0.0/8, so the address a process binds is a loopback
//! address of this machine. No `/proc`, `/dev` or `/sys` is mounted: scratch images must not need
//! them. Everything the child touches is prepared here first (paths resolved inside root-dir
//! without following symlinks out of it, C strings built), so it only makes system calls.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::prctl;
use nix::sys::signal::Signal;
use nix::unistd::{Gid, Uid, chdir, chroot, setgid, setgroups, sethostname, setuid};

use super::launch::{LaunchSpec, Resolved};
use crate::sim::routeros::import::safe_path::{Parent, resolve_dir};

/// A bind as the child performs it: host source, host target inside root-dir.
struct HostBind {
    src: CString,
    target: CString,
    read_only: bool,
}

/// A launch with every path resolved: what the child needs, ready to go.
pub struct Prepared {
    program: PathBuf,
    argv: Vec<String>,
    env: Vec<(String, String)>,
    root: CString,
    workdir: CString,
    hostname: CString,
    binds: Vec<HostBind>,
    ids: Option<(Uid, Gid)>,
    logging: bool,
}

fn cstr(p: impl AsRef<OsStr>) -> Result<CString, String> {
    CString::new(p.as_ref().as_bytes()).map_err(|_| "path contains a NUL byte".to_string())
}

/// The normal components of an absolute in-container path; `..` is refused.
fn components(path: &str) -> Result<Vec<OsString>, String> {
    let mut out = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n.to_os_string()),
            Component::RootDir | Component::CurDir => {}
            _ => return Err(format!("path {path:?} climbs out of the container")),
        }
    }
    Ok(out)
}

/// The host directory for in-container `path`, made when missing; never outside `root`.
fn dir_inside(root: &Path, path: &str) -> Result<PathBuf, String> {
    match resolve_dir(root, &components(path)?, true).map_err(|e| format!("{path}: {e}"))? {
        Parent::Dir(d) => Ok(d),
        _ => Err(format!("{path} resolves outside root-dir")),
    }
}

/// Whether in-container `path` names an executable (or a symlink the exec will follow).
fn executable_inside(root: &Path, path: &str) -> bool {
    let Ok(mut parts) = components(path) else {
        return false;
    };
    let Some(file) = parts.pop() else {
        return false;
    };
    let Ok(Parent::Dir(dir)) = resolve_dir(root, &parts, false) else {
        return false;
    };
    match std::fs::symlink_metadata(dir.join(file)) {
        Ok(m) if m.file_type().is_symlink() => true,
        Ok(m) => m.is_file() && m.permissions().mode() & 0o111 != 0,
        Err(_) => false,
    }
}

/// The program's in-container path: as given when it has a `/` (relative to `workdir`),
/// else the first `PATH` entry holding it. Missing → the device's `execvpe` message.
fn find_program(root: &Path, r: &Resolved) -> Result<PathBuf, String> {
    let name = &r.argv[0];
    let missing = || format!("execvpe {name}: No such file or directory");
    if name.contains('/') {
        let path = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            Path::new(&r.workdir).join(name)
        };
        let text = path.to_string_lossy();
        return executable_inside(root, &text)
            .then_some(path.clone())
            .ok_or_else(missing);
    }
    let path = r
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    path.split(':')
        .filter(|d| d.starts_with('/'))
        .map(|d| Path::new(d).join(name))
        .find(|p| executable_inside(root, &p.to_string_lossy()))
        .ok_or_else(missing)
}

/// `uid[:gid]` numbers, or names looked up in the image's `/etc/passwd` and `/etc/group`.
fn user_ids(root: &Path, user: &str) -> Result<(Uid, Gid), String> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let table = |file: &str| -> Vec<Vec<String>> {
        let text = match resolve_dir(root, &[OsString::from("etc")], false) {
            Ok(Parent::Dir(etc)) => std::fs::read_to_string(etc.join(file)).unwrap_or_default(),
            _ => String::new(),
        };
        text.lines()
            .map(|l| l.split(':').map(String::from).collect())
            .collect()
    };
    let (uid, passwd_gid) = match u.parse::<u32>() {
        Ok(n) => (n, None),
        Err(_) => {
            let row = table("passwd")
                .into_iter()
                .find(|r| r.len() > 3 && r[0] == u)
                .ok_or_else(|| format!("unknown user {u:?}"))?;
            let n = |s: &str| {
                s.parse::<u32>()
                    .map_err(|_| format!("bad passwd entry for {u}"))
            };
            (n(&row[2])?, Some(n(&row[3])?))
        }
    };
    let gid = match g {
        None => passwd_gid.unwrap_or(uid),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => table("group")
                .into_iter()
                .find(|r| r.len() > 2 && r[0] == g)
                .and_then(|r| r[2].parse().ok())
                .ok_or_else(|| format!("unknown group {g:?}"))?,
        },
    };
    Ok((Uid::from_raw(uid), Gid::from_raw(gid)))
}

/// Resolves and makes everything the child needs: root-dir, program, mount points, workdir,
/// user. Errors are the reasons a device would give in the container's `comment`.
pub fn prepare(spec: &LaunchSpec, r: &Resolved) -> Result<Prepared, String> {
    let root = std::fs::canonicalize(&spec.root)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| format!("root-dir {} is missing", spec.root.display()))?;
    let program = find_program(&root, r)?;
    let mut binds = Vec::new();
    for b in &spec.binds {
        if !b.src.exists() {
            std::fs::create_dir_all(&b.src).map_err(|e| format!("mount {}: {e}", b.dst))?;
        }
        let target = if b.src.is_dir() {
            dir_inside(&root, &b.dst)?
        } else {
            let mut parts = components(&b.dst)?;
            let file = parts.pop().ok_or("a file cannot be mounted at /")?;
            let parent = dir_inside(
                &root,
                &Path::new("/")
                    .join(parts.iter().collect::<PathBuf>())
                    .to_string_lossy(),
            )?;
            let target = parent.join(file);
            if !target.exists() {
                std::fs::write(&target, b"").map_err(|e| format!("mount {}: {e}", b.dst))?;
            }
            target
        };
        binds.push(HostBind {
            src: cstr(&b.src)?,
            target: cstr(&target)?,
            read_only: b.read_only,
        });
    }
    dir_inside(&root, &r.workdir)?;
    let ids = r.user.as_deref().map(|u| user_ids(&root, u)).transpose()?;
    Ok(Prepared {
        program,
        argv: r.argv.clone(),
        env: r.env.clone(),
        root: cstr(&root)?,
        workdir: cstr(&r.workdir)?,
        hostname: cstr(&spec.hostname)?,
        binds,
        ids,
        logging: spec.logging,
    })
}

/// The child's side: namespaces, binds, chroot, workdir, hostname, user. System calls only.
fn enter(
    root: &CStr,
    workdir: &CStr,
    hostname: Option<&CStr>,
    binds: &[HostBind],
    ids: Option<(Uid, Gid)>,
) -> io::Result<()> {
    let none = None::<&CStr>;
    prctl::set_pdeathsig(Signal::SIGKILL)?;
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS)?;
    mount(
        none,
        c"/",
        none,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        none,
    )?;
    for b in binds {
        let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
        mount(
            Some(b.src.as_c_str()),
            b.target.as_c_str(),
            none,
            bind,
            none,
        )?;
        if b.read_only {
            let ro = bind | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
            mount(none, b.target.as_c_str(), none, ro, none)?;
        }
    }
    chroot(root)?;
    chdir(workdir)?;
    if let Some(h) = hostname {
        sethostname(OsStr::from_bytes(h.to_bytes()))?;
    }
    if let Some((uid, gid)) = ids {
        setgroups(&[gid])?;
        setgid(gid)?;
        setuid(uid)?;
    }
    Ok(())
}

/// Starts the prepared process in its own process group; stdout and stderr are pipes when the
/// container logs, else discarded.
pub fn spawn(p: Prepared) -> io::Result<Child> {
    let mut cmd = Command::new(&p.program);
    cmd.arg0(&p.argv[0])
        .args(&p.argv[1..])
        .env_clear()
        .envs(p.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .process_group(0);
    if p.logging {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
    }
    let Prepared {
        root,
        workdir,
        hostname,
        binds,
        ids,
        ..
    } = p;
    // SAFETY: `enter` only makes system calls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || enter(&root, &workdir, Some(&hostname), &binds, ids));
    }
    cmd.spawn()
}

/// Checks that this machine lets the simulator isolate a process (mount and UTS namespaces,
/// chroot): a child enters them around an empty directory under `scratch`, then fails to exec
/// a program that is not there, which is the success case.
pub fn check(scratch: &Path) -> Result<(), String> {
    let dir = scratch.join(".run-containers-check");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let root = cstr(&dir)?;
    let mut cmd = Command::new("/no-such-program");
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: as in `spawn`.
    unsafe {
        cmd.pre_exec(move || enter(&root, c"/", Some(c"check"), &[], None));
    }
    let result = cmd.spawn();
    let _ = std::fs::remove_dir(&dir);
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(mut child) => {
            let _ = child.wait();
            Ok(())
        }
        Err(e) => Err(format!(
            "this machine refuses mount/UTS namespaces or chroot ({e}); \
             --run-containers needs root (CAP_SYS_ADMIN and CAP_SYS_CHROOT)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_by_number_and_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(dir.path().join("etc/passwd"), "app:x:1000:1001::/:/none\n").unwrap();
        std::fs::write(dir.path().join("etc/group"), "staff:x:50:\n").unwrap();
        let ids = |u| user_ids(dir.path(), u).map(|(u, g)| (u.as_raw(), g.as_raw()));
        assert_eq!(ids("0:0"), Ok((0, 0)));
        assert_eq!(ids("7"), Ok((7, 7)));
        assert_eq!(ids("app"), Ok((1000, 1001)));
        assert_eq!(ids("app:staff"), Ok((1000, 50)));
        assert!(ids("nobody").unwrap_err().contains("unknown user"));
        assert!(ids("0:nogroup").unwrap_err().contains("unknown group"));
    }

    #[test]
    fn programs_and_mount_points_stay_inside_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::write(root.join("bin/app"), b"").unwrap();
        std::fs::set_permissions(root.join("bin/app"), PermissionsExt::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        let resolved = |argv0: &str| Resolved {
            argv: vec![argv0.into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            workdir: "/".into(),
            user: None,
        };
        assert_eq!(find_program(root, &resolved("app")), Ok("/bin/app".into()));
        assert_eq!(
            find_program(root, &resolved("/bin/app")),
            Ok("/bin/app".into())
        );
        assert_eq!(
            find_program(root, &resolved("/x")).unwrap_err(),
            "execvpe /x: No such file or directory"
        );
        assert!(components("/a/../b").is_err());
        // A symlink to `/` inside the image stays inside root-dir.
        let made = dir_inside(root, "/up/data").unwrap();
        assert_eq!(made, std::fs::canonicalize(root).unwrap().join("data"));
    }
}
