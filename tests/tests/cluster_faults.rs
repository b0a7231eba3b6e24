//! The cluster under faults and attack (issue 9): each test reproduces, with real nimbus,
//! supervisor and worker processes on 127.0.0.1, a defect a hostile probe found, and checks
//! that it is gone.

use gale::cluster::proto::KillRequest;
use gale::cluster::proto::nimbus_client::NimbusClient;
use gale_tests::cluster::{Cluster, output_text, rss_kib, serial, slow_cluster, workspace_bin};
use std::time::{Duration, Instant};

fn acking_binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_cluster_acking").into()
}

/// Defect 1: `submit`, `kill`, `submit` gave the same id twice, and a worker of the killed
/// topology joined the new one.
#[test]
fn a_resubmitted_topology_gets_a_new_id_and_only_its_own_workers() {
    let _one = serial();
    let c = slow_cluster("resubmit");
    let first = c.submit(&acking_binary(), &[]);
    c.wait_for(
        "both workers of the first run",
        Duration::from_secs(60),
        |c| c.worker_pids(&first).len() == 2,
    );
    let out = c.gale(&["kill", "cluster_acking"]);
    assert!(out.status.success(), "{}", output_text(&out));
    // At once, within one supervisor heartbeat.
    let second = c.submit(&acking_binary(), &[]);
    assert_ne!(first, second, "a topology id was given twice");
    c.wait_for(
        "the second run on two workers of its own, none of the first left",
        Duration::from_secs(60),
        |c| c.worker_pids(&second).len() == 2 && c.worker_pids(&first).is_empty(),
    );
    c.wait_for("both workers alive", Duration::from_secs(30), |c| {
        c.list().matches(" alive ").count() >= 2 + 2
    });
    // The id `submit` printed is what `rebalance` and `kill` take, as the README shows.
    let out = c.gale(&["rebalance", &second, "--parallelism", "relay=1"]);
    assert!(out.status.success(), "{}", output_text(&out));
    // A restarted nimbus never hands out an old id either.
    let out = c.gale(&["kill", &second]);
    assert!(out.status.success(), "{}", output_text(&out));
    let mut c = c;
    c.kill_nimbus();
    c.start_nimbus();
    let third = c.submit(&acking_binary(), &[]);
    assert!(
        third != first && third != second,
        "{first} {second} {third}"
    );
}

