//! A real browser for the desk's tests: Debian's chromium, headless, driven over WebDriver by
//! chromedriver on a free loopback port. Screenshots go to `target/screenshots/` (not committed).

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a page may take to load or to answer a form.
const PATIENCE: Duration = Duration::from_secs(20);

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver (`LOKET_TEST_CHROMEDRIVER`) and a headless chromium session against
    /// the desk at `base`.
    pub async fn open(base: &str) -> Browser {
        let driver_path = std::env::var("LOKET_TEST_CHROMEDRIVER")
            .expect("LOKET_TEST_CHROMEDRIVER names chromedriver (set by .ci/run)");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_path}: {e}"));
        let profile = tempfile::tempdir().expect("browser profile dir");
        let chromium = std::env::var("LOKET_TEST_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1366,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        });
        let capabilities = match capabilities {
            serde_json::Value::Object(map) => map,
            _ => unreachable!(),
        };
        let started = Instant::now();
        let client = loop {
            let attempt =
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.clone())
                    .connect(&format!("http://127.0.0.1:{port}"))
                    .await;
            match attempt {
                Ok(client) => break client,
                // chromedriver takes a moment to listen.
                Err(_) if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(error) => panic!("no browser session: {error}"),
            }
        };
        Browser {
            client,
            base: base.to_string(),
            driver,
            _profile: profile,
        }
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
    }

    pub async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("url")
            .path()
            .to_string()
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
            .is_empty()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.find(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    /// Clicks `css` and waits for the page that follows (a form posted by desk.js reloads or
    /// moves on when the API accepts it). Fails with the form's error when the API refused.
    pub async fn click_and_wait(&self, css: &str) {
        self.client
            .execute("window.__loketStale = true;", vec![])
            .await
            .expect("mark page");
        self.find(css).await.click().await.expect("click");
        let started = Instant::now();
        loop {
            let fresh = self
                .client
                .execute(
                    "return window.__loketStale === undefined && document.readyState === 'complete';",
                    vec![],
                )
                .await
                .unwrap_or(serde_json::Value::Bool(false));
            if fresh == serde_json::Value::Bool(true) {
                return;
            }
            if started.elapsed() > PATIENCE {
                let alerts = self
                    .client
                    .execute(
                        "return [...document.querySelectorAll('[role=alert]')].map(a => a.textContent).join(' | ');",
                        vec![],
                    )
                    .await
                    .unwrap_or_default();
                panic!("no new page after clicking {css}; the page says: {alerts}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Signs in through the form with the test password.
    pub async fn sign_in(&self, username: &str) {
        self.sign_in_with(username, super::PASSWORD).await;
    }

    /// Signs in through the form.
    pub async fn sign_in_with(&self, username: &str, password: &str) {
        self.goto("/desk").await;
        assert_eq!(
            self.path().await,
            "/desk/sign-in",
            "a visitor is sent to sign in"
        );
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click_and_wait("#sign-in button[type=submit]").await;
        assert_eq!(self.path().await, "/desk", "{username} lands on the queue");
    }

    /// The session cookie, for checks made beside the browser.
    pub async fn session_cookie(&self) -> String {
        let cookie = self
            .client
            .get_named_cookie("loket_session")
            .await
            .expect("a session cookie");
        format!("loket_session={}", cookie.value())
    }

    /// Saves what the browser shows as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
