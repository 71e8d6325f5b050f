//! The dashboard in a real browser: headless Chromium (Debian's `chromium`, driven through
//! `chromedriver` over the W3C WebDriver protocol) opens the dashboard of a running
//! `doin-node`, waits for the per-domain chart to show at least 3 points and for the
//! progress chart (best on chain over time, network and per node) to draw its lines,
//! checks that a block minted after page load appears without a reload, and saves
//! screenshots to
//! `$CARGO_TARGET_DIR/ci-artifacts/` (`dashboard.png`, `fleet.png`).
//!
//! It fails, never skips, when Chromium or chromedriver is missing: `.ci/run` installs both
//! (`apt-get install chromium chromium-driver`).

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, NodeProcess};
use serde_json::{json, Value};

fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

/// `chromedriver`, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::blocking::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session.
struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Driver {
    fn start(path: &PathBuf) -> Driver {
        let port = free_port();
        let child = Command::new(path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http,
        };
        let start = Instant::now();
        while driver.call("GET", "/status", None).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let r = req.send().map_err(|e| e.to_string())?;
        let status = r.status();
        let v: Value = r.json().map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {v}"));
        }
        Ok(v["value"].clone())
    }

    fn session(&self, chromium: &PathBuf) -> Session<'_> {
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1800"]
            }
        }}});
        let v = self
            .call("POST", "/session", Some(caps))
            .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e}"));
        Session {
            driver: self,
            id: v["sessionId"].as_str().expect("session id").to_owned(),
        }
    }
}

impl Session<'_> {
    fn post(&self, what: &str, body: Value) -> Value {
        let path = format!("/session/{}/{what}", self.id);
        self.driver
            .call("POST", &path, Some(body))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn open(&self, url: &str) {
        self.post("url", json!({"url": url}));
    }

    fn eval(&self, script: &str) -> Value {
        self.post("execute/sync", json!({"script": script, "args": []}))
    }

    /// Waits until `script` returns something truthy; returns it.
    fn wait_for(&self, what: &str, timeout: Duration, script: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.eval(script);
            if !(v.is_null() || v == json!(false) || v == json!(0)) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {what}; page text: {}",
                self.eval("return document.body.innerText.slice(0, 2000)")
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn screenshot(&self, name: &str) -> PathBuf {
        let path = format!("/session/{}/screenshot", self.id);
        let b64 = self.driver.call("GET", &path, None).expect("screenshot");
        let png = base64_decode(b64.as_str().expect("base64 string"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir).expect("artifacts dir");
        let file = dir.join(name);
        std::fs::write(&file, png).expect("write screenshot");
        eprintln!("screenshot saved: {}", file.display());
        file
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .call("DELETE", &format!("/session/{}", self.id), None);
    }
}

/// `$CARGO_TARGET_DIR/ci-artifacts` (the target dir is the parent of Cargo's test tmpdir).
fn artifacts_dir() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(&tmp).join("ci-artifacts")
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|c| *c != b'=').collect();
        let mut n = 0u32;
        for (i, c) in data.iter().enumerate() {
            n |= val(*c) << (18 - 6 * i);
        }
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..data.len()]);
    }
    out
}

#[test]
fn dashboard_charts_rounds_and_shows_new_blocks_live_in_headless_chromium() {
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"])
        .expect("Chromium is missing: install Debian's chromium (.ci/run does)");
    let chromedriver = which(&["chromedriver"])
        .expect("chromedriver is missing: install Debian's chromium-driver (.ci/run does)");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut node = NodeProcess::start(dir.path(), free_port(), &[]);
    node.wait_ready();
    let driver = Driver::start(&chromedriver);
    let session = driver.session(&chromium);
    session.open(&node.url("/dashboard"));

    // The chart of best performance by round fills from the snapshot and the live rounds.
    let points = session.wait_for(
        "the domain chart to show 3 points",
        Duration::from_secs(60),
        "const s = document.querySelector('#domains svg.by-round'); \
         const n = s ? Number(s.dataset.points || 0) : 0; return n >= 3 ? n : 0;",
    );
    eprintln!("chart points: {points}");
    // The progress chart (best on chain over time, network and per node) draws the
    // network's line and this node's from the node's accepted optimae.
    let progress = session.wait_for(
        "the progress chart to show the network's and this node's records",
        Duration::from_secs(60),
        "const s = document.querySelector('#domains svg.progress'); \
         if (!s || Number(s.dataset.points || 0) < 1 || Number(s.dataset.nodes || 0) < 1) return 0; \
         return s.querySelectorAll('polyline.network, polyline.node').length;",
    );
    eprintln!("progress chart lines: {progress}");
    let loaded_at = session.eval("return window.dashboardLoadedAt");
    let shown = session.eval(
        "return Math.max(-1, ...[...document.querySelectorAll('#blocks tbody tr')].map(r => Number(r.dataset.index)))",
    );
    let shown = shown.as_i64().expect("block index");
    let tip_at_load = node.get("/chain/status").expect("chain status")["tip_index"]
        .as_i64()
        .expect("tip index");

    // A block minted after the page loaded appears without a reload.
    let newer = tip_at_load.max(shown) + 1;
    session.wait_for(
        "a block minted after page load",
        Duration::from_secs(120),
        &format!(
            "return document.querySelector('#blocks tbody tr[data-index=\"{newer}\"]') !== null"
        ),
    );
    assert_eq!(
        session.eval("return window.dashboardLoadedAt"),
        loaded_at,
        "the page reloaded"
    );
    let height = session.eval("return document.getElementById('height').textContent");
    eprintln!("block {newer} shown live; height card {height}");
    session.screenshot("dashboard.png");

    // The fleet view of this node (and its peers: none) agrees with itself.
    session.open(&node.url("/dashboard/fleet"));
    let verdict = session.wait_for(
        "the fleet verdict",
        Duration::from_secs(30),
        "const v = document.getElementById('verdict').textContent; return v.includes('online') ? v : null;",
    );
    assert!(
        verdict.as_str().is_some_and(|v| v.contains("all agree")),
        "{verdict}"
    );
    session.screenshot("fleet.png");
}
