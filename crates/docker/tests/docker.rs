//! The emulator driving a real container through `DockerSandbox`, with the emulator's own
//! test harness (`crates/rie/tests/common`). Needs a Docker daemon (or Podman's socket in
//! DOCKER_HOST: `tests/podman.sh`) and a static
//! `/bin/busybox` (Debian's `busybox-static`, installed by `.ci/run`); builds its own image,
//! no registry. `LAMINA_SKIP_DOCKER_TESTS=1` skips it on a machine without Docker.

#[path = "../../rie/tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::Arc;

use common::Harness;
use lamina_docker::{new_session_id, DockerSandbox};
use lamina_rie::{Emulator, FunctionConfig, LogSink};

const IMAGE: &str = "lamina-rie-test:busybox";

const BUILD: &str = r#"
set -eu
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
mkdir -p "$d/bin" "$d/tmp" "$d/var/runtime"
cp /bin/busybox "$d/bin/busybox"
for a in sh nc cat grep sed tr id touch echo; do ln -s busybox "$d/bin/$a"; done
cat > "$d/var/runtime/bootstrap" <<'SH'
#!/bin/sh
# A custom runtime in busybox sh. It speaks HTTP/1.0 through `nc`: busybox-static's `wget`
# segfaults under this Docker's default seccomp profile.
echo "init: running as $(id -u):$(id -g)"
HOST=${AWS_LAMBDA_RUNTIME_API%:*}
PORT=${AWS_LAMBDA_RUNTIME_API##*:}
P=/2018-06-01/runtime
http() { # METHOD PATH [BODY]
  if [ -n "${3:-}" ]; then
    printf '%s %s HTTP/1.0\r\nHost: rt\r\nContent-Type: application/json\r\nContent-Length: %s\r\n\r\n%s' "$1" "$2" "${#3}" "$3" | nc "$HOST" "$PORT"
  else
    printf '%s %s HTTP/1.0\r\nHost: rt\r\n\r\n' "$1" "$2" | nc "$HOST" "$PORT"
  fi
}
while true; do
  http GET $P/invocation/next | tr -d '\r' > /tmp/next
  RID=$(grep -i '^lambda-runtime-aws-request-id:' /tmp/next | sed 's/^[^:]*: *//')
  EVENT=$(sed '1,/^$/d' /tmp/next)
  echo "handling $RID"
  case "$EVENT" in *'"exit"'*) exit 3;; esac
  if touch /rootfs-is-writable 2>/dev/null; then RO=false; else RO=true; fi
  echo scratch > /tmp/scratch || echo "cannot write /tmp"
  http POST $P/invocation/$RID/response "{\"event\":$EVENT,\"uid\":\"$(id -u)\",\"readonly\":$RO,\"fn\":\"$AWS_LAMBDA_FUNCTION_NAME\"}" > /dev/null
done
SH
chmod 755 "$d" "$d/var/runtime/bootstrap"
# Docker 20.10 gives the tmpfs on /tmp the mode of the image's /tmp, whatever `mode=` says.
chmod 1777 "$d/tmp"
tar -C "$d" -c . | docker import -c 'ENTRYPOINT ["/var/runtime/bootstrap"]' - "$1" >/dev/null
"#;

fn sh(script: &str, args: &[&str]) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn enabled() -> bool {
    if std::env::var("LAMINA_SKIP_DOCKER_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: LAMINA_SKIP_DOCKER_TESTS=1");
        return false;
    }
    true
}

/// Build the busybox image and serve it as function `name` in a new session whose
/// environments join `network` (`None`: the default): the harness, the session id (the
/// containers' `dev.lamina.rie` label) and the network joined.
async fn serve_busybox(name: &str, network: Option<&str>) -> (Harness, String, String) {
    sh(BUILD, &[IMAGE]);
    let session = new_session_id();
    let sandbox = DockerSandbox::new(lamina_docker::connect().await.unwrap(), &session, network)
        .await
        .unwrap_or_else(|e| panic!("a session starts on {network:?}: {e}"));
    let joined = sandbox.network().to_owned();
    let mut f = FunctionConfig::new(name.parse().unwrap());
    f.image = Some(IMAGE.into());
    let h = Harness::start(vec![f], Arc::new(sandbox)).await;
    (h, session, joined)
}

