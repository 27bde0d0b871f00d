//! Offline replay: a trace recorded from `tests/scripts/import_tree.py` on
//! CPython 3.12 (`record --save-trace`) rebuilds into a profile without a
//! kernel, and the model's invariants and the script's known costs hold.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy::model::build::build_profile;
use coldspy::model::profile::Profile;
use coldspy::model::trace::Trace;
use std::collections::HashSet;

fn fixture() -> Trace {
    let path = coldspy_tests::repo_root().join("tests/fixtures/import_tree.trace.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_recorded_trace_rebuilds_the_same_profile_every_time() {
    let trace = fixture();
    let a = build_profile(&trace);
    let b = build_profile(&trace);
    assert_eq!(a, b, "building is deterministic");
    let json = serde_json::to_vec(&a).unwrap();
    assert_eq!(
        Profile::from_json(&json).unwrap(),
        a,
        "the profile round-trips through JSON"
    );
}

#[test]
fn import_tree_invariants_and_known_costs() {
    let p = build_profile(&fixture());
    let names: HashSet<&str> = p.imports.iter().map(|i| i.module.as_str()).collect();
    for import in &p.imports {
        assert!(import.self_us <= import.cumulative_us, "{}", import.module);
        // Each is rounded from ns on its own: they agree to 1 us.
        assert!(
            (import.end_us - import.start_us).abs_diff(import.cumulative_us) <= 1,
            "{}",
            import.module
        );
        if let Some(parent) = &import.parent {
            assert!(
                names.contains(parent.as_str()),
                "parent {parent} of {} is an import",
                import.module
            );
            assert!(import.depth > 0);
        } else {
            assert_eq!(import.depth, 0, "{}", import.module);
        }
    }
    let find = |m: &str| p.imports.iter().find(|i| i.module == m).unwrap();
    // slowpkg sleeps 200 ms itself and imports slowpkg.sub, which sleeps 50 ms.
    assert!((200_000..230_000).contains(&find("slowpkg").self_us));
    assert!((50_000..60_000).contains(&find("slowpkg.sub").cumulative_us));
    assert!(find("does_not_exist_xyz").failed);
    assert_eq!(find("lazymod").site.as_ref().unwrap().function, "later");
    // Every module row comes from an import; file counts match the imports' files.
    for row in &p.modules {
        let first = find(&row.name);
        assert_eq!(row.files_opened as usize, first.files.len(), "{}", row.name);
    }
    assert_eq!(p.stats.file_count as usize, p.files.len());
    assert!(p.stats.init_us >= find("slowpkg").end_us);
    assert!(p.stats.init_us <= find("lazymod").start_us);
    let cct_total: u64 = p.cct.root.children.iter().map(|c| c.total).sum();
    assert_eq!(cct_total, p.stats.samples);
}