/// Defect 2: with a finished `wordcount-1` and a running `wordcount-2`, `gale kill
/// wordcount` removed the finished record and left the running topology alive.
#[test]
fn kill_by_name_stops_the_running_topology_not_a_finished_record() {
    let _one = serial();
    let c = Cluster::start("kill-name", 2, 2, &[]);
    let done = c.submit(&workspace_bin("wordcount"), &[]);
    c.wait_for("the first run finished", Duration::from_secs(120), |c| {
        c.list().contains(&format!("topology {done}  finished"))
    });
    let running = c.submit(&workspace_bin("wordcount"), &["--set", "repeat=1000000"]);
    c.wait_for("the second run's workers", Duration::from_secs(60), |c| {
        c.worker_pids(&running).len() == 2
    });
    let out = c.gale(&["kill", "wordcount"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(&format!("killed {running}")),
        "{}",
        output_text(&out)
    );
    c.wait_for(
        "the running one's workers stopped",
        Duration::from_secs(15),
        |c| c.worker_pids(&running).is_empty(),
    );
    let list = c.list();
    assert!(
        list.contains(&format!("topology {done}  finished")),
        "the finished record must stay: {list}"
    );
    assert!(!list.contains(&running), "{list}");
}

/// Defect 6: a worker that panics in `open` restarted every 2 s forever, showed as `alive`,
/// and its restarts were never shown.
#[test]
fn a_crash_looping_worker_backs_off_and_gale_list_shows_it() {
    let _one = serial();
    let c = slow_cluster("crash-loop");
    let id = c.submit(&acking_binary(), &["--set", "crash_task=0"]);
    let mut seen_alive_crasher = false;
    let start = Instant::now();
    let mut shown = String::new();
    while start.elapsed() < Duration::from_secs(40) {
        let list = c.list();
        for line in list
            .lines()
            .filter(|l| l.trim_start().starts_with("worker "))
        {
            if line.contains("restarts") && line.contains(" alive ") {
                seen_alive_crasher = true;
            }
            if line.contains("restarts 2 (last exit: exit status 1)")
                || line.contains("restarts 3 (last exit: exit status 1)")
            {
                shown = line.to_string();
            }
        }
        if !shown.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !shown.is_empty(),
        "no worker listed with its restarts and exit reason:\n{}\n{}",
        c.list(),
        c.logs()
    );
    assert!(
        shown.contains("restarting") || shown.contains("starting"),
        "a crash-looping worker is not alive: {shown}"
    );
    assert!(
        !seen_alive_crasher,
        "a crash-looping worker was listed alive"
    );
    // The supervisor restarts at once, then its delays double: 0.5 s, 1 s, ... (the third
    // is logged when the worker listed with two restarts crashes again).
    for delay in ["in 0.0 s", "in 0.5 s", "in 1.0 s"] {
        c.wait_for(
            &format!("a restart {delay}"),
            Duration::from_secs(20),
            |c| c.logs().contains(delay),
        );
    }
    let _ = id;
}

/// Defect 3: an unauthenticated request was decoded (and its body buffered) before the
/// secret was checked: a 17 MiB request got OUT_OF_RANGE, and 48 connections sending
/// 16 MiB bodies held 777 MiB of nimbus's memory.
#[test]
fn unauthenticated_requests_are_refused_before_their_body_is_read() {
    let _one = serial();
    let c = Cluster::start("auth-gate", 1, 1, &[]);
    let pid = c.nimbus_pid().expect("nimbus runs");
    let rt = tokio::runtime::Runtime::new().expect("tokio");
    rt.block_on(async {
        // One 17 MiB unary request (from a client without Gale's own 16 MiB limit): refused
        // for the secret, not for its size.
        let channel = tonic::transport::Endpoint::from_shared(c.url.clone())
            .expect("url")
            .connect()
            .await
            .expect("connect");
        let mut client = NimbusClient::new(channel);
        let err = client
            .kill(KillRequest {
                name: "x".repeat(17 << 20),
            })
            .await
            .expect_err("no secret, refused");
        assert_eq!(err.code(), tonic::Code::Unauthenticated, "{err:?}");
        assert!(err.message().contains("missing cluster secret"), "{err:?}");

        // 48 connections, each sending all but the last byte of a 16 MiB unary request
        // and then holding it open: each is answered UNAUTHENTICATED from its headers, and
        // nimbus buffers none of the bodies.
        let before = rss_kib(pid);
        let addr = c.url.trim_start_matches("http://").to_string();
        let mut held = Vec::new();
        for _ in 0..48 {
            let (status, conn) =
                tokio::time::timeout(Duration::from_secs(10), partial_unary(&addr))
                    .await
                    .expect(
                        "an unauthenticated request must be answered before its body is complete",
                    );
            assert_eq!(status.as_deref(), Some("16"), "grpc-status UNAUTHENTICATED");
            held.push(conn);
        }
        let during = rss_kib(pid);
        assert!(
            during < before + 64 * 1024,
            "nimbus grew from {before} KiB to {during} KiB while 48 refused requests stayed open"
        );
        drop(held);
    });
    // Nimbus still serves authenticated calls.
    assert!(c.gale(&["list"]).status.success());
}

/// Defect 4: a client with a secret spoke plain HTTP/2 (secret in the clear) to an http://
/// URL. Beyond loopback it now refuses; with TLS configured it speaks TLS whatever the URL.
#[test]
fn the_secret_never_travels_in_clear_text() {
    let _one = serial();
    // No TLS, a non-loopback nimbus: refused before any connection is made.
    let out = std::process::Command::new(workspace_bin("gale"))
        .args(["list", "--nimbus", "http://10.255.255.1:6627"])
        .env("GALE_SECRET", "a-secret")
        .output()
        .expect("gale runs");
    assert!(!out.status.success());
    assert!(
        output_text(&out)
            .contains("refusing to send the cluster secret in clear text to 10.255.255.1"),
        "{}",
        output_text(&out)
    );

    // A TLS cluster reached through the default http:// URL: every call is TLS, so the
    // daemons (TLS servers) and the CLI work together, and a finite topology finishes.
    let certs = concat!(env!("CARGO_MANIFEST_DIR"), "/certs");
    let cert = format!("{certs}/node.pem");
    let key = format!("{certs}/node.key");
    let ca = format!("{certs}/ca.pem");
    let c = Cluster::start(
        "tls",
        1,
        2,
        &[
            ("GALE_TLS_CERT", &cert),
            ("GALE_TLS_KEY", &key),
            ("GALE_TLS_CA", &ca),
        ],
    );
    assert!(c.url.starts_with("http://"));
    let id = c.submit(&workspace_bin("wordcount"), &[]);
    c.wait_for(
        "the TLS cluster ran the word count",
        Duration::from_secs(120),
        |c| c.list().contains(&format!("topology {id}  finished")),
    );
    // A finished topology's workers show as finished, not alive.
    let list = c.list();
    let workers: Vec<&str> = list
        .lines()
        .filter(|l| l.trim_start().starts_with("worker "))
        .collect();
    assert!(!workers.is_empty(), "{list}");
    assert!(
        workers
            .iter()
            .all(|l| l.contains(" finished ") && !l.contains(" alive ")),
        "{list}"
    );
    // A server name the certificate does not carry is refused.
    let out = c.gale(&["list", "--tls-server-name", "nimbus.example.com"]);
    assert!(!out.status.success(), "{}", output_text(&out));

    // The web UI's port speaks HTTPS with the same certificate (and a plaintext request
    // gets no HTTP answer), the secret still needed.
    let (code, body) = https_get(&c.http, "/api/v1/cluster", Some(&c.secret), &ca);
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"supervisors\""), "{body}");
    assert_eq!(https_get(&c.http, "/api/v1/cluster", None, &ca).0, 401);
    let (code, page) = https_get(&c.http, "/", None, &ca);
    assert_eq!(code, 200);
    assert!(page.contains("/ui/app.js"), "{page}");
    let mut plain = std::net::TcpStream::connect(&c.http).expect("connects");
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("a timeout");
    let _ = std::io::Write::write_all(&mut plain, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut answer = String::new();
    let _ = std::io::Read::read_to_string(&mut plain, &mut answer);
    assert!(!answer.starts_with("HTTP/"), "plaintext answered: {answer}");
}

