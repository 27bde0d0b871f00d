//! Property tests of the profile reader and of every writer against hostile
//! input: arbitrary bytes, mutated valid profiles, and arbitrary valid
//! profiles whose strings a hostile target chose. Nothing may panic (a
//! release build aborts on panic), the reader refuses what writers cannot
//! take, and no writer lets markup, script or control characters through.
// A test/bench/bin target sees every dependency of its package; the
// lint is meant for the library targets (workspace Cargo.toml).
#![allow(unused_crate_dependencies)]

use coldspy_core::analysis::{analyze, ScoreKind};
use coldspy_core::export::Format;
use coldspy_core::model::profile::{
    Cct, CctNode, Frame, ImportRecord, ModuleRecord, Profile, MAX_CCT_DEPTH,
};
use coldspy_core::report::{cct_view, diff, CctFilter, SampleKind};
use proptest::prelude::*;

/// Cases per property (stated in the README's guarantees section).
const CASES: u32 = 512;

const FORMATS: [Format; 7] = [
    Format::Terminal,
    Format::Json,
    Format::Html,
    Format::Collapsed,
    Format::Flamegraph,
    Format::Speedscope,
    Format::Pprof,
];

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<img src=x onerror=alert(1)>".to_string()),
        Just("</script><script>alert(1)</script>".to_string()),
        Just("\x1b]0;pwned\x07".to_string()),
        Just("a;b\nc 12".to_string()),
        "[a-z._/<>&\"';\\\\ \\x00-\\x1f\\x7f\u{2028}\u{202e}]{0,16}",
        any::<String>(),
    ]
}

fn node(frames: usize) -> impl Strategy<Value = CctNode> {
    let leaf = (0..frames, 0u64..1000, 0u64..1000).prop_map(|(f, s, i)| CctNode {
        frame: Some(f),
        self_samples: s,
        total: s,
        import_self: i.min(s),
        import_total: i.min(s),
        children: Vec::new(),
    });
    leaf.prop_recursive(8, 64, 4, move |inner| {
        (0..frames, 0u64..1000, prop::collection::vec(inner, 0..4)).prop_map(|(f, s, children)| {
            let total = s + children.iter().map(|c| c.total).sum::<u64>();
            let import_total = children.iter().map(|c| c.import_total).sum();
            CctNode {
                frame: Some(f),
                self_samples: s,
                total,
                import_self: 0,
                import_total,
                children,
            }
        })
    })
}

fn profile() -> impl Strategy<Value = Profile> {
    let frames = prop::collection::vec(
        (
            hostile_string(),
            hostile_string(),
            hostile_string(),
            0u32..5000,
            prop::option::of(hostile_string()),
        ),
        1..8,
    );
    frames.prop_flat_map(|frames| {
        let n = frames.len();
        let frames: Vec<Frame> = frames
            .into_iter()
            .map(|(function, qualname, file, line, module)| Frame {
                function,
                qualname,
                file,
                line,
                module,
            })
            .collect();
        let modules = prop::collection::vec(
            (
                hostile_string(),
                0u64..1_000_000,
                0u64..1_000_000,
                0u64..500,
                prop::option::of(hostile_string()),
            ),
            0..6,
        );
        let imports = prop::collection::vec(
            (hostile_string(), 0u32..6, 0u64..1_000_000, 0u64..1_000_000),
            0..6,
        );
        (
            Just(frames),
            prop::collection::vec(node(n), 0..4),
            modules,
            imports,
            prop::collection::vec(hostile_string(), 0..3),
        )
            .prop_map(|(frames, children, modules, imports, command)| {
                let mut p = Profile::empty();
                p.meta.command = command;
                p.meta.python_version = "3.12.1</title><script>alert(1)</script>".into();
                p.cct = Cct {
                    frames,
                    root: CctNode {
                        frame: None,
                        total: children.iter().map(|c| c.total).sum(),
                        import_total: children.iter().map(|c| c.import_total).sum(),
                        children,
                        ..CctNode::default()
                    },
                };
                p.stats.samples = p.cct.root.total;
                p.modules = modules
                    .into_iter()
                    .map(|(name, self_us, more, samples, file)| ModuleRecord {
                        name,
                        file,
                        self_us,
                        cumulative_us: self_us + more,
                        samples,
                        ..ModuleRecord::default()
                    })
                    .collect();
                p.imports = imports
                    .into_iter()
                    .map(|(module, depth, start_us, len)| ImportRecord {
                        module,
                        parent: None,
                        tid: 1,
                        start_us,
                        end_us: start_us + len,
                        self_us: len,
                        cumulative_us: len,
                        depth,
                        files: Vec::new(),
                        site: None,
                        failed: false,
                        parent_index: None,
                        via: None,
                    })
                    .collect();
                p
            })
    })
}

