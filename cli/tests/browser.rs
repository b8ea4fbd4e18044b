//! The web pages in a real browser: headless Chromium driven over WebDriver
//! (chromedriver on 127.0.0.1), against three node processes after a full
//! journey run with the CLI. The buyer opens the passport and finds the mine,
//! the cutter and the lab report; downloads the passport file and verifies it
//! with the CLI; the QR code read back from a screenshot gives the page's
//! address; a member searches the explorer and walks from the rough to a
//! polished stone; a stolen stone carries its warning; `Accept-Language: zh`
//! gives Chinese labels; an unknown stone gives a 404 page.
//!
//! Needs `chromium` and `chromium-driver` (scripts/setup.sh installs them);
//! without them the test fails and says so. Chromium is started with its
//! background services off and every host name but 127.0.0.1 unresolvable,
//! so it sends no traffic anywhere else.

// Test code: a failed unwrap is the test's failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The shared consortium set-up reads best in one piece (as in journey.rs).
#![allow(clippy::too_many_lines)]

mod support;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;
use thirtyfour::prelude::*;
use thirtyfour::ChromiumLikeCapabilities;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "chromedriver";
/// The whole browser part, start to finish.
const BROWSER_BUDGET: Duration = Duration::from_secs(180);

/// chromedriver, stopped when dropped.
struct Driver {
    process: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_chromedriver() -> Driver {
    let port = free_ports(1)[0];
    let process = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run {CHROMEDRIVER} ({error}): run scripts/setup.sh, which installs chromium and chromium-driver")
        });
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        process,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless Chromium session that asks for pages in `language` and saves
/// downloads to `downloads`.
async fn browser(driver: &Driver, language: &str, downloads: &Path) -> WebDriver {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/setup.sh, which installs chromium and chromium-driver"
    );
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=412,2000",
        "--force-device-scale-factor=2",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--metrics-recording-only",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_experimental_option(
        "prefs",
        serde_json::json!({
            "intl.accept_languages": language,
            "download.default_directory": downloads,
            "download.prompt_for_download": false,
        }),
    )
    .unwrap();
    // thirtyfour's HTTP client is the workspace's reqwest, built without a
    // rustls provider of its own.
    gemtrail_node::tls::install_default_provider();
    WebDriver::new(&driver.url, caps).await.unwrap()
}

/// Runs the journey the pages show: GT-1 cut into GT-1-A (graded, sold
/// under the retailer's shop name) and GT-1-B (reported stolen).
fn run_journey(consortium: &Consortium) {
    cut_and_grade_gt1(consortium);
    let to_retailer = propose(consortium, "cutter", "GT-1-A", "retailer");
    consortium.stone_ok("retailer", "accept", &["--proposal", &to_retailer]);
    consortium.stone_ok(
        "retailer",
        "sell",
        &[
            "--stone",
            "GT-1-A",
            "--shop-name",
            "Maison Aurelia",
            "--jeweller",
            "Atelier Brandt",
        ],
    );
    consortium.stone_ok(
        "auditor",
        "flag",
        &["--stone", "GT-1-B", "--reason", "stolen"],
    );
}

