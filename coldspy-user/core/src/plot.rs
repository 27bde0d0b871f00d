//! The CDF plot of start times (SVG): one curve per variant and phase.

use crate::export::html::escape;
use std::fmt::Write;

/// Colours of the variants.
const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// The plot area: pixel size, margin, and the largest value shown.
#[derive(Clone, Copy)]
struct Axes {
    width: f64,
    height: f64,
    margin: f64,
    max: f64,
}

impl Axes {
    fn x(&self, v: f64) -> f64 {
        self.margin + v / self.max * (self.width - 2.0 * self.margin)
    }

    fn y(&self, p: f64) -> f64 {
        self.height - self.margin - p * (self.height - 2.0 * self.margin)
    }
}

/// An SVG with the empirical CDF of each series (name, values in ms).
pub fn cdf_svg(title: &str, series: &[(String, Vec<f64>)]) -> String {
    let all = series.iter().flat_map(|(_, v)| v.iter().copied());
    let axes = Axes {
        width: 720.0,
        height: 420.0,
        margin: 60.0,
        max: all.fold(0.0f64, f64::max).max(1e-9) * 1.05,
    };
    let mut svg = String::new();
    frame(&mut svg, &axes, title);
    for (i, (name, values)) in series.iter().enumerate() {
        curve(&mut svg, &axes, i, name, values);
    }
    svg.push_str("</svg>\n");
    svg
}

/// The SVG header, title, axes and their ticks.
fn frame(svg: &mut String, axes: &Axes, title: &str) {
    let Axes {
        width,
        height,
        margin,
        max,
    } = *axes;
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{margin}" y="24" font-size="15">{}</text>"#,
        escape(title)
    );
    let _ = write!(
        svg,
        r#"<line x1="{m}" y1="{b}" x2="{r}" y2="{b}" stroke="black"/><line x1="{m}" y1="{b}" x2="{m}" y2="{t}" stroke="black"/>"#,
        m = margin,
        b = height - margin,
        r = width - margin,
        t = margin
    );
    for i in 0..=5 {
        let v = max * i as f64 / 5.0;
        let p = i as f64 / 5.0;
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{:.0}</text>"#,
            axes.x(v),
            height - margin + 18.0,
            v
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{:.1}</text>"#,
            margin - 6.0,
            axes.y(p) + 4.0,
            p
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">milliseconds</text>"#,
        width / 2.0,
        height - 18.0
    );
}

/// One series' step curve and its legend entry.
fn curve(svg: &mut String, axes: &Axes, i: usize, name: &str, values: &[f64]) {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len().max(1) as f64;
    let mut points = format!(
        "{:.1},{:.1}",
        axes.x(sorted.first().copied().unwrap_or(0.0)),
        axes.y(0.0)
    );
    for (k, v) in sorted.iter().enumerate() {
        let _ = write!(
            points,
            " {:.1},{:.1} {:.1},{:.1}",
            axes.x(*v),
            axes.y(k as f64 / n),
            axes.x(*v),
            axes.y((k + 1) as f64 / n)
        );
    }
    let colour = COLOURS[i % COLOURS.len()];
    let dash = if i >= COLOURS.len() {
        r#" stroke-dasharray="4 3""#
    } else {
        ""
    };
    let _ = write!(
        svg,
        r#"<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{points}"/>"#
    );
    let ly = axes.margin + 16.0 * i as f64;
    let _ = write!(
        svg,
        r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="2"/><text x="{:.1}" y="{:.1}">{}</text>"#,
        axes.width - 230.0,
        axes.width - 210.0,
        axes.width - 204.0,
        ly + 4.0,
        escape(name)
    );
}

/// A self-contained HTML page: the bench summary as printed, then the CDF.
pub fn html_page(title: &str, summary: &str, svg: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f6f6f6;padding:1em}}</style>\n\
         </head><body>\n<h1>{t}</h1>\n<pre>{s}</pre>\n<h2>CDF of init and end-to-end time</h2>\n{svg}</body></html>\n",
        t = escape(title),
        s = escape(summary),
    )
}
