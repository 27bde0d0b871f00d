//! `coldspy info --pid PID` on running interpreters of different kinds (a
//! shared 3.9 with two extra threads, a static 3.14 in the sid chroot) and
//! on bad pids: the facts a user needs, or one clear line.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{all_interpreters, coldspy, require_root, Interpreter};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `idle_threads.py` and waits until its two threads run.
fn start(interp: &Interpreter) -> Child {
    let command = interp.command_for(&[], "idle_threads.py");
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the interpreter");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "{}", interp.name);
    child
}

fn info_of(interp: &Interpreter) -> String {
    let mut child = start(interp);
    let out = coldspy(&["info", "--pid", &child.id().to_string()]);
    drop(child.stdin.take());
    child.wait().unwrap();
    assert!(out.status.success(), "{}: {out:?}", interp.name);
    String::from_utf8(out.stdout).unwrap()
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {key} in:\n{text}"))
}

#[test]
fn info_names_version_build_layout_route_and_threads() {
    require_root();
    let all = all_interpreters();
    let pick = |name: &str| all.iter().find(|i| i.name == name).unwrap();

    let text = info_of(pick("pyenv-3.9"));
    assert!(
        field(&text, "python:").starts_with("CPython 3.9."),
        "{text}"
    );
    assert!(field(&text, "build:").starts_with("shared"), "{text}");
    assert_eq!(field(&text, "layout:"), "table:3.9");
    assert_eq!(
        field(&text, "import route:"),
        "uprobe:_PyObject_CallMethodIdObjArgs+PyEval_EvalCode"
    );
    assert!(
        field(&text, "python threads:").starts_with("3 by thread_id"),
        "{text}"
    );

    let text = info_of(pick("sid-3.14"));
    assert!(
        field(&text, "python:").starts_with("CPython 3.14."),
        "{text}"
    );
    assert!(field(&text, "build:").starts_with("static"), "{text}");
    assert!(field(&text, "layout:").starts_with("debug-offsets:3.14."));
    assert_eq!(
        field(&text, "import route:"),
        "uprobe:PyObject_CallMethodObjArgs+PyEval_EvalCode"
    );
    assert!(field(&text, "root:").contains("sid"), "{text}");
    assert!(
        field(&text, "python threads:").starts_with("3 by native_thread_id"),
        "{text}"
    );
}

#[test]
fn info_on_a_bad_pid_says_why_in_one_line() {
    require_root();
    let out = coldspy(&["info", "--pid", "999999999"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no process with pid 999999999"), "{stderr}");

    let out = coldspy(&["info", "--pid", &std::process::id().to_string()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is not a Python process"), "{stderr}");
}
