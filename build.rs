//! Lets the test suite mark its PostgreSQL and browser variants as ignored, with the reason
//! shown by `cargo test`, when no test server or no chromedriver is configured.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loket_test_postgres)");
    println!("cargo::rustc-check-cfg=cfg(loket_browser)");
    println!("cargo::rerun-if-env-changed=LOKET_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=LOKET_TEST_CHROMEDRIVER");
    if std::env::var("LOKET_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=loket_test_postgres");
    }
    if std::env::var("LOKET_TEST_CHROMEDRIVER").is_ok_and(|path| !path.is_empty()) {
        println!("cargo::rustc-cfg=loket_browser");
    }
}