/// Runs every writer and view; returns the outputs of the text formats.
fn write_everything(profile: &Profile) -> Vec<(Format, Vec<u8>)> {
    let mut profile = profile.clone();
    let analysis = analyze(&mut profile, ScoreKind::Runtime);
    let _ = analyze(&mut profile.clone(), ScoreKind::Classic);
    let mut outputs = Vec::new();
    for format in FORMATS {
        let mut out = Vec::new();
        format
            .exporter(escaping_renderer)
            .write(&profile, &analysis, &mut out)
            .unwrap();
        outputs.push((format, out));
    }
    for module in profile
        .modules
        .iter()
        .map(|m| m.name.clone())
        .chain(["".into()])
    {
        for kind in [SampleKind::All, SampleKind::RunTime, SampleKind::Import] {
            let filter = CctFilter {
                module: module.clone(),
                children: true,
                kind,
            };
            cct_view::write(&profile, &filter, &mut Vec::new()).unwrap();
        }
    }
    let (mut a, mut b) = (profile.clone(), Profile::empty());
    diff::write(&mut a, &mut b, 10, &mut Vec::new()).unwrap();
    outputs
}

/// What a hostile string must never produce in each format.
fn assert_nothing_injected(outputs: &[(Format, Vec<u8>)], frames: usize) {
    for (format, bytes) in outputs {
        let text = String::from_utf8_lossy(bytes);
        match format {
            Format::Terminal => assert!(
                !text
                    .chars()
                    .any(|c| c.is_control() && c != '\n' && c != '\t'),
                "control character in the terminal report"
            ),
            Format::Html => {
                assert_eq!(
                    text.matches("<script").count(),
                    2,
                    "a script element was injected"
                );
                assert!(!text.contains("<img src=x"), "markup was injected");
            }
            Format::Collapsed => {
                for line in text.lines() {
                    let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
                    count.parse::<u64>().expect("a count ends the line");
                    assert!(stack.split(';').count() <= frames * 64 + 64);
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn the_reader_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(p) = Profile::from_json(&bytes) {
            let _ = p.validate();
        }
    }

    #[test]
    fn valid_profiles_with_hostile_strings_write_in_every_format_without_injection(p in profile()) {
        prop_assert!(p.validate().is_ok(), "{:?}", p.validate());
        let outputs = write_everything(&p);
        assert_nothing_injected(&outputs, p.cct.frames.len());
        // The JSON writer's output is read back whole.
        let json = &outputs.iter().find(|(f, _)| *f == Format::Json).unwrap().1;
        let back = Profile::from_json(json).unwrap();
        prop_assert_eq!(back.cct, p.cct);
    }

    #[test]
    fn mutated_profiles_are_refused_or_written_without_panic(
        p in profile(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = serde_json::to_vec(&p).unwrap();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(profile) = Profile::from_json(&bytes) {
            if profile.validate().is_ok() {
                write_everything(&profile);
            }
        }
    }

    #[test]
    fn out_of_range_frame_indices_are_refused(p in profile(), bad in 0usize..1000) {
        let mut p = p;
        let n = p.cct.frames.len();
        p.cct.root.children.push(CctNode { frame: Some(n + bad), ..CctNode::default() });
        let err = p.validate().unwrap_err();
        prop_assert!(err.contains(&format!("frame {}", n + bad)), "{}", err);
    }
}

fn chain(depth: usize) -> Profile {
    let mut p = Profile::empty();
    p.cct.frames.push(Frame {
        function: "f".into(),
        qualname: String::new(),
        file: "f.py".into(),
        line: 1,
        module: Some("m".into()),
    });
    let mut node = CctNode {
        frame: Some(0),
        self_samples: 1,
        total: 1,
        ..CctNode::default()
    };
    for _ in 1..depth {
        node = CctNode {
            frame: Some(0),
            total: 1,
            children: vec![node],
            ..CctNode::default()
        };
    }
    p.cct.root.children.push(node);
    p.cct.root.total = 1;
    p
}

/// A tree of `depth` frames serialized without recursion (serde would
/// recurse, and this must not depend on the stack of the test thread).
fn deep_json(depth: usize) -> Vec<u8> {
    let node = r#"{"frame":0,"self":0,"total":1,"children":["#;
    let mut s = String::from(
        r#"{"schema":"coldspy-profile","schema_version":1,"meta":{"coldspy_version":"","host":"","kernel":"","python_version":"","python_executable":"","pid":1,"command":[],"started_at":"","duration_us":0,"sample_hz":1,"lost_samples":0},"stats":{"samples":1,"import_samples":0,"init_us":0,"exec_us":0,"exec_count":0,"file_count":0},"files":[],"modules":[],"imports":[],"cct":{"frames":[{"function":"f","file":"f.py","line":1,"module":null}],"root":{"frame":null,"self":0,"total":1,"children":["#,
    );
    for _ in 0..depth {
        s.push_str(node);
    }
    for _ in 0..depth {
        s.push_str("]}");
    }
    s.push_str("]}}}");
    s.into_bytes()
}

#[test]
fn a_cct_nested_20000_deep_is_refused_without_overflowing_the_stack() {
    let err = Profile::from_json(&deep_json(20_000))
        .unwrap_err()
        .to_string();
    assert!(err.contains("deeper than"), "{err}");
}

#[test]
fn the_deepest_accepted_cct_reads_and_writes_in_a_small_stack() {
    // Test threads have 2 MiB of stack; the main thread of coldspy has 8.
    let json = deep_json(MAX_CCT_DEPTH);
    let profile = Profile::from_json(&json).unwrap();
    profile.validate().unwrap();
    write_everything(&profile);
    let one_more = Profile::from_json(&deep_json(MAX_CCT_DEPTH + 1));
    assert!(one_more.map_or(true, |p| p.validate().is_err()));
    let built = chain(MAX_CCT_DEPTH);
    assert!(built.validate().is_ok());
    let mut too_deep = chain(MAX_CCT_DEPTH + 1);
    assert!(too_deep.validate().unwrap_err().contains("deeper"));
    // Dropping a deep tree recurses too: take it apart iteratively.
    let mut stack = std::mem::take(&mut too_deep.cct.root.children);
    while let Some(mut n) = stack.pop() {
        stack.append(&mut n.children);
    }
}

/// A stand-in for the system crate's inferno renderer (the core has none):
/// the lines, escaped, in a minimal SVG. inferno's own escaping is tested
/// beside it (`coldspy::flame`).
fn escaping_renderer(title: &str, lines: &[String]) -> std::io::Result<Vec<u8>> {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let body: String = lines
        .iter()
        .map(|l| format!("<text>{}</text>", escape(l)))
        .collect();
    Ok(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>{body}</svg>",
        escape(title)
    )
    .into_bytes())
}
