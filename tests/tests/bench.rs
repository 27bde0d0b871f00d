//! `coldspy bench` end to end, against oracles: a handler whose module
//! sleeps 200 ms at import and whose handler sleeps 50 ms; hyperfine timing
//! the same command in the same run; the bundled eager/lazy example pair;
//! and every bad input.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_tests::{coldspy, repo_root, scratch};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// pyenv's 3.12, where set-up's `env.json` says it is.
static PY312: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| coldspy_tests::python_of("pyenv-3.12"));

/// The tests of this file take turns: a drop of the page cache, or another
/// test's starts, in the middle of a timed comparison would slow one side
/// only (the hyperfine oracle failed at ±5 % with them running beside it).
static TIMED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bench(args: &[&str]) -> (std::process::Output, Option<Value>, String) {
    // A directory per call: tests run in parallel.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch(&format!("bench-call-{call}"));
    let json = dir.join("bench.json");
    let mut all = vec![
        "bench",
        "--python",
        PY312.as_str(),
        "--export-json",
        json.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = coldspy(&all);
    let value = std::fs::read(&json)
        .ok()
        .map(|b| serde_json::from_slice(&b).unwrap());
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, value, stderr)
}

fn median(summary: &Value, variant: usize, phase: &str) -> f64 {
    summary["summary"]["variants"][variant]["phases"][phase]["median_ms"]
        .as_f64()
        .unwrap()
}

