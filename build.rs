//! Lets the test suite mark its PostgreSQL variants as ignored, with the reason shown by
//! `cargo test`, when no test server is configured.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loket_test_postgres)");
    println!("cargo::rerun-if-env-changed=LOKET_TEST_POSTGRES_URL");
    if std::env::var("LOKET_TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=loket_test_postgres");
    }
}
