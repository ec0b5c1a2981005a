//! Sign-in under attack (issue 16): 256 clients send wrong passwords as fast as they can, over
//! loopback, while one signed-in agent keeps reading the queue. Reports the agent's p50/p99 and
//! the process's peak memory (server and clients share the process), for loket as configured
//! (bounded hashing pool, throttling) and with the limits lifted (every attempt hashed at once,
//! as before issue 16, though then each check also held a database connection).
//!
//! ```sh
//! cargo bench --bench sign_in                      # 256 attackers, 15 s per mode, SQLite
//! cargo bench --bench sign_in -- 64 10             # attackers, seconds
//! ```
//!
//! Bounded: only loopback, a fixed number of attackers and a fixed time. Without `--bench` (as
//! `cargo test --benches` runs it) it makes a two-second smoke run with 8 attackers.

#[path = "../tests/integration/common/mod.rs"]
mod common;
mod support;

use common::TestApp;
use loket::auth::Role;
use loket::config::Settings;
use loket::db::Backend;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let numbers: Vec<u64> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let (attackers, seconds) = match (benching, numbers.as_slice()) {
        (false, _) => (8, 2),
        (true, [a, s, ..]) => (*a as usize, *s),
        (true, [a]) => (*a as usize, 15),
        (true, []) => (256, 15),
    };
    println!("{attackers} attackers, {seconds} s per mode, SQLite\n");
    println!("{}\n", support::machine());
    println!("| mode | attempts | 401 | 429 | 503 | agent calls | agent failed | agent p50 ms | agent p99 ms | peak MiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (mode, lift_limits) in [("as configured", false), ("limits lifted", true)] {
        support::reset_peak_memory();
        let row = run(attackers, seconds, lift_limits).await;
        println!("| {mode} | {row}");
    }
}

/// Every check at once, nothing throttled: what loket did before issue 16.
fn unbounded(attackers: usize) -> impl FnOnce(&mut Settings) {
    move |settings: &mut Settings| {
        settings.sign_in.hash_workers = attackers;
        settings.sign_in.hash_queue = attackers;
        settings.sign_in.account_failures = u32::MAX;
        settings.sign_in.address_failures = u32::MAX;
    }
}

async fn run(attackers: usize, seconds: u64, lift_limits: bool) -> String {
    let app = match lift_limits {
        true => TestApp::spawn_with(Backend::Sqlite, unbounded(attackers)).await,
        false => TestApp::spawn(Backend::Sqlite).await,
    };
    let agent = app.token_for(Role::Agent).await;
    let stop = Arc::new(AtomicBool::new(false));
    let statuses: Arc<[AtomicUsize; 4]> = Arc::new(Default::default());
    let mut tasks = Vec::new();
    for n in 0..attackers {
        let (client, url) = (app.client.clone(), app.url("/api/v1/auth/token"));
        let (stop, statuses) = (stop.clone(), statuses.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let body = json!({"username": format!("nobody-{}", n % 4), "password": "a wrong password"});
                let slot = match client.post(&url).json(&body).send().await.map(|r| r.status().as_u16()) {
                    Ok(401) => 0,
                    Ok(429) => 1,
                    Ok(503) => 2,
                    _ => 3,
                };
                statuses[slot].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut latencies = Vec::new();
    let mut agent_failures = 0;
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = app
            .client
            .get(app.url("/api/v1/requests"))
            .bearer_auth(&agent)
            .send()
            .await;
        match response {
            Ok(response) if response.status() == 200 => {
                latencies.push(started.elapsed().as_secs_f64() * 1000.0)
            }
            _ => agent_failures += 1,
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let count = |i: usize| statuses[i].load(Ordering::Relaxed);
    format!(
        "{} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} |",
        count(0) + count(1) + count(2) + count(3),
        count(0),
        count(1),
        count(2),
        latencies.len(),
        agent_failures,
        at(0.5),
        at(0.99),
        support::peak_memory_mib()
    )
}
