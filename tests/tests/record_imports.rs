//! Import timing against the oracle: the target runs with `-X importtime`
//! while coldspy records it, in the same run. The module sets must be equal,
//! times agree within ±5 % or ±0.3 ms (whichever is larger) for modules of
//! ≥ 1 ms, and the parent structure equals the indentation of `-X importtime`.

use coldspy_tests::{core_interpreters, record, require_root, scratch, script, Interpreter};
use serde_json::Value;
use std::collections::HashMap;

/// One line of `-X importtime`.
#[derive(Debug, Clone)]
struct OracleLine {
    module: String,
    self_us: u64,
    cumulative_us: u64,
    parent: Option<String>,
}

/// Parses `-X importtime` lines (post-order: children before their parent).
fn parse_importtime(stderr: &str) -> Vec<OracleLine> {
    let rows: Vec<(usize, String, u64, u64)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("import time:"))
        .filter_map(|rest| {
            let mut parts = rest.splitn(3, '|');
            let self_us = parts.next()?.trim().parse().ok()?;
            let cumulative_us = parts.next()?.trim().parse().ok()?;
            let name = parts.next()?;
            let name = name.strip_prefix(' ').unwrap_or(name);
            let level = (name.len() - name.trim_start().len()) / 2;
            Some((level, name.trim().to_string(), self_us, cumulative_us))
        })
        .collect();
    rows.iter()
        .enumerate()
        .map(|(i, (level, module, self_us, cumulative_us))| OracleLine {
            module: module.clone(),
            self_us: *self_us,
            cumulative_us: *cumulative_us,
            parent: rows[i + 1..]
                .iter()
                .find(|r| r.0 < *level)
                .map(|r| r.1.clone()),
        })
        .collect()
}

/// Compares one recording with its oracle; returns the worst relative error
/// (percent) over modules of ≥ 1 ms.
fn compare(name: &str, profile: &Value, stderr: &str) -> f64 {
    let oracle = parse_importtime(stderr);
    assert!(!oracle.is_empty(), "{name}: -X importtime printed nothing");
    let imports = profile["imports"].as_array().unwrap();
    let mut ours: Vec<&str> = imports
        .iter()
        .map(|i| i["module"].as_str().unwrap())
        .collect();
    let mut theirs: Vec<&str> = oracle.iter().map(|o| o.module.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    assert_eq!(ours, theirs, "{name}: module sets differ");

    // Pair the n-th import of a name with the n-th oracle line of that name.
    let mut by_name: HashMap<&str, Vec<&Value>> = HashMap::new();
    for import in imports {
        by_name
            .entry(import["module"].as_str().unwrap())
            .or_default()
            .push(import);
    }
    let mut by_name_oracle: HashMap<&str, Vec<&OracleLine>> = HashMap::new();
    for line in &oracle {
        by_name_oracle
            .entry(line.module.as_str())
            .or_default()
            .push(line);
    }
    let mut worst = 0.0f64;
    for (module, lines) in &by_name_oracle {
        let mut ordered: Vec<&&OracleLine> = lines.iter().collect();
        ordered.sort_by_key(|l| l.cumulative_us);
        let mut mine: Vec<&&Value> = by_name[module].iter().collect();
        mine.sort_by_key(|v| v["cumulative_us"].as_u64().unwrap());
        for (line, import) in ordered.into_iter().zip(mine) {
            assert_eq!(
                import["parent"].as_str(),
                line.parent.as_deref(),
                "{name}: parent of {module}"
            );
            if line.cumulative_us < 1000 {
                continue;
            }
            for (what, expected, got) in [
                (
                    "cumulative",
                    line.cumulative_us,
                    import["cumulative_us"].as_u64().unwrap(),
                ),
                ("self", line.self_us, import["self_us"].as_u64().unwrap()),
            ] {
                let error = got.abs_diff(expected) as f64;
                let allowed = (expected as f64 * 0.05).max(300.0);
                if expected >= 1000 {
                    worst = worst.max(100.0 * error / expected as f64);
                }
                assert!(
                    error <= allowed,
                    "{name}: {module} {what} {got} us vs -X importtime {expected} us"
                );
            }
        }
    }
    worst
}

fn run_with_oracle(
    interp: &Interpreter,
    python: &str,
    test: &str,
    target: &str,
) -> (Value, String) {
    let dir = scratch(&format!("{test}-{}", interp.name));
    let mut command = vec![python.to_string(), "-X".into(), "importtime".into()];
    command.push(script(target).display().to_string());
    let rec = record(&dir, &[], &command);
    assert!(
        rec.output.status.success(),
        "{}: {:?}",
        interp.name,
        rec.output
    );
    (
        rec.profile,
        String::from_utf8_lossy(&rec.output.stderr).into_owned(),
    )
}

#[test]
fn purpose_built_package_tree_matches_importtime() {
    require_root();
    for interp in core_interpreters() {
        let (profile, stderr) =
            run_with_oracle(&interp, &interp.command[0], "imports", "import_tree.py");
        let worst = compare(&interp.name, &profile, &stderr);
        eprintln!(
            "{}: {} imports match -X importtime; worst error {worst:.2} %",
            interp.name,
            profile["imports"].as_array().unwrap().len()
        );
        let find = |m: &str| {
            profile["imports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["module"] == m)
                .cloned()
                .unwrap()
        };
        assert_eq!(find("does_not_exist_xyz")["failed"], true);
        assert_eq!(find("slowpkg.sub")["parent"], "slowpkg");
        assert_eq!(find("threadmod")["site"]["function"], "in_thread");
        assert_ne!(
            find("threadmod")["tid"],
            find("slowpkg")["tid"],
            "import in a second thread"
        );
        assert_eq!(find("lazymod")["site"]["function"], "later");
        let slowpkg = find("slowpkg");
        assert!(
            slowpkg["self_us"].as_u64().unwrap() >= 200_000,
            "slowpkg sleeps 200 ms at import"
        );
        assert!(
            slowpkg["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["path"].as_str().unwrap().contains("slowpkg")),
            "the files slowpkg's import opened"
        );
        let import_samples = profile["stats"]["import_samples"].as_u64().unwrap();
        assert!(import_samples <= profile["stats"]["samples"].as_u64().unwrap());
        assert!(
            profile["stats"]["init_us"].as_u64().unwrap() >= slowpkg["end_us"].as_u64().unwrap()
        );
        assert!(
            profile["stats"]["init_us"].as_u64().unwrap()
                <= find("lazymod")["start_us"].as_u64().unwrap()
        );
    }
}

#[test]
fn real_libraries_match_importtime() {
    require_root();
    for interp in core_interpreters() {
        let python = interp.venv_python.clone().unwrap_or_else(|| {
            panic!(
                "no venv with the test libraries for {}: run `cargo xtask setup`",
                interp.name
            )
        });
        let (profile, stderr) = run_with_oracle(&interp, &python, "real-libs", "real_libs.py");
        let worst = compare(&interp.name, &profile, &stderr);
        let count = profile["imports"].as_array().unwrap().len();
        eprintln!(
            "{}: {count} real-library imports match -X importtime; worst error {worst:.2} %",
            interp.name
        );
        assert!(
            count > 300,
            "boto3 alone imports hundreds of modules, got {count}"
        );
    }
}
