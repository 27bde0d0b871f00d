//! Shared helpers of the report tests: the fixture profile (a real cold start
//! replayed without a kernel), normalization, and the external tools.
#![allow(dead_code)]

use coldspy::analysis::{Analysis, ScoreKind};
use coldspy::export::{Format, Report, View};
use coldspy::model::build::build_profile;
use coldspy::model::profile::Profile;
use coldspy::model::trace::Trace;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The recorded trace of a function importing boto3, tqdm, markdown,
/// pkg_resources and jinja2 (see tests/fixtures/gen/make_trace.py).
pub fn coldstart_trace() -> Trace {
    let text = std::fs::read_to_string(fixture("coldstart_trace.json")).expect("fixture trace");
    serde_json::from_str(&text).expect("fixture trace parses")
}

/// The fixture trace built into a profile, with host/time/pid normalized.
pub fn coldstart_profile() -> Profile {
    normalize(build_profile(&coldstart_trace()))
}

/// Replaces what differs between recordings (host, time, pid, versions) with fixed values.
pub fn normalize(mut profile: Profile) -> Profile {
    let m = &mut profile.meta;
    m.host = "HOST".into();
    m.kernel = "KERNEL".into();
    m.started_at = "2026-01-01T00:00:00Z".into();
    m.coldspy_version = "VERSION".into();
    m.pid = 1;
    m.pids = vec![1];
    profile
}

/// Renders one format to bytes.
pub fn render(profile: &Profile, kind: ScoreKind, view: &View, format: Format) -> Vec<u8> {
    let analysis = Analysis::of(profile, kind);
    let mut out = Vec::new();
    format
        .exporter()
        .write(
            &Report {
                profile,
                analysis: &analysis,
                view,
            },
            &mut out,
        )
        .expect("writer succeeds");
    out
}

/// The path of an external tool, or a failure that says how to install it.
pub fn require_tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed; this test needs it: run cargo xtask setup (Debian package: {})", debian_package(name))
    })
}

fn debian_package(tool: &str) -> &'static str {
    match tool {
        "chromium" => "chromium",
        "go" => "golang-go",
        _ => "see docs/report.md",
    }
}

/// Runs a command, failing the test with its output if it fails.
pub fn run_ok(command: &mut Command) -> String {
    let output = command.output().expect("command starts");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
