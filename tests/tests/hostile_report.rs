//! `coldspy report` on hostile profiles: strings a target controls (module,
//! function and file names) cannot run script in the HTML report (checked
//! in headless Chromium), send escapes to the terminal or break collapsed
//! lines; broken, deep or huge profiles are one clear error, never a panic
//! or a stack overflow. No root needed.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::model::build::build_profile;
use coldspy::model::profile::{CctNode, Profile};
use coldspy::model::trace::Trace;
use coldspy_tests::{coldspy, repo_root, scratch};
use std::path::Path;

/// Sets `document.title` to PWNED when it runs (the word itself is not in
/// the text, so it can only appear if the script ran); no dots, so it stays
/// one package name.
const IMG_PAYLOAD: &str = "<img src=x onerror=document['title']='PWN'+'ED'>";
const SCRIPT_PAYLOAD: &str = "</script><script>document['title']='PWN'+'ED2'</script>";
const TERMINAL_PAYLOAD: &str = "evil\x1b]0;pwned\x07\x1b[2J";

/// The recorded fixture with its busiest module, a frame and an import
/// renamed by a hostile target.
fn hostile_profile() -> Profile {
    let path = repo_root().join("tests/fixtures/handler.trace.json");
    let trace: Trace = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut profile = build_profile(&trace);
    let busiest = profile
        .modules
        .iter()
        .max_by_key(|m| m.cumulative_us)
        .unwrap()
        .name
        .clone();
    for m in &mut profile.modules {
        if m.name == busiest {
            m.name = IMG_PAYLOAD.into();
        }
    }
    // A package the report lists by name (the used markdown).
    for m in &mut profile.modules {
        if m.name == "markdown" {
            m.name = TERMINAL_PAYLOAD.into();
        }
    }
    for i in &mut profile.imports {
        if i.module == busiest {
            i.module = IMG_PAYLOAD.into();
        }
        if i.module == "markdown" {
            i.module = TERMINAL_PAYLOAD.into();
        }
    }
    for (k, f) in profile.cct.frames.iter_mut().enumerate() {
        if k % 3 == 0 {
            f.function = SCRIPT_PAYLOAD.into();
            f.qualname = format!("{IMG_PAYLOAD};x\ny");
            f.module = Some(IMG_PAYLOAD.into());
        }
        if k % 3 == 1 {
            f.file = format!("/app/{TERMINAL_PAYLOAD}.py");
        }
    }
    profile.meta.command = vec![SCRIPT_PAYLOAD.into(), IMG_PAYLOAD.into()];
    profile
}

fn write_profile(dir: &Path, profile: &Profile) -> std::path::PathBuf {
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_vec(profile).unwrap()).unwrap();
    path
}

