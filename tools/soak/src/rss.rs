//! The functions' resident memory, read from /proc: every process whose executable is one of
//! the release binaries `cargo lambda watch --release` runs.

use std::collections::BTreeMap;
use std::path::Path;

/// Resident set size in KiB of each process running a binary of `dir` (this one excepted), by
/// binary name and pid.
pub fn of_functions(dir: &Path) -> BTreeMap<String, BTreeMap<u32, u64>> {
    let mut found: BTreeMap<String, BTreeMap<u32, u64>> = BTreeMap::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return found;
    };
    for process in processes.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(exe) = std::fs::read_link(process.path().join("exe")) else {
            continue;
        };
        if exe.parent() != Some(dir) {
            continue;
        }
        let Some(name) = exe.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        // The soak's own binary sits beside the functions'.
        if name == env!("CARGO_PKG_NAME") {
            continue;
        }
        let rss = std::fs::read_to_string(process.path().join("status"))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            });
        if let Some(rss) = rss {
            found.entry(name.to_owned()).or_default().insert(pid, rss);
        }
    }
    found
}
