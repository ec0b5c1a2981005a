//! What the benchmarks share: a description of the machine they ran on and the process's peak
//! memory.
#![allow(dead_code)]

/// A `key: value` line of a `/proc` file, e.g. `MemTotal` of `/proc/meminfo`.
pub fn proc_field(file: &str, key: &str) -> String {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with(key))
                .and_then(|line| line.split_once(':'))
                .map(|(_, value)| value.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Cores, CPU model, memory and the load average at the start.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = proc_field("/proc/meminfo", "MemTotal")
        .trim_end_matches(" kB")
        .parse::<f64>()
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    // Other work on the machine skews the figures; the load average shows whether there was any.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    format!(
        "machine: {cores} cores, {}, {memory_gib} RAM, load average {load} at the start; \
         client and server share these cores",
        proc_field("/proc/cpuinfo", "model name")
    )
}

/// The most memory the process has held since it started or since [`reset_peak_memory`], in MiB.
pub fn peak_memory_mib() -> f64 {
    proc_field("/proc/self/status", "VmHWM")
        .trim_end_matches(" kB")
        .parse::<f64>()
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Starts the peak over from the current size (Linux: `5` to `clear_refs`), so one phase's
/// peak can be read on its own.
pub fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub mod wrk;
