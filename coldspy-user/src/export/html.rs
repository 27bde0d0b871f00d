//! One self-contained HTML file that works offline: global stats, the
//! sortable ranked table with the expandable module tree, the CCT explorer
//! with the filters, a flame graph and the import waterfall. The data is
//! embedded as JSON; the page's script and style are compiled in
//! (`html/report.js`, `html/report.css`), nothing is fetched.

use crate::export::{ExportError, Exporter, Report};
use crate::model::profile::CctNode;
use serde::Serialize;
use std::io::Write;

const TEMPLATE: &str = include_str!("html/report.html");
const STYLE: &str = include_str!("html/report.css");
const SCRIPT: &str = include_str!("html/report.js");

/// The HTML writer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Html;

/// The CCT flattened in pre-order (node 0 is the root): compact for big profiles.
#[derive(Serialize, Default)]
struct FlatCct {
    frame: Vec<i64>,
    parent: Vec<i64>,
    #[serde(rename = "self")]
    self_samples: Vec<u64>,
    import_self: Vec<u64>,
}

impl FlatCct {
    fn of(root: &CctNode) -> Self {
        let mut flat = FlatCct::default();
        let mut todo: Vec<(&CctNode, i64)> = vec![(root, -1)];
        while let Some((node, parent)) = todo.pop() {
            let index = flat.frame.len() as i64;
            flat.frame.push(node.frame.map(|f| f as i64).unwrap_or(-1));
            flat.parent.push(parent);
            flat.self_samples.push(node.self_samples);
            flat.import_self
                .push(node.import_self.min(node.self_samples));
            todo.extend(node.children.iter().rev().map(|c| (c, index)));
        }
        flat
    }
}

/// An import for the waterfall:
/// `[module, parent, start_us, end_us, self_us, cumulative_us, depth, failed]`.
type ImportRow<'a> = (&'a str, Option<&'a str>, u64, u64, u64, u64, u32, bool);

#[derive(Serialize)]
struct PageData<'a> {
    title: String,
    meta: &'a crate::model::profile::Meta,
    stats: &'a crate::analysis::GlobalStats,
    score_kind: &'static str,
    tree: &'a [crate::analysis::module_tree::ModuleNode],
    actions: &'a [crate::analysis::actions::Action],
    /// `[function, file, line, module]` per frame.
    frames: Vec<(&'a str, &'a str, u32, Option<&'a str>)>,
    cct: FlatCct,
    /// `[module, parent, start_us, end_us, self_us, cumulative_us, depth, failed]`.
    imports: Vec<ImportRow<'a>>,
    filter: &'a crate::export::stacks::StackFilter,
}

impl Exporter for Html {
    fn write(&self, report: &Report<'_>, out: &mut dyn Write) -> Result<(), ExportError> {
        let profile = report.profile;
        let title = format!("coldspy report: {}", profile.meta.command.join(" "));
        let data = PageData {
            title: title.clone(),
            meta: &profile.meta,
            stats: &report.analysis.stats,
            score_kind: report.analysis.score_kind.name(),
            tree: &report.analysis.tree.roots,
            actions: &report.analysis.actions,
            frames: profile
                .cct
                .frames
                .iter()
                .map(|f| {
                    (
                        f.function.as_str(),
                        f.file.as_str(),
                        f.line,
                        f.module.as_deref(),
                    )
                })
                .collect(),
            cct: FlatCct::of(&profile.cct.root),
            imports: profile
                .imports
                .iter()
                .map(|r| {
                    (
                        r.module.as_str(),
                        r.parent.as_deref(),
                        r.start_us,
                        r.end_us,
                        r.self_us,
                        r.cumulative_us,
                        r.depth,
                        r.failed,
                    )
                })
                .collect(),
            filter: &report.view.filter,
        };
        // `</` inside a script element would end it: JSON allows `<\/`.
        let json = serde_json::to_string(&data)?.replace("</", "<\\/");
        let page = TEMPLATE
            .replace("{{TITLE}}", &escape_html(&title))
            .replace("{{STYLE}}", STYLE)
            .replace("{{SCRIPT}}", SCRIPT)
            .replace("{{DATA}}", &json);
        out.write_all(page.as_bytes())?;
        Ok(())
    }
}

/// Escapes text for HTML element content.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
