//! `coldspy record --all` on a small FaaS node: cgroup v2 groups per
//! function, short-lived instances started in them (some through `env`, a
//! pre-fork parent, several at once), each instance's own `-X importtime`
//! as the oracle of its profile; and the faults a node sees.

// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::node::{self, CgroupTree, Daemon};
use coldspy_tests::{core_interpreters, importtime, read_json, require_root, scratch, script};
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// One daemon at a time in this binary (each holds every exec it wants).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn instance(python: &str, extra: &[&str]) -> Vec<String> {
    let mut argv = vec![python.to_string()];
    argv.extend(extra.iter().map(|s| s.to_string()));
    argv.push(script("faas_instance.py").display().to_string());
    argv
}

fn line_of(index: &[Value], pid: u32) -> &Value {
    index
        .iter()
        .find(|l| l["pid"].as_u64() == Some(pid as u64))
        .unwrap_or_else(|| panic!("no index line for pid {pid}: {index:?}"))
}

/// Every instance started in the watched cgroups is profiled from its first
/// import: its module set, parents and times match its own `-X importtime`,
/// and its labels name its cgroup and function. Instances in another
/// cgroup are neither held nor profiled.
#[test]
fn every_instance_in_the_watched_cgroups_is_profiled_from_its_first_instruction() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-capture");
    let mut tree = CgroupTree::new("capture");
    let alpha = tree.group("alpha");
    let beta = tree.group("beta");
    let outside = tree.group("outside");
    let daemon = Daemon::start(
        &dir.join("out"),
        &[
            "--cgroup",
            alpha.to_str().unwrap(),
            "--cgroup",
            &tree.relative(&beta),
        ],
    );
    // Shared (pyenv 3.11, 3.12) and static (Debian 3.11) interpreters,
    // twice each: the second start of a file takes the kernel's fast path.
    // A timing difference (never a module or parent) is measured once more,
    // as every -X importtime comparison does: a preemption on this shared
    // machine can fall between the two tools' clocks.
    let mut worst = 0.0f64;
    let mut checked = 0;
    for interpreter in core_interpreters() {
        let python = interpreter.command[0].clone();
        for _ in 0..2 {
            let run = || {
                let child = node::spawn_in(
                    &alpha,
                    &[("K_SERVICE", "alpha")],
                    &instance(&python, &["-X", "importtime"]),
                );
                let pid = child.id();
                let (status, stderr) = node::finish(child);
                assert!(status.success(), "{}: {stderr}", interpreter.name);
                let index = daemon.wait_for(&[pid], Duration::from_secs(30));
                let line = line_of(&index, pid).clone();
                assert_eq!(line["labels"]["function"], "alpha", "{line}");
                assert_eq!(line["labels"]["function_source"], "env:K_SERVICE", "{line}");
                assert_eq!(
                    line["labels"]["cgroup"],
                    tree.relative(&alpha).as_str(),
                    "{line}"
                );
                assert_eq!(line["partial"], false);
                (
                    read_json(std::path::Path::new(line["path"].as_str().unwrap())),
                    stderr,
                )
            };
            let (error, profile) = importtime::compare_retrying_timing(&interpreter.name, run)
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(profile["meta"]["labels"]["function"], "alpha");
            worst = worst.max(error);
            checked += 1;
        }
    }
    eprintln!("worst import-time error over {checked} sequential instances: {worst:.1} %");
    // Through a wrapper (`env` execs python), four at once on two cores:
    // modules and parents must match; times are only reported (the four
    // preempt one another between the two tools' clocks).
    let python = core_interpreters()[1].command[0].clone();
    let mut wrapper_argv = vec!["env".to_string(), "FUNCTION_TARGET=beta".to_string()];
    wrapper_argv.extend(instance(&python, &["-X", "importtime"]));
    let concurrent: Vec<_> = (0..4)
        .map(|_| node::spawn_in(&beta, &[], &wrapper_argv))
        .collect();
    let mut oracle_runs = Vec::new();
    for child in concurrent {
        let pid = child.id();
        let (status, stderr) = node::finish(child);
        assert!(status.success(), "{stderr}");
        oracle_runs.push((pid, stderr));
    }
    // A pre-fork parent: its two workers are profiled as processes of their own.
    let prefork = node::spawn_in(&beta, &[("K_SERVICE", "prefork")], &{
        let mut argv = instance(&python, &[]);
        argv.extend(["--workers".to_string(), "2".to_string()]);
        argv
    });
    let prefork_pid = prefork.id();
    assert!(node::finish(prefork).0.success());
    // Outside the filter.
    let outsiders: Vec<u32> = (0..2)
        .map(|_| {
            let child = node::spawn_in(
                &outside,
                &[("K_SERVICE", "outside")],
                &instance(&python, &[]),
            );
            let pid = child.id();
            assert!(node::finish(child).0.success());
            pid
        })
        .collect();
    let mut pids: Vec<u32> = oracle_runs.iter().map(|r| r.0).collect();
    pids.push(prefork_pid);
    let index = daemon.wait_for(&pids, Duration::from_secs(30));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    for (pid, stderr) in &oracle_runs {
        let line = line_of(&index, *pid);
        assert_eq!(line["labels"]["function"], "beta", "{line}");
        assert_eq!(
            line["labels"]["cgroup"],
            tree.relative(&beta).as_str(),
            "{line}"
        );
        let profile = read_json(std::path::Path::new(line["path"].as_str().unwrap()));
        match importtime::compare(&format!("concurrent pid {pid}"), &profile, stderr) {
            Ok(error) => eprintln!("concurrent pid {pid}: worst import-time error {error:.1} %"),
            Err(e) if e.contains(" us vs -X importtime ") => eprintln!("{e} (timing only)"),
            Err(e) => panic!("{e}"),
        }
    }
    // The pre-fork parent and both workers, each with its own profile.
    let workers: Vec<&Value> = index
        .iter()
        .filter(|l| l["labels"]["parent_pid"].as_str() == Some(&prefork_pid.to_string()))
        .collect();
    assert_eq!(workers.len(), 2, "two workers of {prefork_pid}: {index:?}");
    for worker in workers {
        assert_eq!(worker["labels"]["function"], "prefork");
        let profile = read_json(std::path::Path::new(worker["path"].as_str().unwrap()));
        let modules: HashSet<&str> = profile["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["module"].as_str())
            .collect();
        assert!(
            modules.contains("lazymod"),
            "the worker's own import: {modules:?}"
        );
        let samples = profile["stats"]["samples"].as_u64().unwrap();
        eprintln!("pre-fork worker {}: {samples} samples", worker["pid"]);
        assert!(
            samples > 0,
            "the worker's own samples: {}",
            profile["stats"]
        );
    }
    for pid in outsiders {
        assert!(
            !index.iter().any(|l| l["pid"].as_u64() == Some(pid as u64)),
            "pid {pid} ran outside the watched cgroups and was profiled"
        );
    }
    let status = read_json(&dir.join("out/status.json"));
    assert!(
        status["kernel"]["outside_cgroup"].as_u64().unwrap() >= 2,
        "{status}"
    );
}

