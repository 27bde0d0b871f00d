//! The layout the architecture promises, checked on the source: no top-level
//! module of the system crate uses a module that uses it back (directly or
//! through others), `sys` is the bottom layer, and the pure core names none
//! of the system crates, nor pulls one in (`cargo tree --offline`). Runs as
//! a plain user, reads files only.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

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

/// `cargo tree` of the core's normal dependencies on this target, one
/// `name vX.Y.Z` per line (`extra` adds arguments such as `-i libc`); `None`
/// when cargo says the `-i` package is not in the graph at all.
fn core_tree(extra: &[&str]) -> Option<Vec<String>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = std::process::Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked", "-p", "coldspy-core"])
        .args(["-e", "normal", "--prefix", "none", "--format", "{p}"])
        .args(extra)
        .current_dir(workspace)
        .output()
        .expect("run cargo tree");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("did not match any packages") {
        return None;
    }
    assert!(out.status.success(), "cargo tree failed: {stderr}");
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        text.lines()
            .map(|l| l.trim_end_matches(" (*)").to_string())
            .collect(),
    )
}

/// The resolved graph, not only the manifest: nothing the core pulls in
/// transitively is a system crate or libc (inferno, whose hasher brings
/// libc, is the system crate's; the core takes a flame renderer).
#[test]
fn the_core_crate_pulls_in_no_system_crate() {
    let names = |tree: &[String]| -> BTreeSet<String> {
        tree.iter()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    };
    let all = names(&core_tree(&[]).expect("the core's tree"));
    assert!(all.contains("serde_json"), "{all:?}");
    let system: Vec<&String> = all
        .iter()
        .filter(|n| {
            n.starts_with("aya")
                || ["clap", "tokio", "libc", "coldspy-user", "coldspy-common"].contains(&n.as_str())
        })
        .collect();
    assert!(system.is_empty(), "coldspy-core pulls in {system:?}");
    assert!(
        core_tree(&["-i", "libc"]).is_none_or(|t| t.is_empty()),
        "libc reaches coldspy-core"
    );
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

/// The source text with comments, string literals and char literals blanked
/// (replaced by spaces, newlines kept), so that braces inside them are not
/// counted and line numbers stay true.
fn code_only(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for b in &mut out[from..to.min(bytes.len())] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
    };
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0usize, i);
            while j < bytes.len() {
                if bytes[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if bytes[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if (rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br"))
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_'))
        {
            let start = if rest[0] == b'b' { i + 2 } else { i + 1 };
            let hashes = bytes[start..].iter().take_while(|&&b| b == b'#').count();
            if bytes.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut closing = vec![b'"'];
            closing.extend(std::iter::repeat_n(b'#', hashes));
            let body = start + hashes + 1;
            let end = bytes[body..]
                .windows(closing.len())
                .position(|w| w == closing.as_slice())
                .map_or(bytes.len(), |p| body + p + closing.len());
            blank(&mut out, i, end);
            i = end;
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{7f}'), not a lifetime ('a).
            let end = if rest.get(1) == Some(&b'\\') {
                rest.iter().skip(2).position(|&b| b == b'\'').map(|p| p + 3)
            } else if rest.get(2) == Some(&b'\'') {
                Some(3)
            } else {
                std::str::from_utf8(&rest[1..rest.len().min(6)])
                    .ok()
                    .or_else(|| std::str::from_utf8(&rest[1..rest.len().min(5)]).ok())
                    .and_then(|s| s.chars().next())
                    .filter(|c| !c.is_ascii())
                    .map(|c| 1 + c.len_utf8() + 1)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i, i + end);
                    i += end;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Index of the brace that closes the one opened at `open`.
fn closing_brace(code: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (at, &b) in code.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return at;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// `#[cfg(test)]` modules blanked out: test bodies (tables of fabricated
/// inputs) are not held to the length rule.
fn without_test_modules(mut code: Vec<u8>) -> Vec<u8> {
    let mut from = 0;
    while let Some(at) = find(&code[from..], b"#[cfg(test)]").map(|p| p + from) {
        let after = at + b"#[cfg(test)]".len();
        let next = String::from_utf8_lossy(&code[after..])
            .trim_start()
            .to_string();
        if next.starts_with("mod ") {
            if let Some(open) = code[after..].iter().position(|&b| b == b'{' || b == b';') {
                let open = after + open;
                if code[open] == b'{' {
                    let close = closing_brace(&code, open);
                    let last = close.min(code.len() - 1);
                    for b in &mut code[at..=last] {
                        if *b != b'\n' {
                            *b = b' ';
                        }
                    }
                }
            }
        }
        from = after;
    }
    code
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// (name, first line, line count) of every fn with a body, counted from the
/// line of `fn` to the line of its closing brace.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let code = without_test_modules(code_only(text));
    let line_of = |at: usize| code[..at].iter().filter(|&&b| b == b'\n').count() + 1;
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(p) = find(&code[at..], b"fn ").map(|p| p + at) {
        at = p + 3;
        if p > 0 && (code[p - 1].is_ascii_alphanumeric() || code[p - 1] == b'_') {
            continue;
        }
        let name: String = code[at..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
            .map(|&b| b as char)
            .collect();
        if name.is_empty() {
            continue; // `fn(` types and `Fn ` bounds
        }
        let Some(end) = code[at..].iter().position(|&b| b == b'{' || b == b';') else {
            break;
        };
        if code[at + end] == b';' {
            continue; // a declaration without a body
        }
        let close = closing_brace(&code, at + end);
        found.push((name, line_of(p), line_of(close) - line_of(p) + 1));
    }
    found
}

/// The longest a function may be: one that does one thing fits a screen.
const MAX_FUNCTION_LINES: usize = 80;

/// Known longer functions, each to be split by the change that owns its
/// file: (path suffix, fn name). Shrink this list; never grow it.
const NOT_YET_SPLIT: [(&str, &str); 0] = [];

#[test]
fn no_function_is_longer_than_80_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "src",
        "core/src",
        "../coldspy-common/src",
        "../coldspy-ebpf/src",
    ] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut too_long = Vec::new();
    for file in &files {
        for (name, line, lines) in function_lengths(&std::fs::read_to_string(file).unwrap()) {
            let known = NOT_YET_SPLIT
                .iter()
                .any(|(suffix, known)| file.ends_with(suffix) && name == *known);
            if lines > MAX_FUNCTION_LINES && !known {
                too_long.push(format!(
                    "{}:{line} fn {name}: {lines} lines",
                    file.display()
                ));
            }
        }
    }
    assert!(
        too_long.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines: {too_long:#?}"
    );
}

#[test]
fn function_lengths_count_from_fn_to_its_closing_brace() {
    let text = "fn a() {\n    let s = \"}\";\n    let c = '{';\n    // }\n}\n\
                trait T { fn decl(&self); }\n\
                fn b<'x>(v: &'x str) -> impl Fn() + 'x {\n    move || { let _ = r#\"{\"#; }\n}\n\
                #[cfg(test)]\nmod tests {\n    fn hidden() {}\n}\n";
    assert_eq!(
        function_lengths(text),
        vec![("a".to_string(), 1, 5), ("b".to_string(), 7, 3)]
    );
}
