//! What `/proc` says of processes and of this host: fields of `stat` and
//! `status`, command lines and environments, descendants, host name and
//! kernel release.

use std::collections::{BTreeMap, VecDeque};

/// The NUL-separated strings of `/proc/PID/<file>` (`cmdline`, `environ`);
/// empty when the process is gone.
pub fn nul_separated(pid: u32, file: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/{file}"))
        .map(|bytes| {
            bytes
                .split(|&b| b == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The command line of a process (empty if gone).
pub fn cmdline(pid: u32) -> Vec<String> {
    nul_separated(pid, "cmdline")
}

/// This host's name, read once.
pub fn host_name() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| read_trimmed("/proc/sys/kernel/hostname"))
        .clone()
}

/// The running kernel's release (`uname -r`), read once.
pub fn kernel_release() -> String {
    static RELEASE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    RELEASE
        .get_or_init(|| read_trimmed("/proc/sys/kernel/osrelease"))
        .clone()
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Field `n` (0 = the state) after the command name of a `/proc/PID/stat`
/// text; the name may itself contain spaces and parentheses.
pub fn stat_field(stat: &str, n: usize) -> Option<&str> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(n)
}

/// The parent pid in the text of `/proc/PID/stat`.
pub fn parent_from_stat(stat: &str) -> Option<u32> {
    stat_field(stat, 1)?.parse().ok()
}

/// A `Name:`-style field of a `/proc/PID/status` text, trimmed.
pub fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
}

/// Whether `pid` is a process (a thread-group leader), not another thread.
pub fn is_process(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| status_field(&s, "Tgid:").map(|t| t == pid.to_string()))
        .unwrap_or(false)
}

/// Every living descendant of `pid` (children, their children, …), parents
/// before children. Processes that exit meanwhile are simply not listed.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
        if let Some(parent) = parent_from_stat(&stat) {
            children.entry(parent).or_default().push(child);
        }
    }
    let mut found = Vec::new();
    let mut queue = VecDeque::from([pid]);
    while let Some(next) = queue.pop_front() {
        for &child in children.get(&next).into_iter().flatten() {
            found.push(child);
            queue.push_back(child);
        }
    }
    found
}

/// The thread ids of a process (`/proc/PID/task`), empty if it is gone.
pub fn threads(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut tids: Vec<u32> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    tids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_is_read_after_a_command_name_with_spaces_and_parentheses() {
        assert_eq!(parent_from_stat("42 (a b) c)) S 7 42 42 0"), Some(7));
        assert_eq!(parent_from_stat("garbage"), None);
        assert_eq!(
            stat_field("42 (a b) c)) S 7 42 42 0 -1 4194560", 6),
            Some("4194560")
        );
        assert_eq!(status_field("Name:\tsh\nTgid:\t42\n", "Tgid:"), Some("42"));
        assert!(is_process(std::process::id()));
    }

    #[test]
    fn a_started_child_is_a_descendant_of_this_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let found = descendants(std::process::id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(found.contains(&child.id()), "{found:?}");
    }
}
