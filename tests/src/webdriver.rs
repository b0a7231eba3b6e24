//! A real headless Chromium driven through chromedriver (the W3C WebDriver protocol: JSON
//! over HTTP to a chromedriver process on 127.0.0.1), for the web UI's end-to-end test.
//! Debian's `chromium` and `chromium-driver` packages provide both.

use crate::cluster::free_port;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The key of an element reference in WebDriver's answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The browser binary and its driver, or how to get them.
pub fn find() -> Result<(PathBuf, PathBuf), String> {
    let which = |names: &[&str]| {
        names.iter().find_map(|n| {
            ["/usr/bin", "/usr/local/bin", "/usr/lib/chromium"]
                .iter()
                .map(|d| Path::new(d).join(n))
                .find(|p| p.exists())
        })
    };
    let browser = which(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = which(&["chromedriver", "chromium-driver"]);
    match (browser, driver) {
        (Some(b), Some(d)) => Ok((b, d)),
        _ => Err(
            "the web UI test needs a real Chromium and its driver: install Debian's \
                  `chromium` and `chromium-driver` packages (`apt-get install chromium \
                  chromium-driver`, as .ci/run does)"
                .to_string(),
        ),
    }
}

/// A chromedriver process and one browser session, both ended on drop.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium window of 1400×1000.
    pub fn start() -> Result<Browser, String> {
        let (browser, driver) = find()?;
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start chromedriver: {e}"))?;
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        while std::net::TcpStream::connect(&addr).is_err() {
            if start.elapsed() > Duration::from_secs(20) {
                return Err("chromedriver did not listen within 20 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut b = Browser {
            driver: child,
            addr,
            session: String::new(),
        };
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1000"]
            }
        }}});
        let v = b.call("POST", "/session", &caps)?;
        b.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {v}"))?
            .to_string();
        Ok(b)
    }

    /// One WebDriver command: its `value`, or the error it answered.
    fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value, String> {
        let body = if method == "GET" || method == "DELETE" {
            String::new()
        } else {
            body.to_string()
        };
        let (code, text) = request(&self.addr, method, path, &body)
            .map_err(|e| format!("{method} {path}: chromedriver did not answer: {e}"))?;
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {path}: not JSON ({e}): {text}"))?;
        if code != 200 {
            return Err(format!("{method} {path}: {code} {}", v["value"]));
        }
        Ok(v["value"].clone())
    }

    fn at(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url`.
    pub fn open(&self, url: &str) -> Result<(), String> {
        self.call("POST", &self.at("/url"), &json!({ "url": url }))
            .map(|_| ())
    }

    /// Every element matching the CSS selector (none: empty).
    pub fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let v = self.call(
            "POST",
            &self.at("/elements"),
            &json!({"using": "css selector", "value": css}),
        )?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_string())))
            .collect())
    }

    /// The first element matching `css`, waiting up to `timeout` for it.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, String> {
        let start = Instant::now();
        loop {
            if let Some(e) = self.find_all(css)?.into_iter().next() {
                return Ok(e);
            }
            if start.elapsed() > timeout {
                return Err(format!("no `{css}` on the page within {timeout:?}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element's visible text.
    pub fn text(&self, e: &Element) -> Result<String, String> {
        let v = self.call(
            "GET",
            &self.at(&format!("/element/{}/text", e.0)),
            &Value::Null,
        )?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The element's attribute `name` (`None` when it has none).
    pub fn attribute(&self, e: &Element, name: &str) -> Result<Option<String>, String> {
        let v = self.call(
            "GET",
            &self.at(&format!("/element/{}/attribute/{name}", e.0)),
            &Value::Null,
        )?;
        Ok(v.as_str().map(str::to_string))
    }

    /// Clicks the element.
    pub fn click(&self, e: &Element) -> Result<(), String> {
        self.call(
            "POST",
            &self.at(&format!("/element/{}/click", e.0)),
            &json!({}),
        )
        .map(|_| ())
    }

    /// Types `text` into the element.
    pub fn type_text(&self, e: &Element, text: &str) -> Result<(), String> {
        self.call(
            "POST",
            &self.at(&format!("/element/{}/value", e.0)),
            &json!({ "text": text }),
        )
        .map(|_| ())
    }

    /// Runs `script` in the page and returns what it returns.
    pub fn run(&self, script: &str) -> Result<Value, String> {
        self.call(
            "POST",
            &self.at("/execute/sync"),
            &json!({"script": script, "args": []}),
        )
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &Path) -> Result<(), String> {
        use base64::Engine;
        let v = self.call("GET", &self.at("/screenshot"), &Value::Null)?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .map_err(|e| format!("the screenshot is not base64: {e}"))?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// One HTTP/1.1 request to chromedriver, answered within [`COMMAND_TIMEOUT`]. The answer
/// is read by its `Content-Length`: chromedriver keeps the connection open after it.
fn request(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr)?;
    s.set_read_timeout(Some(COMMAND_TIMEOUT))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let (head_len, length) = loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::Error::other(
                "the connection closed before the headers",
            ));
        }
        got.extend_from_slice(&buf[..n]);
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while got.len() < head_len + length {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got[..head_len]);
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let end = got.len().min(head_len + length);
    Ok((
        code,
        String::from_utf8_lossy(&got[head_len..end]).to_string(),
    ))
}

/// How long one WebDriver command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call(
                "DELETE",
                &format!("/session/{}", self.session),
                &Value::Null,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