fn report(args: &[&str]) -> (bool, String, String) {
    let out = coldspy(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn hostile_names_run_no_script_in_the_html_report_opened_in_chromium() {
    let dir = scratch("hostile-html");
    let profile = write_profile(&dir, &hostile_profile());
    let page = dir.join("report.html");
    let (ok, _, err) = report(&[
        "report",
        profile.to_str().unwrap(),
        "--format",
        "html",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let dom = coldspy_tests::chromium(&page, &dir, &["--dump-dom", "--virtual-time-budget=3000"]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.contains(r#"<tr class="pkg""#) && dom.contains(r#"<div id="waterfall"><svg"#),
        "the page's own script ran to the end (table and waterfall drawn)"
    );
    assert!(!dom.contains("PWNED"), "an injected script ran");
    // The names are shown, as text.
    assert!(
        dom.contains("&lt;img src=x onerror="),
        "the hostile name is shown escaped"
    );
    assert!(
        !dom.contains("<img src=\"x\""),
        "an <img> element was injected"
    );
}

#[test]
fn hostile_names_are_escaped_in_the_flame_graph_svg_opened_in_chromium() {
    let dir = scratch("hostile-svg");
    let profile = write_profile(&dir, &hostile_profile());
    let page = dir.join("flame.svg");
    let (ok, _, err) = report(&[
        "report",
        profile.to_str().unwrap(),
        "--format",
        "flamegraph",
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let dom = coldspy_tests::chromium(&page, &dir, &["--dump-dom", "--virtual-time-budget=3000"]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    assert!(
        dom.contains("<svg"),
        "the SVG parsed: {}",
        &dom[..dom.len().min(300)]
    );
    assert!(!dom.contains("PWNED"), "an injected script ran");
}

#[test]
fn terminal_escapes_in_names_are_shown_escaped_not_sent() {
    let dir = scratch("hostile-terminal");
    let profile = write_profile(&dir, &hostile_profile());
    let (ok, out, err) = report(&["report", profile.to_str().unwrap(), "--top", "100"]);
    assert!(ok, "{err}");
    assert!(
        !out.contains('\x1b') && !out.contains('\x07'),
        "raw escape sent"
    );
    assert!(out.contains("evil\\x1b]0;pwned\\x07"), "{out}");
    let (ok, out, err) = report(&[
        "report",
        profile.to_str().unwrap(),
        "--module",
        TERMINAL_PAYLOAD,
    ]);
    assert!(ok, "{err}");
    assert!(!out.contains('\x1b'), "raw escape in the CCT view");
    let (ok, out, _) = report(&["diff", profile.to_str().unwrap(), profile.to_str().unwrap()]);
    assert!(ok);
    assert!(!out.contains('\x1b'), "raw escape in diff");
}

#[test]
fn collapsed_stacks_keep_one_stack_per_line_with_hostile_names() {
    let dir = scratch("hostile-collapsed");
    let hostile = hostile_profile();
    let profile = write_profile(&dir, &hostile);
    let (ok, out, err) = report(&["report", profile.to_str().unwrap(), "--format", "collapsed"]);
    assert!(ok, "{err}");
    let stacks = coldspy::export::stacks::stacks(&hostile);
    assert_eq!(out.lines().count(), stacks.len(), "one line per stack");
    for (line, (path, _)) in out.lines().zip(&stacks) {
        let (frames, count) = line.rsplit_once(' ').unwrap();
        count.parse::<u64>().unwrap();
        let _ = path;
        assert!(!frames.contains('\x1b'));
    }
    let mut depths: Vec<usize> = out
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().0.split(';').count())
        .collect();
    let mut expected: Vec<usize> = stacks.iter().map(|(p, _)| p.len()).collect();
    depths.sort();
    expected.sort();
    assert_eq!(depths, expected, "a `;` in a name split a frame");
}

#[test]
fn an_out_of_range_frame_index_is_one_clear_error_in_every_format() {
    let dir = scratch("hostile-index");
    let mut profile = hostile_profile();
    profile.cct.root.children.push(CctNode {
        frame: Some(999_999),
        self_samples: 1,
        total: 1,
        ..CctNode::default()
    });
    let path = write_profile(&dir, &profile);
    for extra in [
        &["--format", "html"][..],
        &["--format", "collapsed"],
        &["--format", "flamegraph"],
        &["--module", "json"],
    ] {
        let mut args = vec!["report", path.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = coldspy(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(
            err.contains("frame 999999") && !err.contains("panicked"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_cct_nested_20000_deep_is_refused_by_report_and_diff() {
    let dir = scratch("hostile-deep");
    let mut json = String::from(
        r#"{"schema":"coldspy-profile","schema_version":1,"meta":{"coldspy_version":"","host":"","kernel":"","python_version":"","python_executable":"","pid":1,"command":[],"started_at":"","duration_us":0,"sample_hz":1,"lost_samples":0},"stats":{"samples":1,"import_samples":0,"init_us":0,"exec_us":0,"exec_count":0,"file_count":0},"files":[],"modules":[],"imports":[],"cct":{"frames":[{"function":"f","file":"f.py","line":1,"module":null}],"root":{"frame":null,"self":0,"total":1,"children":["#,
    );
    for _ in 0..20_000 {
        json.push_str(r#"{"frame":0,"self":0,"total":1,"children":["#);
    }
    json.push_str(&"]}".repeat(20_000));
    json.push_str("]}}}");
    let path = dir.join("deep.json");
    std::fs::write(&path, json).unwrap();
    for args in [
        vec!["report", path.to_str().unwrap()],
        vec!["report", path.to_str().unwrap(), "--format", "html"],
        vec!["diff", path.to_str().unwrap(), path.to_str().unwrap()],
    ] {
        let out = coldspy(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("deeper than"), "{err}");
    }
}

#[test]
fn a_2_gib_file_is_refused_from_its_size_without_being_read() {
    let dir = scratch("hostile-huge");
    let path = dir.join("huge.json");
    // Sparse: 2 GiB of size, no disk.
    std::fs::File::create(&path)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    // Under a 512 MiB address-space limit: reading the file into memory
    // would fail the allocation instead of giving the one-line refusal.
    let out = {
        use std::os::unix::process::CommandExt as _;
        let mut command = std::process::Command::new(coldspy_tests::coldspy_bin());
        command.args(["report", path.to_str().unwrap()]);
        // SAFETY: setrlimit between fork and exec touches only this process.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: 512 << 20,
                    rlim_max: 512 << 20,
                };
                libc::setrlimit(libc::RLIMIT_AS, &limit);
                Ok(())
            })
        };
        command.output().unwrap()
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2147483648 bytes") && err.contains("refused"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn report_output_to_a_device_or_standard_output_never_replaces_it() {
    let dir = scratch("hostile-report-out");
    let profile = write_profile(&dir, &hostile_profile());
    let (ok, _, err) = report(&["report", profile.to_str().unwrap(), "-o", "/dev/null"]);
    assert!(ok, "{err}");
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
    let (ok, out, err) = report(&[
        "report",
        profile.to_str().unwrap(),
        "--format",
        "json",
        "-o",
        "-",
    ]);
    assert!(ok, "{err}");
    assert!(
        Profile::from_json(out.as_bytes()).is_ok(),
        "`-o -` is standard output"
    );
    assert!(!Path::new("-").exists());
    let out = coldspy(&[
        "report",
        profile.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("is a directory"), "{err}");
}