/// An instance killed with SIGKILL still gives a whole profile (it ends at
/// the kill); its cgroup removed right after does not lose its label.
#[test]
fn a_killed_instance_and_a_removed_cgroup_still_give_whole_profiles() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-killed");
    let mut tree = CgroupTree::new("killed");
    let group = tree.group("victim");
    let daemon = Daemon::start(&dir.join("out"), &["--cgroup", group.to_str().unwrap()]);
    let python = core_interpreters()[1].command[0].clone();
    let mut child = node::spawn_in(&group, &[], &{
        let mut argv = instance(&python, &[]);
        argv.extend(["--sleep".to_string(), "30".to_string()]);
        argv
    });
    let pid = child.id();
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let short = node::spawn_in(&group, &[], &instance(&python, &[]));
    let short_pid = short.id();
    assert!(node::finish(short).0.success());
    let relative = tree.relative(&group);
    drop(tree);
    assert!(!group.exists(), "the cgroup is removed");
    let index = daemon.wait_for(&[pid, short_pid], Duration::from_secs(30));
    for pid in [pid, short_pid] {
        let line = line_of(&index, pid);
        assert_eq!(line["labels"]["cgroup"], relative.as_str());
        let profile = read_json(std::path::Path::new(line["path"].as_str().unwrap()));
        let modules: Vec<&str> = profile["imports"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["module"].as_str())
            .collect();
        assert!(modules.contains(&"slowpkg"), "{modules:?}");
    }
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
}

