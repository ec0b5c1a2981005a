//! The `loket` binary; everything lives in the library so tests can start the same app.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    loket::cli::run().await
}
