//! `coldspy report` and `coldspy diff` end to end, through the binary:
//! formats to files, and bad input (corrupt, truncated, missing profile)
//! giving one clear line and a non-zero exit status.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn coldspy(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coldspy"))
        .args(args)
        .output()
        .expect("coldspy runs")
}

fn write_profile(dir: &Path, name: &str, profile: &coldspy::model::profile::Profile) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec(profile).unwrap()).unwrap();
    path
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn report_prints_the_ranked_table_at_100_columns() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(dir.path(), "p.json", &common::coldstart_profile());
    let out = coldspy(&[std::ffi::OsStr::new("report"), path.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("What to change, largest saving first:"));
    assert!(
        text.contains(" 1. ") && text.contains("`boto3` and what it pulls in"),
        "{text}"
    );
    let too_wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 100).collect();
    assert!(
        too_wide.is_empty(),
        "lines wider than 100 columns: {too_wide:#?}"
    );
}

#[test]
fn report_writes_every_format_to_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(dir.path(), "p.json", &common::small_profile(true));
    for (format, magic) in [
        ("json", &b"{"[..]),
        ("html", b"<!DOCTYPE html>"),
        ("speedscope", b"{\"$schema\""),
        ("collapsed", b"<module>"),
        ("flamegraph", b"<?xml"),
        ("pprof", &[0x1f, 0x8b]),
        ("terminal", b"coldspy report:"),
    ] {
        let out_path = dir.path().join(format!("out.{format}"));
        let out = Command::new(env!("CARGO_BIN_EXE_coldspy"))
            .args(["report", "--format", format, "--output"])
            .arg(&out_path)
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{format}: {}", stderr(&out));
        let bytes = std::fs::read(&out_path).unwrap();
        assert!(
            bytes.starts_with(magic),
            "{format} output starts with {:?}",
            &bytes[..bytes.len().min(20)]
        );
        let mode = std::fs::metadata(&out_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{format} output is readable by its owner only");
    }
}

#[test]
fn report_cct_view_filters_by_module() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_profile(dir.path(), "p.json", &common::small_profile(true));
    let out = Command::new(env!("CARGO_BIN_EXE_coldspy"))
        .args([
            "report",
            "--module",
            "markdown",
            "--children",
            "--hide-import-samples",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("through markdown and its sub-modules:"),
        "{text}"
    );
    assert!(text.contains("26 samples"), "{text}");
    assert!(
        !text.contains("tqdm"),
        "other modules' stacks are filtered out"
    );
    let conflict = Command::new(env!("CARGO_BIN_EXE_coldspy"))
        .args(["report", "--hide-import-samples", "--only-import-samples"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        !conflict.status.success(),
        "the two sample filters exclude each other"
    );
}

#[test]
fn diff_ranks_what_the_change_removed_first() {
    let dir = tempfile::tempdir().unwrap();
    let before = write_profile(dir.path(), "before.json", &common::small_profile(true));
    let after = write_profile(dir.path(), "after.json", &common::small_profile(false));
    let out = coldspy(&["diff".as_ref(), before.as_os_str(), after.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let first_package = text
        .lines()
        .skip_while(|l| !l.starts_with("package"))
        .nth(1)
        .unwrap();
    assert!(
        first_package.starts_with("botocore") && first_package.ends_with("removed"),
        "{text}"
    );
    assert!(
        text.contains("import ms               170.0         70.0       -100.0"),
        "{text}"
    );
    let json = coldspy(&[
        "diff".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
        before.as_os_str(),
        after.as_os_str(),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value["packages"][0]["gain_us"], 86_000);
}

/// Bad input: one line on stderr that names the file and the problem, exit status 2.
fn assert_one_clear_line(out: &Output, expected: &str) {
    assert_eq!(out.status.code(), Some(2), "stderr: {}", stderr(out));
    let err = stderr(out);
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(
        err.starts_with("coldspy: ") && err.contains(expected),
        "{err:?}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn corrupt_truncated_and_missing_profiles_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_vec(&common::small_profile(true)).unwrap();
    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let corrupt = dir.path().join("corrupt.json");
    std::fs::write(&corrupt, b"\x00\x01 not json at all").unwrap();
    let other = dir.path().join("other.json");
    std::fs::write(&other, br#"{"schema":"something-else","schema_version":1}"#).unwrap();
    let missing = dir.path().join("missing.json");

    for path in [&truncated, &corrupt] {
        let out = coldspy(&["report".as_ref(), path.as_os_str()]);
        assert_one_clear_line(&out, "is not a coldspy profile (corrupt or truncated JSON)");
    }
    assert_one_clear_line(
        &coldspy(&["report".as_ref(), other.as_os_str()]),
        "is not a coldspy profile",
    );
    assert_one_clear_line(
        &coldspy(&["report".as_ref(), missing.as_os_str()]),
        "cannot read profile",
    );
    let good_path = write_profile(dir.path(), "good.json", &common::small_profile(true));
    let out = coldspy(&[
        "diff".as_ref(),
        good_path.as_os_str(),
        truncated.as_os_str(),
    ]);
    assert_one_clear_line(&out, "truncated.json is not a coldspy profile");
}