/// Output disk full: the profiles that do not fit are counted as lost, in
/// the index when it can be written and in the status, and the daemon
/// goes on recording.
#[test]
fn a_full_disk_loses_profiles_counted_and_the_daemon_goes_on() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-full");
    let mount = dir.join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mount)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount a 256 KiB tmpfs");
    let mut tree = CgroupTree::new("full");
    let group = tree.group("fn");
    let daemon = Daemon::start(&mount.join("out"), &["--cgroup", group.to_str().unwrap()]);
    let python = core_interpreters()[1].command[0].clone();
    let mut last = 0;
    for _ in 0..8 {
        let child = node::spawn_in(&group, &[], &instance(&python, &[]));
        last = child.id();
        assert!(node::finish(child).0.success());
    }
    // Every instance is handled once the status line accounts for all 8.
    let begun = std::time::Instant::now();
    let mut written = Value::Null;
    while begun.elapsed() < Duration::from_secs(30) {
        // SAFETY: plain kill(2): SIGUSR1 prints the status.
        unsafe { libc::kill(daemon.pid() as i32, libc::SIGUSR1) };
        std::thread::sleep(Duration::from_millis(300));
        let log = daemon.log_text();
        if let Some(line) = log.lines().rev().find(|l| l.contains("processes profiled")) {
            written = Value::from(line.to_string());
            let numbers = numbers_in(line);
            if numbers.len() > 3 && numbers[2] + numbers[3] == 8 {
                break;
            }
        }
    }
    let text = written.as_str().unwrap_or_default().to_string();
    let (status, log) = daemon.stop();
    let _ = std::process::Command::new("umount").arg(&mount).status();
    assert!(status.success(), "the daemon survives a full disk: {log}");
    let numbers = numbers_in(&text);
    // "8 processes profiled (0 live), W written, L lost, …"
    assert_eq!(numbers.first(), Some(&8), "{text} (last pid {last})");
    let (written, lost) = (numbers[2], numbers[3]);
    assert_eq!(written + lost, 8, "{text}");
    assert!(lost > 0, "256 KiB cannot hold 8 profiles: {text}");
    assert!(written > 0, "{text}");
}

/// A burst of 500 instances started at once (each lives ≈ 1.5 s, so
/// dozens overlap) with `--max-processes 20`: each is either profiled or
/// counted as skipped, none is left stopped, and all finish normally.
#[test]
fn a_burst_above_max_processes_is_counted_and_nothing_stays_stopped() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-burst");
    let mut tree = CgroupTree::new("burst");
    let group = tree.group("fn");
    let daemon = Daemon::start(
        &dir.join("out"),
        &[
            "--cgroup",
            group.to_str().unwrap(),
            "--max-processes",
            "20",
            "--no-files",
        ],
    );
    let python = core_interpreters()[1].command[0].clone();
    let argv: Vec<String> = [python.as_str(), "-S", "-c", "import time; time.sleep(1.5)"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let children: Vec<_> = (0..500)
        .map(|_| node::spawn_in(&group, &[], &argv))
        .collect();
    for child in children {
        let (status, stderr) = node::finish(child);
        assert!(status.success(), "{stderr}");
    }
    std::thread::sleep(Duration::from_secs(2));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let status = read_json(&dir.join("out/status.json"));
    let profiled = status["daemon"]["profiled"].as_u64().unwrap();
    let skipped = status["daemon"]["skipped_max_processes"].as_u64().unwrap();
    // Not held: the heartbeat went stale under the burst (counted by the
    // hooks; those instances ran unprofiled, which the status says).
    let unheld = status["kernel"]["unheld"].as_u64().unwrap();
    assert_eq!(
        profiled + skipped + unheld,
        500,
        "every instance counted once: {status}"
    );
    assert!(skipped > 0 && profiled >= 20, "{status}");
    assert_eq!(
        status["written"]["profiles"].as_u64().unwrap(),
        profiled,
        "{status}"
    );
    eprintln!(
        "500 at once: {profiled} profiled, {skipped} skipped, {unheld} not held; holds mean {} us, max {} us",
        status["daemon"]["total_held_us"].as_u64().unwrap()
            / status["daemon"]["holds"].as_u64().unwrap().max(1),
        status["daemon"]["max_held_us"]
    );
}

