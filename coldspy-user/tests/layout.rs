//! The layout the architecture promises, checked on the source: no top-level
//! module of the system crate uses a module that uses it back (directly or
//! through others), `sys` is the bottom layer, and the pure core names none
//! of the system crates. Runs as a plain user, reads files only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The `crate::NAME` paths a source text uses, including `crate::{a, b}`.
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for name in group[..end].split(',') {
                let name: String = name
                    .trim()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != "self" {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Top-level module → the other top-level modules it uses.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let uses = crate_paths(&std::fs::read_to_string(&file).unwrap());
        let entry = graph.entry(top.clone()).or_default();
        entry.extend(uses.into_iter().filter(|m| *m != top));
    }
    graph
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(node) = stack.pop() {
        for next in graph.get(&node).into_iter().flatten() {
            if next == to {
                return true;
            }
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    false
}

#[test]
fn no_module_of_the_system_crate_uses_a_module_that_uses_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    assert!(graph.contains_key("record") && graph.contains_key("sys"));
    let mut cycles = Vec::new();
    for (module, uses) in &graph {
        for used in uses {
            if graph.contains_key(used) && reaches(&graph, used, module) {
                cycles.push(format!("{module} -> {used} -> … -> {module}"));
            }
        }
    }
    assert!(cycles.is_empty(), "module cycles: {cycles:#?}");
}

#[test]
fn sys_is_the_bottom_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = module_graph(&src);
    let allowed: BTreeSet<String> = ["error".to_string()].into();
    let used: BTreeSet<String> = graph["sys"]
        .iter()
        .filter(|m| graph.contains_key(*m))
        .cloned()
        .collect();
    assert!(used.is_subset(&allowed), "sys uses {used:?}");
}

#[test]
fn the_core_crate_depends_on_no_system_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("core/Cargo.toml"))
            .unwrap();
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .expect("core has dependencies")
        .split("\n[")
        .next()
        .unwrap();
    for forbidden in ["aya", "libc", "clap", "tokio", "coldspy-user"] {
        assert!(
            !dependencies
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{forbidden} "))
                    || l.trim_start().starts_with(&format!("{forbidden}="))),
            "coldspy-core depends on {forbidden}"
        );
    }
}

#[test]
fn crate_paths_are_found_in_use_groups_and_paths() {
    let found = crate_paths("use crate::{plot, stats::x};\nlet a = crate::sys::resolve(p);");
    assert_eq!(
        found,
        ["plot", "stats", "sys"]
            .into_iter()
            .map(String::from)
            .collect()
    );
}
