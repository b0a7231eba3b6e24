//! Seeing a running topology (issue 14), against real nimbus, supervisor and worker
//! processes on 127.0.0.1: the REST API's JSON of a running word count (plan, `.topo`
//! lines, tasks, growing counters that a rebalance does not reset), actions that need the
//! secret (bearer or a browser session with its CSRF token), `/metrics` that `promtool`
//! accepts, a real Prometheus server scraping the workers it finds through nimbus's
//! service discovery, and the web UI in a real headless Chromium.

use gale_tests::cluster::{
    Cluster, free_port, http_exchange as request, http_request, serial, workspace_bin,
};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORDCOUNT_TOPO: &str = include_str!("../../examples/wordcount/topologies/wordcount.topo");

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The 1-based line of the `.topo` file that declares `component`.
fn declared_at(component: &str) -> u64 {
    WORDCOUNT_TOPO
        .lines()
        .position(|l| {
            let mut words = l.split_whitespace();
            matches!(words.next(), Some("spout" | "bolt")) && words.next() == Some(component)
        })
        .map(|i| i as u64 + 1)
        .unwrap_or_else(|| panic!("`{component}` is not declared in wordcount.topo"))
}

fn component<'a>(topology: &'a Value, name: &str) -> &'a Value {
    topology["components"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no component `{name}` in {topology}"))
}

fn counter(topology: &Value, name: &str, what: &str) -> u64 {
    component(topology, name)[what].as_u64().unwrap_or(0)
}

/// A word count that runs for minutes (its sentences repeated a million times).
fn running_wordcount(c: &Cluster) -> String {
    c.submit(&workspace_bin("wordcount"), &["--set", "repeat=1000000"])
}