/// The median over runs of variant 0's init minus variant 1's, the k-th
/// start of each paired.
fn paired_init_difference(bench: &Value) -> f64 {
    let inits = |variant: u64| -> Vec<f64> {
        bench["starts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["variant"].as_u64() == Some(variant))
            .filter_map(|s| s["init_ms"].as_f64())
            .collect()
    };
    let mut differences: Vec<f64> = inits(0).iter().zip(inits(1)).map(|(a, b)| a - b).collect();
    assert!(!differences.is_empty(), "no paired starts: {bench}");
    differences.sort_by(f64::total_cmp);
    let n = differences.len();
    if n % 2 == 1 {
        differences[n / 2]
    } else {
        (differences[n / 2 - 1] + differences[n / 2]) / 2.0
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn init_and_exec_match_known_sleeps_and_end_to_end_matches_hyperfine() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("bench-oracle");
    let slow = write(&dir, "slow.py", "import time\ntime.sleep(0.2)\n\ndef handler(event, context):\n    time.sleep(0.05)\n    return 1\n");
    let empty = write(
        &dir,
        "empty.py",
        "def handler(event, context):\n    return 1\n",
    );
    // Interpreter start in the same run: the empty handler, interleaved.
    let (out, summary, stderr) = bench(&[
        "--runs",
        "10",
        "--handler",
        &format!("{slow}:handler"),
        "--compare",
        &format!("{empty}:handler"),
    ]);
    assert!(out.status.success(), "{stderr}");
    let summary = summary.unwrap();
    let (init, exec, e2e) = (
        median(&summary, 0, "init"),
        median(&summary, 0, "exec"),
        median(&summary, 0, "end-to-end"),
    );
    let start = median(&summary, 1, "init");
    // The k-th start of each variant are neighbours in time (A B / B A):
    // their difference cancels the machine's drift, which the difference
    // of two medians does not (it missed by 0.5 ms under load).
    let paired = paired_init_difference(&summary);
    eprintln!("init {init:.1} ms = interpreter start {start:.1} + {:.1} (paired median {paired:.1}); exec {exec:.1} ms; end-to-end {e2e:.1} ms", init - start);
    assert!(
        (paired - 200.0).abs() <= 5.0,
        "init minus the empty handler's, paired by run: {paired:.1} ms, should be 200 ms ±5"
    );
    assert!(
        (exec - 50.0).abs() <= 5.0,
        "exec {exec:.1} should be 50 ms ±5"
    );

    // hyperfine times the very command the bench ran (the runner is on disk now).
    let runner = std::env::temp_dir()
        .join(format!("coldspy-runner-{}/coldspy_runner.py", unsafe {
            libc::getuid()
        }));
    let hf = dir.join("hf.json");
    let command = format!(
        "{} {} --handler {slow}:handler",
        PY312.as_str(),
        runner.display()
    );
    let status = Command::new("hyperfine")
        .args([
            "-N",
            "--runs",
            "10",
            "--warmup",
            "1",
            "--export-json",
            hf.to_str().unwrap(),
            &command,
        ])
        .output()
        .expect("hyperfine (cargo xtask setup installs it)");
    assert!(status.status.success(), "{status:?}");
    let hf: Value = serde_json::from_slice(&std::fs::read(&hf).unwrap()).unwrap();
    let hf_median = hf["results"][0]["median"].as_f64().unwrap() * 1000.0;
    eprintln!("end-to-end: coldspy bench {e2e:.1} ms, hyperfine {hf_median:.1} ms");
    // Both time spawn to exit of the same command; ±5 % covers two separate
    // sets of runs on a shared 2-core machine.
    assert!(
        (e2e - hf_median).abs() <= hf_median * 0.05,
        "bench {e2e:.1} vs hyperfine {hf_median:.1}"
    );
}

#[test]
fn the_example_pair_shows_the_init_gain_of_a_lazy_import() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let python = coldspy_tests::venv_python("pyenv-3.12");
    let root = repo_root();
    let eager = format!(
        "{}:handler",
        root.join("examples/bench/eager/app.py").display()
    );
    let lazy = format!(
        "{}:handler",
        root.join("examples/bench/lazy/app.py").display()
    );
    let dir = scratch("bench-pair");
    let json = dir.join("pair.json");
    let plot = dir.join("cdf.svg");
    let html = dir.join("bench.html");
    let out = coldspy(&[
        "bench",
        "--python",
        &python,
        "--runs",
        "12",
        "--handler",
        &eager,
        "--compare",
        &lazy,
        "--event",
        root.join("examples/bench/event.json").to_str().unwrap(),
        "--export-json",
        json.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let summary: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let init = &summary["summary"]["comparison"]["init"];
    eprintln!("lazy vs eager init: {init}");
    assert!(
        init["difference_ms"].as_f64().unwrap() < -20.0,
        "boto3 costs tens of ms at init"
    );
    assert_eq!(init["significant"], true);
    assert!(
        init["ci95_ms"][1].as_f64().unwrap() < 0.0,
        "the whole CI is a gain"
    );
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 4);
    // The HTML report holds the printed summary and the same CDF.
    let page = std::fs::read_to_string(&html).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first_line = stdout.lines().next().unwrap();
    assert!(
        page.contains(first_line),
        "summary in the page: {first_line}"
    );
    assert!(page.contains(svg.trim_end()), "the CDF inline");
}

#[test]
fn bad_input_is_one_clear_line() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("bench-bad");
    let raises = write(
        &dir,
        "raises.py",
        "def handler(event, context):\n    raise ValueError('boom')\n",
    );
    let ok = write(
        &dir,
        "ok.py",
        "def handler(event, context):\n    return 1\n",
    );
    let not_json = write(&dir, "bad.json", "{not json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--handler".into(),
                format!("{}/missing.py:handler", dir.display()),
            ],
            "handler not found",
        ),
        (
            vec!["--handler".into(), format!("{ok}:nope")],
            "handler function not found",
        ),
        (
            vec!["--handler".into(), format!("{raises}:handler")],
            "the handler raised: ValueError: boom",
        ),
        (
            vec![
                "--handler".into(),
                format!("{ok}:handler"),
                "--event".into(),
                not_json.clone(),
            ],
            "event is not JSON",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["bench", "--python", PY312.as_str(), "--runs", "3"];
        all.extend(args.iter().map(String::as_str));
        let out = coldspy(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{needle}: {out:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "expected {needle:?}: {stderr}");
    }
}

#[test]
fn a_hanging_start_is_killed_counted_and_not_averaged_in() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("bench-hang");
    let hang = write(&dir, "hang.py", "import os, time\nif os.environ.get('COLDSPY_TEST_HANG'):\n    time.sleep(30)\n\ndef handler(event, context):\n    return 1\n");
    let out = Command::new(coldspy_tests::coldspy_bin())
        .args([
            "bench",
            "--python",
            PY312.as_str(),
            "--runs",
            "2",
            "--timeout",
            "1",
            "--handler",
            &format!("{hang}:handler"),
        ])
        .env("COLDSPY_TEST_HANG", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stdout.contains("0 starts, 2 failed") && stdout.contains("timed out"),
        "{stdout}"
    );
}

