//! A real registry for the tests: Debian's `docker-registry` (the CNCF distribution server)
//! on a free 127.0.0.1 port, storing in a temp dir.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// A distribution server on a free loopback port, storing in a temp dir; killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with_auth(None)
    }

    /// With Basic auth from an htpasswd file holding `user` (bcrypt, made by `htpasswd -B`).
    pub fn start_with_auth(user: Option<(&str, &str)>) -> Registry {
        Self::start_with_realm(user, "lamina-test")
    }

    /// With Basic auth whose challenge names `realm` (ECR's names its registry).
    pub fn start_with_realm(user: Option<(&str, &str)>, realm: &str) -> Registry {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let config = dir.path().join("config.yml");
        let mut text = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nlog:\n  level: error\n",
            dir.path().join("data").display()
        );
        if let Some((name, password)) = user {
            let out = Command::new("htpasswd")
                .args(["-Bbn", name, password])
                .output()
                .expect("these tests need htpasswd (apache2-utils; .ci/run installs it)");
            assert!(out.status.success());
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, out.stdout).expect("write htpasswd");
            text.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: \"{realm}\"\n    path: {}\n",
                file.display()
            ));
        }
        std::fs::write(&config, text).expect("write config");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("these tests need Debian's docker-registry (apt-get install docker-registry; .ci/run installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn reference(&self, path: &str) -> String {
        format!("127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
