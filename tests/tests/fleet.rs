//! The fleet: `coldspy merge`, `coldspy export --format parquet` and the
//! labelled pprof, on profiles generated from the recorded fixture
//! (`examples/handler.py`), varied deterministically in function, host,
//! day, timings, imported packages and run-time use. The oracles are other
//! programs: DuckDB runs the README's SQL on the exported table, `go tool
//! pprof` reads and merges the pprof files. Needs no root.

// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::model::build::build_profile;
use coldspy::model::trace::Trace;
use coldspy_tests::{coldspy, repo_root, scratch};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const FUNCTIONS: [&str; 3] = ["resize", "thumbnail", "ingest"];

fn fixture() -> Value {
    let path = repo_root().join("tests/fixtures/handler.trace.json");
    let trace: Trace = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    serde_json::to_value(build_profile(&trace)).unwrap()
}

/// Start `i` of the generated fleet: the fixture with its function, host,
/// day and timings changed, some packages not imported and some not used.
fn vary(base: &Value, i: usize) -> Value {
    let mut p = base.clone();
    let function = FUNCTIONS[i % FUNCTIONS.len()];
    // Scale 0.5..2.0, a different one per start.
    let scale = 0.5 + ((i * 37) % 16) as f64 / 10.0;
    let s = |v: &Value| json!((v.as_u64().unwrap_or(0) as f64 * scale).round() as u64);
    p["meta"]["labels"] = json!({"function": function, "cgroup": format!("/fleet/{}", i % 2)});
    p["meta"]["host"] = json!(format!("host-{}", i % 4));
    p["meta"]["started_at"] = json!(format!(
        "2026-11-{}T04:{:02}:{:02}Z",
        25 + i % 2,
        i / 60 % 60,
        i % 60
    ));
    for key in ["init_us", "exec_us"] {
        p["stats"][key] = s(&p["stats"][key]);
    }
    p["meta"]["duration_us"] = s(&p["meta"]["duration_us"]);
    let imports = p["imports"].as_array_mut().unwrap();
    // `ingest` never imports markdown; every fifth start skips urllib3's http2.
    imports.retain(|r| {
        let m = r["module"].as_str().unwrap();
        !(function == "ingest" && m.starts_with("markdown")
            || i % 5 == 0 && m.starts_with("urllib3.http2"))
    });
    for r in imports.iter_mut() {
        for key in ["self_us", "cumulative_us"] {
            r[key] = s(&r[key]);
        }
    }
    // Every fourth start does not run markdown's frames (the package the
    // handler uses at run time): no run-time use.
    if i % 4 == 1 {
        for f in p["cct"]["frames"].as_array_mut().unwrap() {
            if f["module"]
                .as_str()
                .is_some_and(|m| m.starts_with("markdown"))
            {
                f["module"] = Value::Null;
            }
        }
    }
    p
}

/// Writes starts `range` into `dir`, plus the bad files when `bad`.
fn write_fleet(base: &Value, dir: &Path, range: std::ops::Range<usize>, bad: bool) -> Vec<PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    let mut bad_files = Vec::new();
    for i in range {
        let path = dir.join(format!("start-{i:04}.json"));
        std::fs::write(&path, serde_json::to_vec(&vary(base, i)).unwrap()).unwrap();
        if bad && i == 1 {
            let whole = std::fs::read(&path).unwrap();
            let cut = dir.join("truncated.json");
            std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
            let corrupt = dir.join("corrupt.json");
            std::fs::write(&corrupt, b"\x00\x01 not json").unwrap();
            let other = dir.join("other-schema.json");
            std::fs::write(
                &other,
                br#"{"schema": "speedscope", "schema_version": 1, "x": []}"#,
            )
            .unwrap();
            bad_files.extend([cut, corrupt, other]);
        }
    }
    bad_files
}

fn run_ok(args: &[&str]) -> String {
    let out = coldspy(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "coldspy {args:?} failed: {stderr}");
    stderr
}

fn merged(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The README's fleet-ranking SQL, as written there.
fn readme_sql() -> String {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let after = readme
        .split_once("<!-- fleet-ranking-sql -->")
        .expect("the README marks the fleet-ranking SQL")
        .1;
    let body = after.split_once("```sql\n").unwrap().1;
    body.split_once("```").unwrap().0.to_string()
}

/// The venv python of set-up with the duckdb wheel.
fn duckdb_python() -> String {
    let python = coldspy_tests::venv_python("pyenv-3.12");
    let ok = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{python} has no duckdb: run `cargo xtask setup` (xtask/requirements-test.txt)"
    );
    python
}

