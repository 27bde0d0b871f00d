//! `record` groups samples as they come, so its memory does not grow with
//! the recording's length (`coldspy_core::model::samples`). On real
//! recordings (real kernel, real CPython) the profile it writes must be the
//! one rebuilt from the same samples one by one, which `--save-trace` keeps:
//! a script whose imports spin on two threads (one lazy), busy threads,
//! and a handler whose phases come from the runner's marks. Needs root.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::analysis::{analyze, ScoreKind};
use coldspy::model::build::build_profile;
use coldspy::model::profile::Profile;
use coldspy::model::trace::Trace;
use coldspy_tests::{coldspy_bin, require_root, scratch, script};
use std::process::Command;

/// pyenv's 3.12, where set-up's `env.json` says it is.
static PY312: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| coldspy_tests::python_of("pyenv-3.12"));

/// Records with `--save-trace`; returns the profile written (from the
/// grouped samples), the one rebuilt from the saved trace (the samples one
/// by one), and the saved trace.
fn record_both_ways(label: &str, args: &[String]) -> (Profile, Profile, Trace) {
    require_root();
    let dir = scratch(&format!("bounded-{label}"));
    let (profile_path, trace_path) = (dir.join("profile.json"), dir.join("trace.json"));
    let out = Command::new(coldspy_bin())
        .arg("record")
        .arg("-q")
        .arg("--rate")
        .arg("1000")
        .arg("-o")
        .arg(&profile_path)
        .arg("--save-trace")
        .arg(&trace_path)
        .args(args)
        .output()
        .expect("run coldspy record");
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = Profile::from_json(&std::fs::read(&profile_path).unwrap()).unwrap();
    let trace: Trace = serde_json::from_slice(&std::fs::read(&trace_path).unwrap()).unwrap();
    assert!(
        trace.sample_table.is_none() && trace.format.is_none(),
        "{label}: format 1"
    );
    let mut rebuilt = build_profile(&trace);
    // As record does: the program's import statements as written.
    coldspy::record::statements::fill(&mut rebuilt, trace.meta.pid);
    analyze(&mut rebuilt, ScoreKind::Runtime);
    (written, rebuilt, trace)
}

fn assert_same(label: &str, written: &Profile, rebuilt: &Profile) {
    assert_eq!(written.stats, rebuilt.stats, "{label}: stats");
    assert_eq!(written.cct, rebuilt.cct, "{label}: CCT");
    assert_eq!(written.modules, rebuilt.modules, "{label}: modules");
    assert_eq!(written, rebuilt, "{label}: the whole profile");
}

/// Modules that spin while they are imported: at top level, in a second
/// thread, and lazily from a function; then run-time work; all along, a
/// thread spinning in one stack, whose samples only the events' times
/// put in init or after it.
const SPINNING_IMPORTS: &[(&str, &str)] = &[
    (
        "main.py",
        "import os, sys, threading, time\n\
         sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n\
         from spin import spin\n\
         bg = threading.Thread(target=spin, args=(1.5,))\n\
         bg.start()\n\
         import spinmod\n\
         def later():\n    import lazyspin\n\
         def in_thread():\n    import threadspin\n\
         t = threading.Thread(target=in_thread)\n\
         t.start()\n\
         spin(0.2)\n\
         t.join()\n\
         later()\n\
         spin(0.2)\n\
         bg.join()\n",
    ),
    (
        "spin.py",
        "import time\ndef spin(s):\n    end = time.monotonic() + s\n    \
         while time.monotonic() < end:\n        pass\n",
    ),
    (
        "spinmod.py",
        "import json, decimal\nfrom spin import spin\nspin(0.3)\n",
    ),
    ("lazyspin.py", "from spin import spin\nspin(0.2)\n"),
    (
        "threadspin.py",
        "import fractions\nfrom spin import spin\nspin(0.2)\n",
    ),
];

#[test]
fn grouped_samples_give_the_per_sample_profile_of_a_script_with_imports() {
    let dir = scratch("bounded-imports-src");
    for (name, text) in SPINNING_IMPORTS {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let command = [
        "--".to_string(),
        PY312.clone(),
        dir.join("main.py").display().to_string(),
    ];
    let (written, rebuilt, trace) = record_both_ways("imports", &command);
    assert!(
        !trace.imports.is_empty() && trace.samples.len() > 300,
        "{} samples, {} import edges",
        trace.samples.len(),
        trace.imports.len()
    );
    assert!(written.stats.import_samples > 100, "{:?}", written.stats);
    let threads: std::collections::HashSet<u32> = trace.imports.iter().map(|e| e.tid).collect();
    assert!(threads.len() >= 2, "imports on {} threads", threads.len());
    assert!(written.stats.init_us > 0 && written.stats.exec_samples > 100);
    assert_same("imports", &written, &rebuilt);
}

#[test]
fn grouped_samples_give_the_per_sample_profile_of_busy_threads() {
    let command = [
        "--".to_string(),
        PY312.clone(),
        script("busy_threads.py").display().to_string(),
        "3".to_string(),
        "4".to_string(),
    ];
    let (written, rebuilt, trace) = record_both_ways("threads", &command);
    let tids: std::collections::HashSet<u32> = trace.samples.iter().map(|s| s.tid).collect();
    assert!(tids.len() >= 3, "samples on {} threads", tids.len());
    assert!(written.stats.samples > 500, "{:?}", written.stats);
    assert_same("threads", &written, &rebuilt);
}

#[test]
fn grouped_samples_give_the_per_sample_profile_of_a_handler_with_phases() {
    let dir = scratch("bounded-handler-src");
    let handler = dir.join("spin.py");
    std::fs::write(
        &handler,
        "import json, decimal, fractions, threading, time\n\
         def background():\n    \
             while True:\n        \
                 pass\n\
         threading.Thread(target=background, daemon=True).start()\n\
         def handler(event, context):\n    \
             end = time.monotonic() + 0.5\n    \
             while time.monotonic() < end:\n        \
                 json.dumps({'x': [str(decimal.Decimal(1)), str(fractions.Fraction(1, 3))]})\n    \
             return 1\n",
    )
    .unwrap();
    let args = [
        "--python".to_string(),
        PY312.clone(),
        // Long enough (4 s) that samples are grouped before the last marks.
        "--invocations".to_string(),
        "8".to_string(),
        "--handler".to_string(),
        format!("{}:handler", handler.display()),
    ];
    let (written, rebuilt, trace) = record_both_ways("handler", &args);
    assert!(trace.phases.iter().any(|m| m.name == "invoke_end"));
    assert_eq!(written.stats.exec_count, 8);
    assert!(written.stats.exec_samples > 100, "{:?}", written.stats);
    assert_same("handler", &written, &rebuilt);
}