/// Pages of `path` in the page cache (util-linux `fincore`).
fn cached_pages(path: &Path) -> u64 {
    let out = Command::new("fincore")
        .args(["--raw", "--noheadings", "--output", "PAGES"])
        .arg(path)
        .output()
        .expect("fincore (util-linux)");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn drop_caches_empties_the_page_cache_before_the_starts() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    coldspy_tests::require_root();
    let dir = scratch("bench-drop-caches");
    // A file nobody reads during the bench: cached now, gone once dropped.
    let witness = dir.join("witness.bin");
    std::fs::write(&witness, vec![7u8; 1 << 20]).unwrap();
    let _ = std::fs::read(&witness).unwrap();
    assert!(cached_pages(&witness) > 0, "the witness is cached first");
    let app = write(
        &dir,
        "app.py",
        "def handler(event, context):\n    return 1\n",
    );
    let (out, json, stderr) = bench(&[
        "--runs",
        "2",
        "--drop-caches",
        "--handler",
        &format!("{app}:handler"),
    ]);
    assert!(out.status.success(), "{stderr}");
    let json = json.expect("--export-json written");
    assert_eq!(json["drop_caches"], true);
    assert_eq!(json["starts"].as_array().unwrap().len(), 2);
    assert_eq!(
        cached_pages(&witness),
        0,
        "--drop-caches dropped the page cache"
    );
}

/// `--defer` on purpose-built handlers, one per verdict: a never-used
/// import that sleeps 200 ms (verified, about −200 ms), a `from X import
/// name` (X runs at init anyway: not verified, naming the line), a plugin
/// that registers itself at import (the handler raises without it), and a
/// module whose import sets the configuration the answer depends on (the
/// answers differ).
#[test]
fn defer_verifies_an_unused_import_and_says_what_breaks_otherwise() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = scratch("bench-defer");
    write(&dir, "slow_dep.py", "import time\ntime.sleep(0.2)\nX = 1\n");
    write(&dir, "registry.py", "HANDLERS = {}\n");
    write(
        &dir,
        "plugin.py",
        "import registry\nregistry.HANDLERS['greet'] = lambda name: 'hello ' + name\n",
    );
    write(
        &dir,
        "config_side.py",
        "import os\nos.environ['COLDSPY_TEST_GREETING'] = 'hi'\n",
    );
    let unused = write(
        &dir,
        "unused.py",
        "import json\nimport slow_dep\n\ndef handler(event, context):\n    return {'ok': 1}\n",
    );
    let from = write(
        &dir,
        "from_import.py",
        "from slow_dep import X\n\ndef handler(event, context):\n    return {'ok': 1}\n",
    );
    let plugin = write(&dir, "uses_plugin.py", "import registry\nimport plugin\n\ndef handler(event, context):\n    return registry.HANDLERS['greet']('you')\n");
    let config = write(&dir, "uses_config.py", "import os\nimport config_side\n\ndef handler(event, context):\n    return os.environ.get('COLDSPY_TEST_GREETING')\n");
    let run = |handler: &str, module: &str, runs: &str| {
        let (out, json, stderr) = bench(&[
            "--warmup",
            "1",
            "--runs",
            runs,
            "--handler",
            &format!("{handler}:handler"),
            "--defer",
            module,
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let verification = json
            .map(|j| j["summary"]["verification"].clone())
            .unwrap_or(Value::Null);
        eprintln!("{stdout}{stderr}");
        (out.status.code(), stdout, verification)
    };

    let (code, stdout, v) = run(&unused, "slow_dep", "3");
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(v["answers_identical"], true, "{v}");
    let init = v["init_ms"]["difference_ms"].as_f64().unwrap();
    // The sleep is 200 ms: the sign and the verdict are asserted, the size
    // is reported (a shared machine moves medians of 3 by tens of ms).
    assert!(init < 0.0, "init change {init:.1} ms, the sleep is 200 ms");
    eprintln!("deferred init change {init:.1} ms (the deferred module sleeps 200 ms)");
    assert_eq!(v["outcome"], "verified", "{v}");
    assert!(stdout.contains("\nverified: \u{2212}"), "{stdout}");

    let (code, stdout, v) = run(&from, "slow_dep", "3");
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(v["outcome"], "not_verified", "{v}");
    assert_eq!(v["modules"][0]["state"], "loaded", "{v}");
    let summary = v["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("not verified: slow_dep is loaded at init anyway: its code runs from ")
            && summary.contains("from_import.py:1"),
        "{summary}"
    );
    assert_eq!(
        v["starts"], 1,
        "a start that deferred nothing is not repeated: {v}"
    );

    let (code, stdout, v) = run(&plugin, "plugin", "2");
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(
        v["summary"], "not verified: the handler raises KeyError: 'greet' with plugin deferred",
        "{v}"
    );

    let (code, stdout, v) = run(&config, "config_side", "2");
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(v["answers_identical"], false, "{v}");
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .starts_with("not verified: the answers differ with config_side deferred"),
        "{v}"
    );
}

