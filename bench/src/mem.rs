//! Peak memory of the current process, from `/proc/self/status` (Linux).

/// The process's peak resident set size (`VmHWM`) in bytes, if the kernel reports it.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

/// The process's current resident set size (`VmRSS`) in bytes, if the kernel reports it.
pub fn current_rss() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