#[tokio::test]
async fn invokes_a_container_and_cleans_up() {
    if !enabled() {
        return;
    }
    let (h, session, network) = serve_busybox("busy", None).await;

    let a = h.invoke("busy", r#"{"n":1}"#, &[]).await;
    assert_eq!(a.status, 200, "{:?}\n{}", a.body, h.log_text());
    let v = a.json();
    assert_eq!(v["event"]["n"], 1, "{v}\n{}", h.log_text());
    assert_eq!(v["uid"], "993", "non-root");
    assert_eq!(v["readonly"], true, "read-only root filesystem");
    assert_eq!(v["fn"], "busy");
    assert_eq!(a.header("x-amz-executed-version"), Some("$LATEST"));

    let a = h.invoke("function", r#"{"n":2}"#, &[]).await;
    assert_eq!(a.json()["event"]["n"], 2);

    // The environment's Runtime API answers its own container only: the same request from
    // the host (another peer on the network) is closed unanswered.
    let api = sh(
        "docker ps -q --filter label=dev.lamina.rie=$1 | head -n1 | xargs docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' | sed -n 's/^AWS_LAMBDA_RUNTIME_API=//p'",
        &[&session],
    );
    // The log is read from the attach stream alone; no logging driver copies it to a file.
    let driver = sh(
        "docker ps -q --filter label=dev.lamina.rie=$1 | head -n1 | xargs docker inspect --format '{{.HostConfig.LogConfig.Type}}'",
        &[&session],
    );
    assert_eq!(driver.trim(), "none", "the container's logging driver");
    let api = api.trim();
    assert!(
        api.contains(':'),
        "no AWS_LAMBDA_RUNTIME_API in the container: {api:?}"
    );
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(api).await.unwrap();
        let _ = s
            .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf).await;
        buf
    })
    .await
    .expect("the listener must close a foreign connection, not hold it");
    assert!(
        answer.is_empty(),
        "a foreign peer got an answer: {}",
        String::from_utf8_lossy(&answer)
    );
    let a = h.invoke("busy", r#"{"n":3}"#, &[]).await;
    assert_eq!(
        a.json()["event"]["n"],
        3,
        "the runtime itself is still served"
    );

    let a = h.invoke("busy", r#"{"exit":true}"#, &[]).await;
    assert_eq!(a.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(a.json()["errorType"], "Runtime.ExitError");
    assert!(a.json()["errorMessage"]
        .as_str()
        .unwrap()
        .ends_with("Runtime exited with error: exit status 3"));

    let a = h.invoke("busy", r#"{"n":4}"#, &[]).await;
    assert_eq!(a.status, 200);
    let log = h.wait_reports(5).await;
    assert!(log.contains("init: running as 993:990"), "{log}");
    assert_eq!(log.matches("Init Duration").count(), 2, "{log}");
    assert!(!log.contains("Max Memory Used: 0 MB"), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().position(|l| l.starts_with("START")).unwrap();
    assert!(
        lines[start + 1].starts_with("handling "),
        "output after START:\n{log}"
    );
    assert!(
        lines[start + 2].starts_with("END "),
        "END after output:\n{log}"
    );
    eprintln!("{log}");

    h.shutdown().await.unwrap();
    let left = sh(
        "docker ps -aq --filter label=dev.lamina.rie=$1",
        &[&session],
    );
    assert!(left.trim().is_empty(), "containers left: {left}");
    // Docker's default bridge, as `docker run` uses: no embedded DNS set-up per start.
    assert_eq!(network, lamina_docker::DEFAULT_NETWORK);
    // (Podman calls its default network `podman` and answers for `bridge` with it.)
    let nets = sh(
        "docker network ls -q --filter name=^$1$; docker network ls -q --filter name=^podman$",
        &[&network],
    );
    assert!(nets.lines().count() >= 1, "the default bridge is gone");
}

/// The TCP sockets of this process whose far end is `ip` and near end port `port`, with
/// their state (/proc/net/tcp's hex code: 01 established, 04 fin-wait-1, 08 close-wait,
/// 09 last-ack, 0B closing, 06 time-wait).
fn sockets_to(ip: std::net::Ipv4Addr, port: u16) -> Vec<String> {
    let far = format!("{:08X}", u32::from_le_bytes(ip.octets()));
    let near = format!(":{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 3 && f[1].ends_with(&near) && f[2].starts_with(&far))
                .then(|| format!("{} -> {} state {}", f[1], f[2], f[3]))
        })
        .collect()
}

/// When a session ends, no socket of its Runtime API is left resending a FIN to a container
/// that is gone (src/http_util/reset.rs): Docker hands that address to the next container at
/// once, and a host resending to it made that container unreachable for a second
/// (`docker run -p` after a `lamina rie` answered its first request 850 ms late).
#[tokio::test]
async fn a_session_leaves_no_socket_resending_to_a_removed_container() {
    if !enabled() {
        return;
    }
    let (h, session, _) = serve_busybox("gone", None).await;
    let a = h.invoke("gone", r#"{"n":1}"#, &[]).await;
    assert_eq!(a.status, 200, "{:?}\n{}", a.body, h.log_text());
    let inspect = |format: &str| {
        sh(
            "docker ps -q --filter label=dev.lamina.rie=$1 | head -n1 | xargs docker inspect --format \"$2\"",
            &[&session, format],
        )
    };
    let ip: std::net::Ipv4Addr =
        inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
            .trim()
            .parse()
            .unwrap();
    let api = inspect("{{range .Config.Env}}{{println .}}{{end}}");
    let port: u16 = api
        .lines()
        .find_map(|l| l.strip_prefix("AWS_LAMBDA_RUNTIME_API="))
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    // The runtime's long-polled /next is open now.
    assert!(
        !sockets_to(ip, port).is_empty(),
        "no connection seen from {ip} to :{port}"
    );
    h.shutdown().await.unwrap();
    let resending: Vec<String> = sockets_to(ip, port)
        .into_iter()
        .filter(|s| !s.ends_with("state 06"))
        .collect();
    assert!(
        resending.is_empty(),
        "sockets to the removed container {ip} left open or resending: {resending:?}"
    );
}

/// Two sessions starting at once on a fresh daemon can each create the shared network
/// (Docker before API 1.44 keeps two networks of one name), and every lookup by that name
/// then fails as ambiguous: a fresh CI machine's first parallel tests did exactly this.
#[tokio::test]
async fn a_session_starts_and_serves_when_two_networks_carry_the_shared_name() {
    use bollard::models::NetworkCreateRequest;
    use lamina_docker::{LABEL_SHARED, SHARED_NETWORK};
    if !enabled() {
        return;
    }
    let docker = lamina_docker::connect().await.unwrap();
    let ids = |out: String| -> Vec<String> { out.lines().map(str::to_owned).collect() };
    let named = format!("docker network ls -q --no-trunc --filter name=^{SHARED_NETWORK}$");
    let mut made = None;
    for _ in ids(sh(&named, &[])).len()..2 {
        let created = docker
            .create_network(NetworkCreateRequest {
                name: SHARED_NETWORK.to_owned(),
                driver: Some("bridge".into()),
                labels: Some([(LABEL_SHARED.to_owned(), "1".to_owned())].into()),
                ..Default::default()
            })
            .await;
        let Ok(created) = created else {
            // Podman (and Docker from API 1.44) refuse a second network of one name: the
            // ambiguity this test is about cannot arise there.
            eprintln!("this engine refuses a second network of one name: nothing to test");
            return;
        };
        made = Some(created.id);
    }
    let before = ids(sh(&named, &[]));
    assert!(
        before.len() >= 2,
        "two networks named {SHARED_NETWORK}: {before:?}"
    );

    // A session starts whatever duplicates the daemon holds.
    let (h, session, _) = serve_busybox("dup", Some(SHARED_NETWORK)).await;
    let a = h.invoke("dup", r#"{"n":7}"#, &[]).await;
    assert_eq!(a.status, 200, "{:?}\n{}", a.body, h.log_text());
    assert_eq!(a.json()["event"]["n"], 7);
    let joined = sh(
        "docker ps -q --filter label=dev.lamina.rie=$1 | head -n1 | xargs docker inspect --format '{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}'",
        &[&session],
    );
    h.shutdown().await.unwrap();
    // Every session joins the same one of them: the smallest id.
    let smallest = before.iter().min().unwrap();
    assert_eq!(joined.trim(), smallest.as_str());

    // The network made here goes again unless it is the one sessions now join.
    if let Some(id) = made.filter(|id| id != smallest) {
        sh("docker network rm \"$1\" >/dev/null", &[&id]);
    }
}

#[tokio::test]
async fn a_missing_image_is_reported_before_serving() {
    if !enabled() {
        return;
    }
    let session = new_session_id();
    let sandbox = Arc::new(
        DockerSandbox::new(lamina_docker::connect().await.unwrap(), &session, None)
            .await
            .unwrap(),
    );
    let network = sandbox.network().to_owned();
    let mut f = FunctionConfig::new("ghost".parse().unwrap());
    f.image = Some("lamina-no-such-image:nope".into());
    let bound = Emulator::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let err = bound
        .serve(vec![f], sandbox, LogSink::discard(), std::future::pending())
        .await
        .unwrap_err();

    assert_eq!(
        err.to_string(),
        "image `lamina-no-such-image:nope` is not in the local Docker Engine: load it (`lamina build --load`, `docker load`) or pull it"
    );
    let left = sh(
        "docker ps -aq --filter label=dev.lamina.rie=$1",
        &[&session],
    );
    assert!(left.trim().is_empty(), "containers left: {left}");
    assert_eq!(network, lamina_docker::DEFAULT_NETWORK);
}

/// `--network NAME` joins a bridge network the user made (a compose project's, say): the
/// container is on it, by the network's id, and the Runtime API answers on its gateway.
#[tokio::test]
async fn environments_join_a_network_the_user_made() {
    if !enabled() {
        return;
    }
    let name = format!("lamina-test-net-{}", new_session_id());
    let id = sh("docker network create \"$1\"", &[&name]);
    let served = async {
        let (h, session, joined) = serve_busybox("own", Some(&name)).await;
        assert_eq!(joined, name);
        let a = h.invoke("own", r#"{"n":3}"#, &[]).await;
        let joined = sh(
            "docker ps -q --filter label=dev.lamina.rie=$1 | head -n1 | xargs docker inspect --format '{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}'",
            &[&session],
        );
        h.shutdown().await.unwrap();
        (a, joined)
    }
    .await;
    sh("docker network rm \"$1\" >/dev/null", &[&name]);
    let (a, joined) = served;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.json()["event"]["n"], 3);
    // Docker names the network by id; Podman by name.
    assert!(
        joined.trim() == id.trim() || joined.trim() == name,
        "{joined} is neither {id} nor {name}"
    );
}

/// A network that is missing, or that gives the host no address the containers reach, is
/// refused before anything starts, with the fix.
#[tokio::test]
async fn a_network_environments_cannot_join_is_refused_with_the_fix() {
    if !enabled() {
        return;
    }
    let docker = lamina_docker::connect().await.unwrap();
    let session = new_session_id();
    let missing = DockerSandbox::new(docker.clone(), &session, Some("lamina-no-such-network"))
        .await
        .unwrap_err();
    assert_eq!(
        missing.to_string(),
        "Docker has no network `lamina-no-such-network`: create it (`docker network create lamina-no-such-network`), or leave out --network to join Docker's default bridge"
    );
    for mode in ["host", "none"] {
        let refused = DockerSandbox::new(docker.clone(), &session, Some(mode))
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!("cannot run environments on network `{mode}`: each environment needs its own address on a bridge network; leave out --network for Docker's default bridge, or pass a bridge network (`--network lamina-rie`, or one made with `docker network create NAME`)")
        );
    }
}
