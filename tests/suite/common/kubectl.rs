//! The real `kubectl` as a user runs it: no kubeconfig, every call `--server` (plus whatever
//! flags the caller gives, e.g. `--token`), with a temporary HOME so discovery caches never
//! leak between tests.

use std::process::{Command, Output, Stdio};

pub struct Kubectl {
    home: tempfile::TempDir,
    args: Vec<String>,
}

impl Kubectl {
    pub fn new(server: &str, extra: &[&str]) -> Kubectl {
        let mut args = vec!["--server".to_string(), server.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Kubectl {
            home: tempfile::tempdir().unwrap(),
            args,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.args(&self.args)
            .args(args)
            .env("HOME", self.home.path())
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("kubectl on PATH (scripts/lib.sh ensure_kubectl)")
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "kubectl {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).to_string()
    }
}