#[test]
fn the_rest_api_shows_a_running_word_count_and_acts_only_with_the_secret() {
    let _one = serial();
    let c = Cluster::start("web-rest", 2, 2, &[]);
    let secret = c.secret.clone();
    let get = |path: &str| {
        let (code, body) = http_request(&c.http, "GET", path, Some(&secret), "");
        assert_eq!(code, 200, "GET {path}: {body}");
        json(&body)
    };
    let id = running_wordcount(&c);
    let path = format!("/api/v1/topologies/{id}");
    c.wait_for("the counters count", Duration::from_secs(60), |_| {
        counter(&get(&path), "count", "executed") > 0
    });
    let t = get(&path);

    // The plan: every component with its kind, tasks and `.topo` line; the edges with
    // their groupings; the fused chains.
    let names = ["sentences", "split", "count", "print"];
    let plan = &t["plan"];
    let planned: Vec<&str> = plan["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(planned, names, "{t}");
    for name in names {
        let p = plan["components"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["name"] == name))
            .expect("planned");
        assert_eq!(p["line"], declared_at(name), "{name}: {p}");
        assert_eq!(component(&t, name)["line"], declared_at(name), "{name}");
    }
    assert_eq!(plan["components"][0]["kind"], "spout", "{t}");
    assert_eq!(plan["components"][2]["tasks"], 4, "{t}");
    assert!(
        t["source"]
            .as_str()
            .is_some_and(|s| s.ends_with("wordcount.topo")),
        "{t}"
    );
    let edges: Vec<(String, String, String)> = plan["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let grouping = match e["detail"].as_str() {
                Some(d) if !d.is_empty() => {
                    format!("{}({d})", e["grouping"].as_str().unwrap_or(""))
                }
                _ => e["grouping"].as_str().unwrap_or("").to_string(),
            };
            (
                e["from"].as_str().unwrap_or("").to_string(),
                e["to"].as_str().unwrap_or("").to_string(),
                grouping,
            )
        })
        .collect();
    let expect = |a: &str, b: &str, g: &str| (a.to_string(), b.to_string(), g.to_string());
    assert_eq!(
        edges,
        [
            expect("sentences", "split", "shuffle"),
            expect("split", "count", "fields(word)"),
            expect("count", "print", "global"),
        ],
        "{t}"
    );
    // Per task: the count bolt's four tasks, each on a worker, their sum the component's.
    let tasks = component(&t, "count")["tasks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(tasks.len(), 4, "{t}");
    assert!(tasks.iter().all(|k| k["worker"].as_u64().is_some()), "{t}");
    // Counters grow, rates come, and the history has points.
    let before = counter(&t, "split", "executed");
    c.wait_for("rates over the last 10 s", Duration::from_secs(30), |_| {
        let now = get(&path);
        counter(&now, "split", "executed") > before
            && component(&now, "split")["rate_10s"]["executed"].as_f64() > Some(0.0)
            && now["throughput"].as_f64() > Some(0.0)
    });
    let history = get(&format!("{path}/history"));
    assert!(
        history["samples"].as_array().is_some_and(|s| s.len() >= 2),
        "{history}"
    );
    assert!(get(&path)["errors"].as_array().is_some_and(Vec::is_empty));

    // Refused without the secret or with a wrong one, nothing changed.
    let version = get(&path)["version"].as_u64();
    let rebalance = format!("{path}/rebalance");
    let kill = format!("{path}/kill");
    let change = r#"{"parallelism": {"split": 1}}"#;
    assert_eq!(http_request(&c.http, "GET", &path, None, "").0, 401);
    assert_eq!(
        http_request(&c.http, "POST", &rebalance, None, change).0,
        401
    );
    assert_eq!(
        http_request(&c.http, "POST", &rebalance, Some("wrong"), change).0,
        403
    );
    assert_eq!(
        http_request(&c.http, "POST", &kill, Some("wrong"), "").0,
        403
    );
    assert_eq!(
        get(&path)["version"].as_u64(),
        version,
        "a refused call changed something"
    );

    // A rebalance with the secret: the workers restart, the counters go on from where
    // they were (they used to start again from zero).
    let counted = counter(&get(&path), "split", "executed");
    let (code, body) = http_request(&c.http, "POST", &rebalance, Some(&secret), change);
    assert_eq!(code, 200, "{body}");
    c.wait_for("the new assignment", Duration::from_secs(60), |_| {
        let now = get(&path);
        now["plan"]["chains"][1]["executors"] == 1 && now["version"].as_u64() > version
    });
    let mut lowest = u64::MAX;
    c.wait_for(
        "the rebalanced workers count on",
        Duration::from_secs(60),
        |_| {
            let n = counter(&get(&path), "split", "executed");
            lowest = lowest.min(n);
            n > counted + 1000
        },
    );
    assert!(
        lowest >= counted,
        "counters went back from {counted} to {lowest} after the rebalance"
    );
    let list = String::from_utf8_lossy(&c.gale(&["list"]).stdout).to_string();
    assert!(list.contains("executed/s 10s"), "{list}");
    assert!(!list.contains(" 1 workers"), "{list}");

    // A browser session: the cookie is HttpOnly and SameSite=Strict; an action needs its
    // CSRF token as well; another site's page (an Origin, no cookie) is refused.
    let (code, _, body) = request(
        &c.http,
        "POST",
        "/api/v1/session",
        &[],
        r#"{"secret": "wrong"}"#,
    );
    assert_eq!(code, 403, "{body}");
    let login = format!(r#"{{"secret": "{secret}"}}"#);
    let (code, head, body) = request(&c.http, "POST", "/api/v1/session", &[], &login);
    assert_eq!(code, 200, "{body}");
    let set_cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap_or_else(|| panic!("no cookie: {head}"));
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie
        .split_once(':')
        .and_then(|(_, v)| v.trim().split(';').next())
        .expect("a cookie value")
        .to_string();
    let csrf = json(&body)["csrf"]
        .as_str()
        .expect("a CSRF token")
        .to_string();
    let (code, _, _) = request(&c.http, "GET", &path, &[("Cookie", &cookie)], "");
    assert_eq!(code, 200, "a session reads");
    let (code, _, body) = request(&c.http, "POST", &kill, &[("Cookie", &cookie)], "{}");
    assert_eq!(code, 403, "an action without the CSRF token: {body}");
    let (code, _, _) = request(
        &c.http,
        "POST",
        &kill,
        &[("Origin", "https://evil.example")],
        "{}",
    );
    assert_eq!(code, 401);
    assert_eq!(get(&path)["status"], "running");
    let (code, _, body) = request(
        &c.http,
        "POST",
        &kill,
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        "{}",
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(json(&body)["killed"][0], id.as_str(), "{body}");
    assert_eq!(
        http_request(&c.http, "GET", &path, Some(&secret), "").0,
        404
    );
}

/// `promtool`, or how to get it.
fn promtool() -> PathBuf {
    let p = PathBuf::from("/usr/bin/promtool");
    assert!(
        p.exists(),
        "this test needs `promtool`: install Debian's `prometheus` package (`apt-get install prometheus`, as .ci/run does)"
    );
    p
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool_check(text: &str) -> String {
    let mut child = Command::new(promtool())
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("metrics written");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool refused the metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A Prometheus server in `dir`, killed on drop.
struct PrometheusServer {
    child: Child,
    addr: String,
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_prometheus(dir: &Path, sd_url: &str, secret: &str) -> PrometheusServer {
    let binary = PathBuf::from("/usr/bin/prometheus");
    assert!(
        binary.exists(),
        "this test needs a Prometheus server: install Debian's `prometheus` package (`apt-get install prometheus`, as .ci/run does)"
    );
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: gale-workers\n    http_sd_configs:\n      - url: {sd_url}\n        refresh_interval: 1s\n        authorization:\n          type: Bearer\n          credentials: {secret}\n"
    );
    std::fs::create_dir_all(dir).expect("prometheus dir");
    let config_file = dir.join("prometheus.yml");
    std::fs::write(&config_file, config).expect("prometheus config");
    let addr = format!("127.0.0.1:{}", free_port());
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("prometheus starts");
    PrometheusServer { child, addr }
}

/// What a PromQL query answers (its `data.result`).
fn query(prometheus: &str, promql: &str) -> Value {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    if std::net::TcpStream::connect(prometheus).is_err() {
        // Not listening yet.
        return Value::Null;
    }
    let (code, body) = http_request(
        prometheus,
        "GET",
        &format!("/api/v1/query?query={encoded}"),
        None,
        "",
    );
    if code != 200 {
        return Value::Null;
    }
    json(&body)["data"]["result"].clone()
}

#[test]
fn metrics_pass_promtool_and_prometheus_scrapes_the_workers_it_discovers() {
    let _one = serial();
    let c = Cluster::start("web-prometheus", 2, 2, &[]);
    let secret = c.secret.clone();
    let id = running_wordcount(&c);
    let path = format!("/api/v1/topologies/{id}");
    c.wait_for("the counters count", Duration::from_secs(60), |_| {
        let (_, body) = http_request(&c.http, "GET", &path, Some(&secret), "");
        serde_json::from_str::<Value>(&body).is_ok_and(|t| counter(&t, "count", "executed") > 0)
    });

    // Nimbus's /metrics: the cluster, the topology, its components; promtool accepts it.
    assert_eq!(http_request(&c.http, "GET", "/metrics", None, "").0, 401);
    let (code, nimbus) = http_request(&c.http, "GET", "/metrics", Some(&secret), "");
    assert_eq!(code, 200, "{nimbus}");
    promtool_check(&nimbus);
    for want in [
        "gale_supervisors{state=\"alive\"} 2",
        "# TYPE gale_component_executed_total counter",
        &format!(
            "gale_component_executed_total{{topology=\"wordcount\",topology_id=\"{id}\",component=\"count\"}}"
        ),
        "# TYPE gale_slots gauge",
    ] {
        assert!(
            nimbus.contains(want),
            "no `{want}` in nimbus's metrics:\n{nimbus}"
        );
    }

    // The service discovery lists both workers; each one's /metrics passes promtool and
    // has its tasks.
    let (code, sd) = http_request(
        &c.http,
        "GET",
        "/api/v1/prometheus/targets",
        Some(&secret),
        "",
    );
    assert_eq!(code, 200, "{sd}");
    let groups = json(&sd);
    let targets: Vec<String> = groups
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    assert_eq!(targets.len(), 2, "{sd}");
    let mut tasks_seen = 0;
    for target in &targets {
        let (code, worker) = http_request(target, "GET", "/metrics", None, "");
        assert_eq!(code, 200, "{worker}");
        promtool_check(&worker);
        assert!(
            worker.contains("# TYPE gale_task_executed_total counter"),
            "{worker}"
        );
        tasks_seen += worker
            .lines()
            .filter(|l| {
                l.starts_with("gale_task_executed_total{") && l.contains("component=\"count\"")
            })
            .count();
    }
    assert_eq!(
        tasks_seen, 4,
        "the count bolt's four tasks, over the two workers"
    );

    // A real Prometheus server finds the workers through nimbus and answers a query for
    // the count bolt's executed rate.
    let prometheus = start_prometheus(
        &c.dir.join("prometheus"),
        &format!("http://{}/api/v1/prometheus/targets", c.http),
        &secret,
    );
    let promql = format!(
        "sum(rate(gale_task_executed_total{{topology_id=\"{id}\",component=\"count\"}}[5s]))"
    );
    let start = Instant::now();
    let rate = loop {
        let result = query(&prometheus.addr, &promql);
        let rate = result[0]["value"][1]
            .as_str()
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
        if rate > 0.0 {
            break rate;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "Prometheus did not answer a rate within 90 s (last: {result}); its log:\n{}",
            std::fs::read_to_string(c.dir.join("prometheus/prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(rate > 0.0);
    let up = query(&prometheus.addr, "sum(up{job=\"gale-workers\"})");
    assert_eq!(up[0]["value"][1], "2", "both workers scraped: {up}");
}

#[test]
fn the_web_ui_in_a_real_browser_shows_the_plan_and_live_figures_and_kills() {
    let _one = serial();
    let b = gale_tests::webdriver::Browser::start().unwrap_or_else(|e| panic!("{e}"));
    let c = Cluster::start("web-ui", 2, 2, &[]);
    let id = running_wordcount(&c);
    let page = format!("http://{}/topologies/{id}", c.http);
    b.open(&page).expect("page opened");
    // Reads need the secret: the page asks for it once.
    let input = b
        .wait_for("#secret-input", Duration::from_secs(20))
        .expect("the login form");
    b.type_text(&input, &c.secret).expect("typed");
    let submit = b
        .wait_for("#login-submit", Duration::from_secs(5))
        .expect("a login button");
    b.click(&submit).expect("clicked");
    // Every component of the plan is in the graph, the fused chains too.
    for name in ["sentences", "split", "count", "print"] {
        b.wait_for(
            &format!("#graph g.node[data-component=\"{name}\"]"),
            Duration::from_secs(60),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let edges = b.find_all("#graph g.edge").expect("edges");
    assert_eq!(edges.len(), 3);
    let fields = b
        .find_all("#graph g.edge[data-from=\"split\"][data-to=\"count\"]")
        .expect("the fields edge");
    assert_eq!(fields.len(), 1);
    let label = b.text(&fields[0]).expect("its label");
    assert!(label.contains("fields(word)"), "{label}");
    let row = b
        .wait_for(
            "#components tr[data-component=\"count\"]",
            Duration::from_secs(10),
        )
        .expect("the count row");
    let row_text = b.text(&row).expect("row text");
    assert!(
        row_text.contains(&format!("wordcount.topo:{}", declared_at("count"))),
        "the row names the .topo line: {row_text}"
    );
    // The throughput figure changes as the topology runs.
    let figure = b
        .wait_for("#throughput", Duration::from_secs(5))
        .expect("a throughput figure");
    let first = b.text(&figure).expect("text");
    let start = Instant::now();
    loop {
        let now = b.text(&figure).expect("text");
        if now != first && !now.trim().is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the throughput stayed `{first}`"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    let shot = workspace_target().join("web-ui/topology.png");
    b.screenshot(&shot).expect("a screenshot");
    assert!(
        std::fs::metadata(&shot).is_ok_and(|m| m.len() > 10_000),
        "{}",
        shot.display()
    );
    // Kill, confirmed in the page: the topology is gone.
    let kill = b
        .wait_for("#kill-button", Duration::from_secs(5))
        .expect("a kill button");
    b.click(&kill).expect("clicked");
    let yes = b
        .wait_for("#confirm-yes", Duration::from_secs(5))
        .expect("a confirmation");
    b.click(&yes).expect("confirmed");
    c.wait_for("the topology is killed", Duration::from_secs(30), |c| {
        http_request(
            &c.http,
            "GET",
            &format!("/api/v1/topologies/{id}"),
            Some(&c.secret),
            "",
        )
        .0 == 404
    });
    let status = b
        .wait_for("#topology-status", Duration::from_secs(5))
        .expect("a status");
    let shown = b.text(&status).expect("text");
    assert!(
        shown.contains("killed") || b.find_all("#gone").is_ok_and(|g| !g.is_empty()),
        "{shown}"
    );
}

/// The workspace's `target` directory (where CI keeps what tests leave, like screenshots).
fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), |w| w.join("target"))
}

#[test]
fn a_local_run_serves_the_same_ui_api_and_metrics() {
    let _one = serial();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut run = Command::new(workspace_bin("wordcount"))
        .args(["run", "--ui", &addr, "--set", "repeat=1000000", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wordcount runs");
    let start = Instant::now();
    let topology = loop {
        let answer = std::net::TcpStream::connect(&addr)
            .ok()
            .map(|_| http_request(&addr, "GET", "/api/v1/topologies/wordcount", None, ""));
        if let Some((200, body)) = answer {
            let t = json(&body);
            if counter(&t, "count", "executed") > 0 {
                break t;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the local UI did not answer"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(component(&topology, "count")["line"], declared_at("count"));
    assert_eq!(
        topology["plan"]["edges"].as_array().map(Vec::len),
        Some(3),
        "{topology}"
    );
    let (code, page) = http_request(&addr, "GET", "/topologies/wordcount", None, "");
    assert_eq!(code, 200);
    assert!(page.contains("/ui/app.js"), "{page}");
    let (code, metrics) = http_request(&addr, "GET", "/metrics", None, "");
    assert_eq!(code, 200);
    promtool_check(&metrics);
    assert!(metrics.contains("gale_task_executed_total{"), "{metrics}");
    // A local run cannot be rebalanced; kill (from a script: no Origin) stops it.
    let (code, _) = http_request(
        &addr,
        "POST",
        "/api/v1/topologies/wordcount/rebalance",
        None,
        r#"{"parallelism": {"split": 1}}"#,
    );
    assert_eq!(code, 409);
    let (code, body) = http_request(
        &addr,
        "POST",
        "/api/v1/topologies/wordcount/kill",
        None,
        "{}",
    );
    assert_eq!(code, 200, "{body}");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = run.try_wait().expect("the run") {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run did not stop after kill"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