/// `kill -9` of the daemon during a burst: its guardian resumes every held
/// process, no program of the daemon stays loaded, and a new daemon picks
/// up new instances.
#[test]
fn killing_the_daemon_leaves_nothing_stopped_or_attached() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-kill9");
    let mut tree = CgroupTree::new("kill9");
    let group = tree.group("fn");
    let daemon = Daemon::start(&dir.join("out"), &["--cgroup", group.to_str().unwrap()]);
    let programs = program_ids_of(daemon.pid());
    assert!(!programs.is_empty(), "the daemon holds its programs");
    let python = core_interpreters()[1].command[0].clone();
    // The daemon frozen mid-burst: the hooks go on holding the instances
    // (its heartbeat is still fresh), then it dies with them held.
    let mut children: Vec<_> = (0..10)
        .map(|_| node::spawn_in(&group, &[], &instance(&python, &[])))
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: plain kill(2) of our child.
    unsafe { libc::kill(daemon.pid() as i32, libc::SIGSTOP) };
    children.extend((0..10).map(|_| node::spawn_in(&group, &[], &instance(&python, &[]))));
    let needle = script("faas_instance.py").display().to_string();
    let begun = std::time::Instant::now();
    let mut held = Vec::new();
    while held.is_empty() && begun.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_millis(20));
        held = node::stopped_processes(&needle);
    }
    assert!(
        !held.is_empty(),
        "the frozen daemon's hooks hold new instances"
    );
    daemon.kill9();
    for child in children {
        let (status, stderr) = node::finish(child);
        assert!(status.success(), "an instance of the burst: {stderr}");
    }
    assert_eq!(
        node::stopped_processes(&needle),
        vec![],
        "left stopped after {} were held",
        held.len()
    );
    let begun = std::time::Instant::now();
    while begun.elapsed() < Duration::from_secs(5) && !loaded(&programs).is_empty() {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        loaded(&programs),
        Vec::<u32>::new(),
        "programs of the killed daemon still loaded"
    );
    // A new daemon records new instances.
    let daemon = Daemon::start(&dir.join("out2"), &["--cgroup", group.to_str().unwrap()]);
    let child = node::spawn_in(&group, &[], &instance(&python, &[]));
    let pid = child.id();
    assert!(node::finish(child).0.success());
    daemon.wait_for(&[pid], Duration::from_secs(30));
}

/// The ids of the BPF programs a process holds (its fdinfo's `prog_id`).
fn program_ids_of(pid: u32) -> Vec<u32> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fdinfo"))
        .unwrap()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        ids.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("prog_id:")?.trim().parse::<u32>().ok()),
        );
    }
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Which of `ids` are still loaded in the kernel.
fn loaded(ids: &[u32]) -> Vec<u32> {
    let live: Vec<u32> = aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .map(|info| info.id())
        .collect();
    ids.iter().copied().filter(|id| live.contains(id)).collect()
}

