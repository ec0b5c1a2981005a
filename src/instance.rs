//! Who this process is among the instances of loket: the name it writes on the leases and
//! builds it holds, and whether the holder of one is gone. Retention sweeps and package builds
//! both hold work this way, so the names sit below both.

/// `host-pid-xxxx`: unique among instances, readable in a run record, and telling whether the
/// holder of a lease is still alive when it ran on this host.
pub fn instance_name() -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}-{}", this_host(), std::process::id(), &suffix[..8])
}

/// The name of this host, as instance names carry it.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "loket".into())
}

/// Whether the instance named `holder` ran on this host in a process that is gone (killed,
/// crashed): its lease can be taken over at once instead of waiting for it to expire. Holders
/// on other hosts are alive until their lease (renewed as a heartbeat) runs out.
pub fn holder_is_dead(holder: &str) -> bool {
    let mut parts = holder.rsplitn(3, '-');
    let (Some(_suffix), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let proc = std::path::Path::new("/proc");
    host == this_host()
        && pid != std::process::id()
        && proc.join("self").exists()
        && !proc.join(pid.to_string()).exists()
}
