//! Driving a phase of the load benchmark with `wrk` instead of in-process clients.
//!
//! The in-process clients (reqwest on the benchmark's own Tokio runtime) cost about as much CPU
//! per call as the server's answer, and on two cores they take it from the server. `wrk` (C,
//! one event loop per thread) costs a fraction of that, so its figures are closer to what the
//! server can do when its clients are elsewhere; the two together show how much of a figure is
//! the client's. Every call is still checked: `wrk` counts answers with a status of 400 or more
//! and socket errors, and any of them fails the phase.

use std::io::Write;
use std::process::Command;
use std::time::Duration;

/// What one `wrk` run measured.
#[derive(Debug, Clone)]
pub struct Run {
    pub calls: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Answers with a status of 400 or more.
    pub failed_answers: usize,
    /// Connections refused, reset or timed out.
    pub socket_errors: usize,
}

/// How `wrk` is run: threads, connections and duration.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub threads: usize,
    pub connections: usize,
    pub seconds: u64,
}

/// A phase's calls, as the Lua script that makes them.
pub enum Calls<'a> {
    /// `GET` of each path in turn, with the headers given.
    Get {
        paths: &'a [String],
        headers: &'a [(&'a str, &'a str)],
    },
    /// `POST` of a JSON body made per call by `body_lua`, a Lua expression over `person` (a
    /// number no other call of the run uses, from `first_person` on).
    Post {
        path: &'a str,
        headers: &'a [(&'a str, &'a str)],
        body_lua: &'a str,
        first_person: usize,
    },
}

/// Whether `wrk` is on the PATH.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|output| !output.stdout.is_empty() || !output.stderr.is_empty())
        .unwrap_or(false)
}

/// Runs `wrk` against `base_url` (e.g. `http://127.0.0.1:8080`) with the script of `calls`.
pub fn run(base_url: &str, shape: Shape, calls: &Calls<'_>) -> Result<Run, String> {
    let mut script = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .map_err(|e| format!("wrk script: {e}"))?;
    script
        .write_all(lua(calls).as_bytes())
        .map_err(|e| format!("wrk script: {e}"))?;
    let output = Command::new("wrk")
        .args(["-t", &shape.threads.to_string()])
        .args(["-c", &shape.connections.to_string()])
        .args(["-d", &format!("{}s", shape.seconds)])
        .args(["--timeout", "30s"])
        .arg("-s")
        .arg(script.path())
        .arg(base_url)
        .output()
        .map_err(|e| format!("wrk could not be started: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    parse(&stdout)
}

/// The script: the calls, one connection's share each thread, and a `done` that prints one
/// line for [`parse`] (wrk's own report rounds and changes units).
fn lua(calls: &Calls<'_>) -> String {
    let header_lines = |headers: &[(&str, &str)]| -> String {
        headers
            .iter()
            .map(|(name, value)| format!("wrk.headers[{}] = {}\n", quote(name), quote(value)))
            .collect()
    };
    let make_request = match calls {
        Calls::Get { paths, headers } => {
            let list: Vec<String> = paths.iter().map(|p| quote(p)).collect();
            format!(
                "{}local paths = {{{}}}\n\
                 request = function()\n\
                 \x20 sent = sent + 1\n\
                 \x20 return wrk.format(\"GET\", paths[(thread_number * 7919 + sent) % #paths + 1])\n\
                 end\n",
                header_lines(headers),
                list.join(",\n")
            )
        }
        Calls::Post {
            path,
            headers,
            body_lua,
            first_person,
        } => format!(
            "{}wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             request = function()\n\
             \x20 sent = sent + 1\n\
             \x20 local person = {first_person} + thread_number * 10000000 + sent\n\
             \x20 return wrk.format(\"POST\", {}, nil, {body_lua})\n\
             end\n",
            header_lines(headers),
            quote(path)
        ),
    };
    format!(
        "local threads = 0\n\
         function setup(thread)\n\
         \x20 thread:set(\"thread_number\", threads)\n\
         \x20 threads = threads + 1\n\
         end\n\
         thread_number = 0\n\
         sent = 0\n\
         {make_request}\
         function done(summary, latency, requests)\n\
         \x20 local e = summary.errors\n\
         \x20 io.write(string.format(\"LOKET-WRK %d %d %d %d %d %d %d %d\\n\", summary.requests,\n\
         \x20   summary.duration, latency:percentile(50), latency:percentile(90),\n\
         \x20   latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write + e.timeout))\n\
         end\n"
    )
}

/// A Lua string literal (the texts are ASCII: paths, tokens, JSON of ASCII values).
fn quote(text: &str) -> String {
    format!("{text:?}")
}

/// Reads the line `done` printed: calls, microseconds elapsed, p50, p90, p99 and max in
/// microseconds, failed answers, socket errors.
fn parse(stdout: &str) -> Result<Run, String> {
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("LOKET-WRK "))
        .ok_or_else(|| format!("wrk printed no summary:\n{stdout}"))?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .map(|n| n.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("wrk summary '{line}': {e}"))?;
    let [calls, elapsed, p50, p90, p99, max, failed_answers, socket_errors] = numbers[..] else {
        return Err(format!("wrk summary '{line}': expected eight numbers"));
    };
    let micros = Duration::from_micros;
    Ok(Run {
        calls: calls as usize,
        elapsed: micros(elapsed),
        p50: micros(p50),
        p90: micros(p90),
        p99: micros(p99),
        max: micros(max),
        failed_answers: failed_answers as usize,
        socket_errors: socket_errors as usize,
    })
}