/// The numbers in a line of text, in order.
fn numbers_in(text: &str) -> Vec<u64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// `--table`: every finished process is appended to the Parquet fleet
/// table; `coldspy merge` of the table equals its merge of the JSON
/// profiles the daemon wrote beside it.
#[test]
fn the_fleet_table_the_daemon_appends_merges_like_its_profiles() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-table");
    let mut tree = CgroupTree::new("table");
    let group = tree.group("fn");
    let table = dir.join("table");
    let daemon = Daemon::start(
        &dir.join("out"),
        &[
            "--cgroup",
            group.to_str().unwrap(),
            "--table",
            table.to_str().unwrap(),
        ],
    );
    let python = core_interpreters()[1].command[0].clone();
    let mut pids = Vec::new();
    for function in ["resize", "resize", "render"] {
        let child = node::spawn_in(&group, &[("K_SERVICE", function)], &instance(&python, &[]));
        pids.push(child.id());
        assert!(node::finish(child).0.success());
    }
    daemon.wait_for(&pids, Duration::from_secs(30));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let merge = |input: &std::path::Path, out: &std::path::Path| -> Value {
        let output = coldspy_tests::coldspy(&[
            "merge",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        read_json(out)
    };
    let from_table = merge(&table, &dir.join("from-table.json"));
    let profiles: Vec<std::path::PathBuf> = node::index_of(&dir.join("out"))
        .iter()
        .filter_map(|l| l["path"].as_str().map(std::path::PathBuf::from))
        .collect();
    assert_eq!(profiles.len(), 3);
    let mut args = vec!["merge".to_string()];
    args.extend(profiles.iter().map(|p| p.display().to_string()));
    args.extend([
        "-o".to_string(),
        dir.join("from-json.json").display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = coldspy_tests::coldspy(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_json = read_json(&dir.join("from-json.json"));
    assert_eq!(from_table["starts"], 3, "{from_table}");
    let keys = |merged: &Value| -> Vec<(String, u64)> {
        merged["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().unwrap().to_string(),
                    g["starts"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    let mut groups = keys(&from_table);
    groups.sort();
    assert_eq!(
        groups,
        vec![("render".to_string(), 1), ("resize".to_string(), 2)]
    );
    assert_eq!(
        from_table["groups"], from_json["groups"],
        "table and JSON merge alike"
    );
}

/// `--max-window`: a process running longer is written in windows, each a
/// whole profile, numbered, the last one at its exit; together they hold
/// its samples (memory stays bounded by a window).
#[test]
fn a_long_process_is_written_in_windows() {
    require_root();
    let _serial = serial();
    let dir = scratch("all-windows");
    let mut tree = CgroupTree::new("windows");
    let group = tree.group("fn");
    let daemon = Daemon::start(
        &dir.join("out"),
        &["--cgroup", group.to_str().unwrap(), "--max-window", "1"],
    );
    let python = core_interpreters()[1].command[0].clone();
    let spin = "import time\nt = time.monotonic()\nwhile time.monotonic() - t < 3.5:\n    pass\n";
    let child = node::spawn_in(&group, &[], &[python, "-c".to_string(), spin.to_string()]);
    let pid = child.id();
    assert!(node::finish(child).0.success());
    std::thread::sleep(Duration::from_secs(2));
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    let index = node::index_of(&dir.join("out"));
    let windows: Vec<&Value> = index
        .iter()
        .filter(|l| l["pid"].as_u64() == Some(pid as u64))
        .collect();
    // Windows are cut by the once-a-second housekeeping: 1–2 s each here.
    assert!(
        windows.len() >= 2,
        "a 3.5 s process in 1 s windows: {windows:?}"
    );
    let numbers: Vec<u64> = windows
        .iter()
        .map(|w| w["window"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (0..windows.len() as u64).collect::<Vec<_>>(),
        "{windows:?}"
    );
    let mut samples = 0;
    for window in &windows {
        let profile = read_json(std::path::Path::new(window["path"].as_str().unwrap()));
        samples += profile["stats"]["samples"].as_u64().unwrap();
    }
    // 200 Hz for 3.5 s on a shared machine: most of the 700 samples.
    assert!(
        samples > 200,
        "{samples} samples over {} windows",
        windows.len()
    );
    assert_eq!(
        windows.last().unwrap()["partial"],
        false,
        "the last ends at the exit"
    );
}