#[test]
fn duckdb_runs_the_readme_sql_and_agrees_with_coldspy_merge() {
    let dir = scratch("fleet-duckdb");
    let base = fixture();
    let (a, b, table) = (dir.join("a"), dir.join("b"), dir.join("fleet"));
    let bad = write_fleet(&base, &a, 0..20, true);
    write_fleet(&base, &b, 20..36, false);
    let a_s = a.to_str().unwrap();
    let b_s = b.to_str().unwrap();
    let t_s = table.to_str().unwrap();

    // Two exports: the second appends new files.
    let stderr = run_ok(&["export", "--format", "parquet", a_s, "-o", t_s]);
    assert!(stderr.contains("skipped 3"), "{stderr}");
    let files_after_first: Vec<PathBuf> = walk(&table);
    run_ok(&["export", "--format", "parquet", b_s, "-o", t_s]);
    let files = walk(&table);
    assert!(
        files_after_first.iter().all(|f| files.contains(f)),
        "an export rewrote a file"
    );
    assert_eq!(files.len(), 2 * files_after_first.len(), "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.extension().is_some_and(|e| e == "parquet")));
    assert!(files.iter().any(|f| f
        .to_string_lossy()
        .contains("/imports/date=2026-11-26/function=ingest/")));

    let from_json = dir.join("json.merged.json");
    let from_table = dir.join("table.merged.json");
    run_ok(&["merge", a_s, b_s, "-o", from_json.to_str().unwrap()]);
    run_ok(&["merge", t_s, "-o", from_table.to_str().unwrap()]);
    let (json_m, table_m) = (merged(&from_json), merged(&from_table));
    assert_eq!(json_m["schema"], "coldspy-merged");
    assert_eq!(json_m["starts"], 36);
    // The bad files are counted and named, not fatal.
    let skipped: Vec<&str> = json_m["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    for f in &bad {
        assert!(
            skipped.contains(&f.to_str().unwrap()),
            "{f:?} not named in {skipped:?}"
        );
    }
    // The table gives the same aggregate as the JSON it came from.
    assert_eq!(json_m["groups"], table_m["groups"]);

    // DuckDB on the table, with the README's SQL.
    let sql = readme_sql().replace("'fleet/", &format!("'{t_s}/"));
    let script = "import duckdb, json, sys\nrows = duckdb.sql(sys.stdin.read()).fetchall()\nprint(json.dumps([[r[0], r[1], r[2], int(r[3]), float(r[4]), r[5]] for r in rows]))\n";
    let mut child = Command::new(duckdb_python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, String, u64, u64, f64, u64)> =
        serde_json::from_slice(&out.stdout).unwrap();
    assert!(rows.len() > 10, "{rows:?}");

    // coldspy's ranking, in the SQL's order (function, then rank).
    let ours = coldspy_tests::merged_ranking(&table_m["groups"]);
    assert_eq!(ours.len(), rows.len());
    for (o, d) in ours.iter().zip(&rows) {
        assert_eq!(
            (&o.0, &o.1, o.2, o.3, o.5),
            (&d.0, &d.1, d.2, d.3, d.5),
            "coldspy vs DuckDB"
        );
        assert!(
            (o.4 - d.4).abs() < 1e-6,
            "median of {} {}: {} vs {}",
            o.0,
            o.1,
            o.4,
            d.4
        );
    }
    // The variations show: some packages used in some starts only, markdown
    // never imported by `ingest`.
    assert!(
        rows.iter().any(|r| r.5 > 0 && r.5 < r.2),
        "no partly used package"
    );
    assert!(!rows.iter().any(|r| r.0 == "ingest" && r.1 == "markdown"));

    // The merged file opens in `coldspy report`, terminal and HTML.
    let f = from_json.to_str().unwrap();
    let out = coldspy(&["report", f]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("across 12 starts of `resize`"), "{text}");
    let html = dir.join("fleet.html");
    run_ok(&[
        "report",
        f,
        "--format",
        "html",
        "-o",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2 id=\"resize\">resize</h2>") && page.contains("class=\"packages\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn an_empty_directory_is_one_clear_line_and_fails() {
    let dir = scratch("fleet-empty");
    let out = coldspy(&["merge", dir.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no profiles to merge"), "{stderr}");
}

/// `go tool pprof` with `args` on `files`.
fn go_pprof(dir: &Path, args: &[&str], files: &[&Path]) -> String {
    let out = Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .args(files)
        .env("HOME", dir)
        .output()
        .expect("go (golang-go) is missing: run `cargo xtask setup`");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn go_tool_pprof_merges_labelled_pprof_files() {
    let dir = scratch("fleet-pprof");
    let base = fixture();
    let profiles = dir.join("profiles");
    write_fleet(&base, &profiles, 0..2, false);
    // The oracle of the phase split: the CCT's own per-node counts.
    fn sum(node: &Value, key: &str) -> u64 {
        node[key].as_u64().unwrap_or(0)
            + node["children"]
                .as_array()
                .map_or(0, |c| c.iter().map(|n| sum(n, key)).sum())
    }
    let samples = sum(&base["cct"]["root"], "self");
    let import_samples = sum(&base["cct"]["root"], "import_self");
    assert!(samples > import_samples && import_samples > 0);

    let mut files = Vec::new();
    for i in 0..2 {
        let out = dir.join(format!("{i}.pb.gz"));
        let input = profiles.join(format!("start-{i:04}.json"));
        run_ok(&[
            "report",
            input.to_str().unwrap(),
            "--format",
            "pprof",
            "-o",
            out.to_str().unwrap(),
        ]);
        files.push(out);
    }
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let top = go_pprof(&dir, &["-top"], &refs);
    assert!(
        top.contains(&format!("Total samples = {}", 2 * samples)),
        "{top}"
    );
    let tags = go_pprof(&dir, &["-tags"], &refs);
    for label in ["host-0", "host-1", "import", "run", "phase", "function"] {
        assert!(tags.contains(label), "{label} missing in {tags}");
    }
    // Only the import phase: the import samples of both.
    let import = go_pprof(
        &dir,
        &["-top", "-nodefraction=0", "-tagfocus=phase=import"],
        &refs,
    );
    assert!(
        import.contains(&format!("accounting for {}, ", 2 * import_samples)),
        "{import}"
    );

    // `coldspy merge --pprof`: one file, the same totals, the function labels.
    let one = dir.join("fleet.pb.gz");
    run_ok(&[
        "merge",
        profiles.to_str().unwrap(),
        "--pprof",
        one.to_str().unwrap(),
        "-o",
        dir.join("m.json").to_str().unwrap(),
    ]);
    let top = go_pprof(&dir, &["-top"], &[&one]);
    assert!(
        top.contains(&format!("Total samples = {}", 2 * samples)),
        "{top}"
    );
    let tags = go_pprof(&dir, &["-tags"], &[&one]);
    assert!(
        tags.contains("resize") && tags.contains("thumbnail"),
        "{tags}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The merged `groups` of the generated fleet (36 starts, no bad input), as
/// the merge wrote them before it was made memory-bounded (interned names,
/// streamed table reads): the golden file was written by that version
/// (`COLDSPY_BIN=<that coldspy> COLDSPY_BLESS=1`), so a change of the output
/// shows here. The JSON path and the table path must both give it.
#[test]
fn merged_groups_equal_the_ones_before_the_bounded_merge() {
    let dir = scratch("fleet-golden");
    let base = fixture();
    let (profiles, table) = (dir.join("profiles"), dir.join("fleet"));
    write_fleet(&base, &profiles, 0..36, false);
    let (p_s, t_s) = (profiles.to_str().unwrap(), table.to_str().unwrap());
    run_ok(&["export", "--format", "parquet", p_s, "-o", t_s]);
    let golden = repo_root().join("tests/fixtures/golden/fleet.merged-groups.json");
    for (input, name) in [(p_s, "json"), (t_s, "table")] {
        let out = dir.join(format!("{name}.merged.json"));
        run_ok(&["merge", input, "-o", out.to_str().unwrap()]);
        let groups = merged(&out)["groups"].clone();
        if std::env::var_os("COLDSPY_BLESS").is_some() && name == "json" {
            std::fs::write(
                &golden,
                serde_json::to_string_pretty(&groups).unwrap() + "\n",
            )
            .unwrap();
        }
        let expected: Value = serde_json::from_slice(
            &std::fs::read(&golden).expect("golden file missing: COLDSPY_BLESS=1"),
        )
        .unwrap();
        if groups != expected {
            let (ours, theirs) = (
                serde_json::to_string_pretty(&groups).unwrap(),
                serde_json::to_string_pretty(&expected).unwrap(),
            );
            let line = ours
                .lines()
                .zip(theirs.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            let show = |t: &str| {
                t.lines()
                    .skip(line.saturating_sub(3))
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            panic!(
                "{name}: merged groups differ from {} at line {}:\n--- golden\n{}\n+++ now\n{}",
                golden.display(),
                line + 1,
                show(&theirs),
                show(&ours)
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--since` compares instants: an offset moves the bound, a date is
/// midnight UTC, and what is neither is refused in one line.
#[test]
fn since_takes_a_date_or_a_time_with_an_offset() {
    let dir = scratch("fleet-since");
    let profiles = dir.join("profiles");
    // Starts 0..8: even ones on 2026-11-25, odd ones on 2026-11-26, at 04:00:0i Z.
    write_fleet(&fixture(), &profiles, 0..8, false);
    let p_s = profiles.to_str().unwrap();
    let out = dir.join("m.json");
    let starts = |since: &str| {
        run_ok(&["merge", p_s, "--since", since, "-o", out.to_str().unwrap()]);
        merged(&out)["starts"].as_u64().unwrap()
    };
    assert_eq!(starts("2026-11-26"), 4);
    assert_eq!(starts("2026-11-25"), 8);
    // 06:00:04+02:00 is 04:00:04Z: starts 5 and 7 of the 26th are kept.
    assert_eq!(starts("2026-11-26T06:00:04+02:00"), 2);
    assert_eq!(starts("2026-11-26T04:00:04Z"), 2);
    // -01:00: 03:00:04-01:00 is 04:00:04Z too.
    assert_eq!(starts("2026-11-26T03:00:04-01:00"), 2);
    let bad = coldspy(&["merge", p_s, "--since", "26/11/2026"]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("RFC 3339"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