/// `GET path` over HTTPS, trusting the CA in `ca`: (status, body).
fn https_get(addr: &str, path: &str, secret: Option<&str>, ca: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
    use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto};
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("the CA file") {
        roots.add(cert.expect("a CA certificate")).expect("added");
    }
    let config =
        ClientConfig::builder_with_provider(std::sync::Arc::new(crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .expect("connects");
        let name = ServerName::try_from("127.0.0.1").expect("a server name");
        let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
            .connect(name, tcp)
            .await
            .expect("the TLS handshake");
        let auth = secret.map_or_else(String::new, |s| format!("Authorization: Bearer {s}\r\n"));
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
        tls.write_all(req.as_bytes()).await.expect("sent");
        let mut out = Vec::new();
        let _ = tls.read_to_end(&mut out).await;
        let out = String::from_utf8_lossy(&out).to_string();
        let code = out
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = out
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (code, body)
    })
}

/// Sends the headers of a `Kill` call and all but the last byte of a 16 MiB message, over
/// a raw HTTP/2 connection, and returns the `grpc-status` of the response (and the open
/// connection, to hold it).
async fn partial_unary(addr: &str) -> (Option<String>, impl Sized) {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("tcp");
    let (client, conn) = h2::client::handshake(tcp).await.expect("h2 handshake");
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.expect("ready");
    let req = http::Request::post(format!("http://{addr}/gale.cluster.Nimbus/Kill"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut body) = client.send_request(req, false).expect("send");
    let len: u32 = 16 << 20;
    let mut frame = vec![0u8];
    frame.extend_from_slice(&len.to_be_bytes());
    frame.resize(5 + len as usize - 1, b'x');
    // h2 queues what the peer's window does not admit yet; the stream stays open.
    let _ = body.send_data(bytes::Bytes::from(frame), false);
    let response = response.await.expect("a response");
    let status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, (client, body, driver))
}

/// Defect 8: a batch of 1,024 tuples of 70,000 bytes made a 106 MB frame above the 64 MiB
/// limit, and the whole batch was dropped. Batches are now split into frames below the
/// limit: every one of the ids, each carrying 70,000 bytes, is acked.
#[test]
fn batches_of_large_tuples_cross_workers_whole() {
    let _one = serial();
    let c = Cluster::start(
        "large-tuples",
        2,
        1,
        &[("GALE_TEST_IDS", "3000"), ("GALE_TEST_RATE", "500")],
    );
    let id = c.submit(&acking_binary(), &["--set", "pad=70000"]);
    c.wait_for("every large id acked", Duration::from_secs(120), |c| {
        gale_tests::cluster::acked_ids(&c.dir).len() == 3000
    });
    assert!(
        !c.logs().contains("above the limit"),
        "a frame was dropped:\n{}",
        c.logs()
    );
    let _ = id;
}
