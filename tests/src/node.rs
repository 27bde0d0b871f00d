//! A FaaS node for the system-wide tests: cgroup v2 groups for functions,
//! function instances started in them, and `coldspy record --all` around.
//!
//! On this machine kind the cgroup hierarchy is hybrid (v1 controllers plus
//! a v2 tree mounted beside them): the v2 mount is read from `/proc/mounts`.

use serde_json::Value;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where cgroup v2 is mounted.
pub fn cgroup2_mount() -> PathBuf {
    let mounts = std::fs::read_to_string("/proc/mounts").expect("/proc/mounts");
    mounts
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
        })
        .expect("no cgroup2 hierarchy mounted (see /proc/mounts)")
}

/// A cgroup subtree of the test's own, removed when dropped.
pub struct CgroupTree {
    /// Its directory under the cgroup2 mount.
    pub root: PathBuf,
    groups: Vec<PathBuf>,
}

impl CgroupTree {
    /// `<v2 mount>/coldspy-e2e-<pid>-<name>`.
    pub fn new(name: &str) -> Self {
        let root = cgroup2_mount().join(format!("coldspy-e2e-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&root).expect("create a cgroup (run as root)");
        Self {
            root,
            groups: Vec::new(),
        }
    }

    /// A child group (a function's cgroup).
    pub fn group(&mut self, name: &str) -> PathBuf {
        let dir = self.root.join(name);
        std::fs::create_dir_all(&dir).expect("create a cgroup");
        self.groups.push(dir.clone());
        dir
    }

    /// The cgroup path as `/proc/PID/cgroup` shows it (`/coldspy-e2e-…/name`).
    pub fn relative(&self, group: &Path) -> String {
        format!(
            "/{}",
            group.strip_prefix(cgroup2_mount()).unwrap().display()
        )
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        for group in self.groups.iter().rev() {
            let _ = std::fs::remove_dir(group);
        }
        let _ = std::fs::remove_dir(&self.root);
    }
}

/// Starts `argv` inside `cgroup` (through `sh`, which moves itself there
/// and execs it), with `env` added; stdout discarded, stderr piped.
pub fn spawn_in(cgroup: &Path, env: &[(&str, &str)], argv: &[String]) -> Child {
    Command::new("sh")
        .arg("-c")
        .arg("echo $$ > \"$0\" && exec \"$@\"")
        .arg(cgroup.join("cgroup.procs"))
        .args(argv)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn an instance")
}

/// A running `coldspy record --all`.
pub struct Daemon {
    child: Option<Child>,
    /// Its output directory.
    pub dir: PathBuf,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon writing into `dir` with `extra` arguments; returns
    /// once it says it is recording.
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.with_extension("log");
        let child = Command::new(crate::coldspy_bin())
            .args(["-v", "record", "--all", "--output-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start coldspy record --all");
        let daemon = Self {
            child: Some(child),
            dir: dir.to_path_buf(),
            log,
        };
        let begun = Instant::now();
        while !daemon.log_text().contains("recording every Python process") {
            assert!(
                begun.elapsed() < Duration::from_secs(60),
                "the daemon did not start: {}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        daemon
    }

    /// Its pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// What it printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it with SIGINT; returns its exit status and log.
    pub fn stop(mut self) -> (std::process::ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        // SAFETY: plain kill(2) of our child.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().unwrap();
        (status, self.log_text())
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill9(mut self) {
        let mut child = self.child.take().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }

    /// The lines of `index.jsonl` so far.
    pub fn index(&self) -> Vec<Value> {
        index_of(&self.dir)
    }

    /// Waits until the index has a line for each of `pids` (or panics).
    pub fn wait_for(&self, pids: &[u32], timeout: Duration) -> Vec<Value> {
        let begun = Instant::now();
        loop {
            let index = self.index();
            let seen = |pid: &u32| index.iter().any(|l| l["pid"].as_u64() == Some(*pid as u64));
            if pids.iter().all(seen) {
                return index;
            }
            assert!(
                begun.elapsed() < timeout,
                "no index line for {:?} after {timeout:?}; index: {index:?}; log: {}",
                pids.iter().filter(|p| !seen(p)).collect::<Vec<_>>(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the index line of `pid` whose command line contains
    /// `command` and returns it. A pid can have several lines: a Python
    /// parent's fork child that ran Python code before its exec (a
    /// `subprocess.Popen` `preexec_fn`) is a recorded image of its own.
    pub fn wait_for_command(&self, pid: u32, command: &str, timeout: Duration) -> Value {
        let begun = Instant::now();
        loop {
            let found = self.index().into_iter().find(|l| {
                l["pid"].as_u64() == Some(pid as u64)
                    && l["command"].as_array().is_some_and(|argv| {
                        argv.iter()
                            .any(|a| a.as_str().is_some_and(|a| a.contains(command)))
                    })
            });
            if let Some(line) = found {
                return line;
            }
            assert!(
                begun.elapsed() < timeout,
                "no index line for pid {pid} running {command} after {timeout:?}; index: {:?}; log: {}",
                self.index(),
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain kill(2) of our child.
            unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
            let _ = child.wait();
        }
    }
}

/// The lines of `DIR/index.jsonl`.
pub fn index_of(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("index.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits for an instance; returns its stderr (the `-X importtime` oracle).
pub fn finish(mut child: Child) -> (std::process::ExitStatus, String) {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    (child.wait().unwrap(), stderr)
}

/// Processes in state T (stopped) whose command line contains `needle`.
pub fn stopped_processes(needle: &str) -> Vec<(u32, String)> {
    let mut stopped = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if state == Some("T") && cmdline.contains(needle) {
            stopped.push((pid, cmdline));
        }
    }
    stopped
}
