//! `coldspy prebake` end to end (root, CRIU from set-up): a restored function
//! answers exactly like a vanilla start; failures are one line, non-zero,
//! and leave no process behind.

use coldspy::prebake::image;
use coldspy_tests::{coldspy, coldspy_bin, repo_root, scratch};
use std::process::Command;

/// Restores run one at a time (a restored process needs its PID free): the
/// tests take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn venv_python() -> String {
    coldspy_tests::venv_python("pyenv-3.12")
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn prebake(name: &str, example: &str) -> std::path::PathBuf {
    coldspy_tests::require_root();
    let dir = scratch(name).join("image");
    let handler = format!(
        "{}:handler",
        repo_root().join("examples/prebake").join(example).display()
    );
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

#[test]
fn a_restored_function_answers_like_a_vanilla_start_and_leaves_nothing_behind() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = prebake("prebake-md", "markdown_render.py");
    let manifest = image::manifest(&dir).unwrap();
    assert!(!alive(manifest.pid), "the dumped original is gone");
    let (_, vanilla_answer, vanilla_pid) = image::vanilla(&manifest).unwrap();
    for round in 0..2 {
        let restored = image::restore(&dir, None).unwrap();
        assert_eq!(restored.pid, manifest.pid, "restored with its own PID");
        assert_eq!(
            restored.first_answer, vanilla_answer,
            "round {round}: same answer as a vanilla start"
        );
        assert!(restored.first_answer.contains("<h1>hello</h1>"));
        let pid = restored.pid;
        restored.stop();
        assert!(!alive(pid), "round {round}: the restored copy is reaped");
    }
    assert!(!alive(vanilla_pid));
}

#[test]
fn failures_are_one_clear_line() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = prebake("prebake-fail", "noop.py");
    let one_line = |out: &std::process::Output, needle: &str| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{needle}: {out:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
    };
    // CRIU missing.
    let no_criu = Command::new(coldspy_bin())
        .args([
            "prebake",
            "--python",
            &venv_python(),
            "--handler",
            "x.py:handler",
            "-o",
            "/tmp/coldspy-never",
        ])
        .env("COLDSPY_CRIU", "/nonexistent/criu")
        .output()
        .unwrap();
    one_line(&no_criu, "run `cargo xtask setup`");
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
    let manifest = image::manifest(&dir).unwrap();
    assert!(
        !alive(manifest.pid),
        "no stray process after a refused restore"
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
