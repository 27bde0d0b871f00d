//! `coldspy prebake` end to end (root, CRIU from set-up): a restored function
//! answers exactly like a vanilla start; one image restores concurrently on
//! several ports; failures are one line, non-zero, and leave no process
//! behind.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::prebake::image;
use coldspy_tests::{coldspy, coldspy_bin, repo_root, scratch};
use std::process::Command;

fn venv_python() -> String {
    coldspy_tests::venv_python("pyenv-3.12")
}

/// Whether `pid` runs (a zombie waiting for a reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}

/// The PIDs of running processes whose command line mentions `needle`.
fn running_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
                && alive(pid)
        })
        .collect()
}

/// The PIDs of a process in each of its PID namespaces (`NSpid:`).
fn ns_pids(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

fn prebake(name: &str, example: &str) -> std::path::PathBuf {
    prebake_file(name, &repo_root().join("examples/prebake").join(example))
}

fn prebake_file(name: &str, file: &std::path::Path) -> std::path::PathBuf {
    coldspy_tests::require_root();
    let dir = scratch(name).join("image");
    let handler = format!("{}:handler", file.display());
    let out = coldspy(&[
        "prebake",
        "--python",
        &venv_python(),
        "--handler",
        &handler,
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// The status code answering `request`, sent as is to the function.
fn raw_status(port: u16, request: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_restored_function_answers_like_a_vanilla_start_and_leaves_nothing_behind() {
    let dir = prebake("prebake-md", "markdown_render.py");
    let manifest = image::manifest(&dir).unwrap();
    assert!(!alive(manifest.pid), "the dumped original is gone");
    let (_, vanilla_answer, vanilla_pid) = image::vanilla(&manifest).unwrap();
    for round in 0..2 {
        let restored = image::restore(&dir, None).unwrap();
        assert_ne!(restored.pid, manifest.pid, "a new host PID");
        assert_eq!(
            ns_pids(restored.pid).last().map(String::as_str),
            Some("1"),
            "round {round}: the init of its own PID namespace"
        );
        assert_eq!(
            restored.first_answer, vanilla_answer,
            "round {round}: same answer as a vanilla start"
        );
        assert!(restored.first_answer.contains("<h1>hello</h1>"));
        // What is no request (no request line, a body that is no JSON) is
        // answered 400, and the function goes on serving.
        for bad in [
            "garbage\r\n\r\n".to_string(),
            "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n{x}".to_string(),
        ] {
            assert_eq!(
                raw_status(restored.port, &bad),
                "400",
                "round {round}: {bad:?}"
            );
        }
        let (status, again) = coldspy::prebake::http::post(restored.port, "{}").unwrap();
        assert_eq!(
            (status, again),
            (200, vanilla_answer.clone()),
            "round {round}"
        );
        let pid = restored.pid;
        restored.stop();
        assert!(!alive(pid), "round {round}: the restored copy is reaped");
    }
    assert!(!alive(vanilla_pid));
}

#[test]
fn failures_are_one_clear_line() {
    // A handler file of its own, to find any process left behind by name.
    let handler = scratch("prebake-fail-src").join("fail_noop.py");
    std::fs::copy(repo_root().join("examples/prebake/noop.py"), &handler).unwrap();
    let dir = prebake_file("prebake-fail", &handler);
    let one_line = |out: &std::process::Output, needle: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{needle}: {out:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
    };
    // CRIU missing, too old, or failing `criu check` on this kernel.
    let with_criu = |criu: &std::path::Path| {
        Command::new(coldspy_bin())
            .args([
                "prebake",
                "--python",
                &venv_python(),
                "--handler",
                "x.py:handler",
                "-o",
                "/tmp/coldspy-never",
            ])
            .env("COLDSPY_CRIU", criu)
            .output()
            .unwrap()
    };
    one_line(
        &with_criu("/nonexistent/criu".as_ref()),
        "run `cargo xtask setup`",
    );
    let fakes = scratch("prebake-fake-criu");
    let fake = |name: &str, version: &str, check: &str| {
        let path = fakes.join(name);
        let script = format!(
            "#!/bin/sh\ncase \"$1\" in\n--version) echo 'Version: {version}' ;;\n\
             check) {check} ;;\nesac\n"
        );
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    };
    one_line(
        &with_criu(&fake("old-criu", "3.17.1", "exit 0")),
        "CRIU 3.17.1",
    );
    let failing = fake(
        "failing-criu",
        "4.1.1",
        "echo 'Error (criu/cr-check.c:1): UFFD is not supported' >&2; exit 1",
    );
    one_line(
        &with_criu(&failing),
        "`criu check` fails on this host: Error (criu/cr-check.c:1): UFFD is not supported",
    );
    // Without $COLDSPY_CRIU: set-up's build in $COLDSPY_CACHE, then PATH.
    let with_cache = |cache: &std::path::Path| {
        Command::new(coldspy_bin())
            .args(["prebake", "--python", &venv_python(), "--handler"])
            .args(["x.py:handler", "-o", "/tmp/coldspy-never"])
            .env_remove("COLDSPY_CRIU")
            .env("COLDSPY_CACHE", cache)
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap()
    };
    let empty_cache = scratch("prebake-empty-cache");
    one_line(
        &with_cache(&empty_cache),
        &format!(
            "neither {}/criu/criu (set-up's build; $COLDSPY_CACHE moves it) nor `criu` on PATH",
            empty_cache.display()
        ),
    );
    let cache = scratch("prebake-cache");
    std::fs::create_dir_all(cache.join("criu")).unwrap();
    std::fs::rename(
        fake("cached-criu", "3.17.2", "exit 0"),
        cache.join("criu/criu"),
    )
    .unwrap();
    one_line(&with_cache(&cache), "CRIU 3.17.2");
    assert!(
        !std::path::Path::new("/tmp/coldspy-never").exists(),
        "nothing created when CRIU cannot run"
    );
    // Image directory missing, or not an image.
    one_line(
        &coldspy(&["prebake", "restore", "/nonexistent/image"]),
        "no image directory",
    );
    let empty = scratch("prebake-empty");
    one_line(
        &coldspy(&["prebake", "restore", empty.to_str().unwrap()]),
        "not a prebaked image",
    );
    // Port already in use: nothing restored, nothing left running.
    let taken = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    one_line(
        &coldspy(&["prebake", "restore", dir.to_str().unwrap(), "--port", &port]),
        "already in use",
    );
    assert_eq!(
        running_with("fail_noop.py"),
        Vec::<u32>::new(),
        "no stray process after a refused restore"
    );
    // An image made for an interpreter this host lacks.
    let copy = |name: &str| {
        let to = scratch(name);
        let status = Command::new("cp")
            .arg("-a")
            .arg(&dir)
            .arg(&to)
            .status()
            .unwrap();
        assert!(status.success());
        to.join("image")
    };
    let foreign = copy("prebake-foreign");
    let manifest_path = foreign.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).unwrap();
    let python = image::manifest(&dir).unwrap().python.display().to_string();
    std::fs::write(
        &manifest_path,
        text.replace(&python, "/opt/python3.99/bin/python3"),
    )
    .unwrap();
    one_line(
        &coldspy(&["prebake", "restore", foreign.to_str().unwrap()]),
        "which is not on this host",
    );
    // A restore that fails (a damaged image): CRIU's log is named, nothing runs.
    let damaged = copy("prebake-damaged");
    std::fs::write(damaged.join("criu/pstree.img"), b"not an image").unwrap();
    one_line(
        &coldspy(&["prebake", "restore", damaged.to_str().unwrap()]),
        "criu restore failed: Head magic doesn't match for pstree.img",
    );
    assert_eq!(
        running_with("fail_noop.py"),
        Vec::<u32>::new(),
        "no stray process after a failed restore"
    );
    // A handler that cannot load.
    let out = coldspy(&[
        "prebake",
        "--python",
        &venv_python(),
        "--handler",
        "/nonexistent/app.py:handler",
        "-o",
        scratch("prebake-bad").join("i").to_str().unwrap(),
    ]);
    one_line(&out, "handler not found");
}

#[test]
fn one_image_restores_concurrently_on_several_ports() {
    let dir = prebake("prebake-concurrent", "markdown_render.py");
    let copies: Vec<_> = (0..4)
        .map(|_| {
            let dir = dir.clone();
            std::thread::spawn(move || coldspy(&["prebake", "restore", dir.to_str().unwrap()]))
        })
        .collect();
    let mut pids = Vec::new();
    let mut ports = std::collections::BTreeSet::new();
    for copy in copies {
        let out = copy.join().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // "restored pid P from DIR: answered on 127.0.0.1:PORT after T ms: BODY"
        let pid: u32 = stdout.split_whitespace().nth(2).unwrap().parse().unwrap();
        let port = stdout.split("127.0.0.1:").nth(1).unwrap();
        ports.insert(port.split_whitespace().next().unwrap().to_string());
        assert!(stdout.contains("<h1>hello</h1>"), "{stdout}");
        pids.push(pid);
    }
    assert_eq!(ports.len(), 4, "each copy on its own port: {ports:?}");
    for &pid in &pids {
        assert!(alive(pid), "copy {pid} keeps serving after `restore`");
    }
    // All four still answer, each on its port.
    for port in &ports {
        let (status, body) = coldspy::prebake::http::post(port.parse().unwrap(), "{}").unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("<h1>hello</h1>"), "{body}");
    }
    for &pid in &pids {
        // SAFETY: killing a copy this test restored.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while pids.iter().any(|&p| alive(p)) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!pids.iter().any(|&p| alive(p)), "no copy left behind");
}