async fn body_text(browser: &WebDriver) -> String {
    browser
        .find(By::Tag("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The passport page as a buyer sees it, and its QR code read back.
async fn check_passport(browser: &WebDriver, url: &str) {
    browser.goto(url).await.unwrap();
    let text = body_text(browser).await;
    for expected in [
        "Diamond passport",
        "Jwaneng",
        "Botswana",
        "Sarah Levi",
        "22 years of experience",
        "IGL-118842",
        "Independent Gem Laboratory",
        "Presented by Maison Aurelia",
        "certified by nodes",
    ] {
        assert!(
            text.contains(expected),
            "missing {expected:?} on the passport:\n{text}"
        );
    }
    assert!(
        browser
            .find_all(By::Css("[role=alert]"))
            .await
            .unwrap()
            .is_empty(),
        "{text}"
    );
    assert_eq!(
        read_qr(browser).await,
        url,
        "the QR code encodes the page's own address"
    );
}

/// Follows the download link; returns the file once it is complete.
async fn download_passport(browser: &WebDriver, downloads: &Path) -> PathBuf {
    let link = browser.find(By::Css("a[download]")).await.unwrap();
    let name = link.attr("download").await.unwrap().unwrap();
    link.click().await.unwrap();
    let file = downloads.join(&name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !file.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never arrived",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    file
}

/// `passport export` writes the buyer's page as one file that works with no
/// node: opened from disk, it shows the journey, links the passport file
/// beside it, and its QR code gives the node's passport address.
async fn check_offline_page(browser: &WebDriver, dir: &Path, url: &str) {
    let html = std::fs::read_to_string(dir.join("sold.html")).unwrap();
    for external in ["<link", "<script", "src=\"http", "url(http"] {
        assert!(
            !html.contains(external),
            "the page needs {external}: {html}"
        );
    }
    assert!(std::fs::read_to_string(dir.join("sold.qr.svg"))
        .unwrap()
        .contains("<svg"));
    browser
        .goto(format!("file://{}", dir.join("sold.html").display()))
        .await
        .unwrap();
    let text = body_text(browser).await;
    assert!(
        text.contains("Jwaneng") && text.contains("Sarah Levi"),
        "{text}"
    );
    let link = browser.find(By::Css("a[download]")).await.unwrap();
    assert_eq!(
        link.attr("href").await.unwrap().as_deref(),
        Some("sold.passport")
    );
    assert_eq!(read_qr(browser).await, url);
}

async fn read_qr(browser: &WebDriver) -> String {
    let qr = browser.find(By::Css("figure.qr svg")).await.unwrap();
    let png = qr.screenshot_as_png().await.unwrap();
    let image = image::load_from_memory(&png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the screenshot");
    grids[0].decode().unwrap().1
}

/// Search the explorer for the rough, then walk to a polished stone.
async fn walk_the_explorer(browser: &WebDriver, base: &str) {
    browser.goto(format!("{base}/explorer")).await.unwrap();
    let search = browser.find(By::Css("input[name=q]")).await.unwrap();
    search.send_keys("GT-1").await.unwrap();
    browser
        .find(By::Css("form.search button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(browser, "/explorer/stones/GT-1").await;
    let lineage = body_text(browser).await;
    assert!(lineage.contains("Lineage"), "{lineage}");
    browser
        .find(By::Css("ul.plain a[href='/explorer/stones/GT-1-A']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for_path(browser, "/explorer/stones/GT-1-A").await;
    let heading = browser
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "Stone GT-1-A");
    assert!(browser.find(By::Css("svg.drawing")).await.is_ok());
}

async fn wait_for_path(browser: &WebDriver, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = browser.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "expected {path}, at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status line of a plain GET to `addr`.
fn status_line(addr: &str, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn a_buyer_and_a_member_use_the_pages_in_a_real_browser() {
    let consortium = found();
    run_journey(&consortium);
    let addr = consortium.node_of("retailer").to_owned();
    let base = format!("http://{addr}");
    ok(
        consortium.path(),
        &[
            "passport",
            "export",
            "GT-1-A",
            "-o",
            "sold.passport",
            "--node",
            &addr,
        ],
    );
    let downloads = consortium.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let driver = start_chromedriver();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let passport = runtime.block_on(async {
        tokio::time::timeout(BROWSER_BUDGET, async {
            let english = browser(&driver, "en-GB,en", &downloads).await;
            check_passport(&english, &format!("{base}/passport/GT-1-A")).await;
            let file = download_passport(&english, &downloads).await;
            walk_the_explorer(&english, &base).await;
            check_offline_page(
                &english,
                consortium.path(),
                &format!("{base}/passport/GT-1-A"),
            )
            .await;
            english
                .goto(format!("{base}/passport/GT-1-B"))
                .await
                .unwrap();
            let alert = english
                .find(By::Css("[role=alert]"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(alert.contains("reported stolen"), "{alert}");
            english
                .goto(format!("{base}/passport/NO-SUCH-STONE"))
                .await
                .unwrap();
            assert_eq!(english.title().await.unwrap(), "Not found");
            let text = body_text(&english).await;
            assert!(text.contains("There is no stone NO-SUCH-STONE"), "{text}");
            assert!(!text.contains('{'), "no error dump: {text}");
            english.quit().await.unwrap();

            let chinese = browser(&driver, "zh-CN,zh", &downloads).await;
            chinese
                .goto(format!("{base}/passport/GT-1-A"))
                .await
                .unwrap();
            let text = body_text(&chinese).await;
            for expected in ["钻石护照", "产地", "博茨瓦纳", "切割师", "鉴定报告"]
            {
                assert!(text.contains(expected), "missing {expected:?}:\n{text}");
            }
            chinese.quit().await.unwrap();
            file
        })
        .await
        .expect("the browser part took longer than its budget")
    });
    assert!(status_line(&addr, "/passport/NO-SUCH-STONE").contains(" 404 "));
    let verified = ok(
        consortium.path(),
        &[
            "verify",
            "--proof",
            passport.to_str().unwrap(),
            "--genesis",
            "genesis.toml",
        ],
    );
    assert!(
        verified.contains("Provenance of GT-1-A (verified)"),
        "{verified}"
    );
}