/// The runner's deferral on each kind of interpreter, read from its marks:
/// a lazy loader on 3.9 and 3.12 (a second `import heavy` elsewhere leaves
/// it deferred; `from heavy import f` runs it at init) and PEP 810's
/// lazy-import filter on sid's 3.15 (the `from` import is deferred too).
#[test]
fn the_runner_defers_with_a_lazy_loader_before_3_15_and_pep_810_on_3_15() {
    let _turn = TIMED.lock().unwrap_or_else(|e| e.into_inner());
    let root = coldspy_tests::sid_root();
    let inside = format!("/tmp/coldspy-e2e-defer-{}", std::process::id());
    let host_dir = root.join(inside.trim_start_matches('/'));
    let _ = std::fs::remove_dir_all(&host_dir);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("runner.py"), coldspy::runner::RUNNER_SOURCE).unwrap();
    write(&host_dir, "heavy.py", "X = 41\n");
    write(&host_dir, "other.py", "import heavy\n");
    write(&host_dir, "plain.py", "import heavy\nimport other\n\ndef handler(event, context):\n    return {'x': heavy.X + 1}\n");
    write(
        &host_dir,
        "named.py",
        "from heavy import X\n\ndef handler(event, context):\n    return {'x': X + 1}\n",
    );
    let runs: Vec<(&str, Vec<String>, String)> = vec![
        (
            "pyenv-3.9",
            vec![coldspy_tests::python_of("pyenv-3.9")],
            host_dir.display().to_string(),
        ),
        (
            "pyenv-3.12",
            vec![PY312.to_string()],
            host_dir.display().to_string(),
        ),
        (
            "sid-3.15",
            vec![
                "chroot".into(),
                root.display().to_string(),
                "python3.15".into(),
            ],
            inside.clone(),
        ),
    ];
    for (name, command, dir) in runs {
        let marks = |app: &str| -> String {
            let out = Command::new(&command[0])
                .args(&command[1..])
                .arg(format!("{dir}/runner.py"))
                .args([
                    "--handler",
                    &format!("{dir}/{app}.py:handler"),
                    "--defer",
                    "heavy",
                    "--answers",
                    "--marks-fd",
                    "1",
                ])
                .output()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(out.status.success(), "{name} {app}: {out:?}");
            // Drop the timestamps: "defer 123 deferred heavy" → "defer deferred heavy".
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| {
                    let mut parts = l.splitn(3, ' ');
                    let (mark, _, rest) = (
                        parts.next().unwrap(),
                        parts.next(),
                        parts.next().unwrap_or(""),
                    );
                    format!("{mark} {rest}\n")
                })
                .collect()
        };
        let pep810 = name == "sid-3.15";
        let method = if pep810 {
            "defer method pep810"
        } else {
            "defer method lazy_loader"
        };
        let plain = marks("plain");
        assert!(plain.contains(method), "{name}: {plain}");
        assert!(
            plain.contains("defer deferred heavy\n"),
            "{name}: a second import leaves it deferred:\n{plain}"
        );
        assert!(
            plain.contains(&format!("defer used heavy {dir}/plain.py:5\n")),
            "{name}:\n{plain}"
        );
        let named = marks("named");
        if pep810 {
            assert!(named.contains("defer deferred heavy\n"), "{name}:\n{named}");
        } else {
            assert!(
                named.contains(&format!("defer loaded heavy {dir}/named.py:1\n")),
                "{name}:\n{named}"
            );
        }
        // The same answer (sha256 of {"x": 42}) whichever way it was loaded.
        let answer = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("answer "))
                .map(str::to_string)
        };
        assert_eq!(answer(&plain), answer(&named), "{name}");
        assert!(
            answer(&plain).is_some_and(|a| a.len() == "answer ".len() + 64),
            "{name}: {plain}"
        );
    }
    let _ = std::fs::remove_dir_all(&host_dir);
}
