//! The report of a merged file: per group, the phase distributions, the
//! packages and the function's own import statements that cost the fleet
//! the most, each with the share of starts that used it. Terminal text and
//! one self-contained HTML page.

use super::{Group, Merged};
use std::io::{self, Write};

/// `4,210`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in µs, in the unit that reads best (`412 s`, `38.2 ms`).
pub fn duration(us: f64) -> String {
    if us >= 10_000_000.0 {
        format!("{:.0} s", us / 1e6)
    } else if us >= 1_000_000.0 {
        format!("{:.1} s", us / 1e6)
    } else if us >= 1_000.0 {
        format!("{:.1} ms", us / 1e3)
    } else {
        format!("{us:.0} µs")
    }
}

/// `3 %`.
fn percent(share: f64) -> String {
    format!("{:.0} %", share * 100.0)
}

/// The headline of a group: its costliest own import statement (or package).
pub fn headline(merged: &Merged, group: &Group) -> Option<String> {
    let across = format!(
        "across {} starts of `{}`",
        thousands(group.starts),
        group.key
    );
    if let Some(s) = group.statements.first() {
        return Some(format!(
            "{across}, `{}` cost {} of init in total, used in {} of them",
            s.statement,
            duration(s.total_us as f64),
            percent(s.used_share)
        ));
    }
    let _ = merged;
    group.packages.first().map(|p| {
        format!(
            "{across}, package `{}` cost {} of init in total, used in {} of them",
            p.package,
            duration(p.total_us as f64),
            percent(p.used_share)
        )
    })
}

/// Writes the terminal report, `top` rows per table.
pub fn terminal(merged: &Merged, top: usize, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "coldspy merged: {} starts in {} groups by {}{}",
        thousands(merged.starts),
        merged.groups.len(),
        merged.by.as_str(),
        merged
            .since
            .as_ref()
            .map(|s| format!(", since {s}"))
            .unwrap_or_default()
    )?;
    if !merged.skipped.is_empty() {
        writeln!(out, "{} inputs skipped:", merged.skipped.len())?;
        for s in merged.skipped.iter().take(top) {
            writeln!(out, "  {}: {}", s.path, s.reason)?;
        }
    }
    for group in &merged.groups {
        terminal_group(merged, group, top, out)?;
    }
    Ok(())
}

/// One group of the terminal report.
fn terminal_group(
    merged: &Merged,
    group: &Group,
    top: usize,
    out: &mut dyn Write,
) -> io::Result<()> {
    writeln!(out)?;
    writeln!(out, "== {} ({} starts)", group.key, thousands(group.starts))?;
    if let Some(line) = headline(merged, group) {
        writeln!(out, "{line}")?;
    }
    for (name, d) in [
        ("init", &group.init_us),
        ("exec", &group.exec_us),
        ("end-to-end", &group.e2e_us),
    ] {
        writeln!(
            out,
            "  {name:<11} median {:>9}  p90 {:>9}  p99 {:>9}",
            duration(d.median),
            duration(d.p90),
            duration(d.p99)
        )?;
    }
    writeln!(
        out,
        "  {:<28} {:>8} {:>10} {:>10} {:>6}  pattern",
        "package", "starts", "total", "median", "used"
    )?;
    for p in group.packages.iter().take(top) {
        writeln!(
            out,
            "  {:<28} {:>8} {:>10} {:>10} {:>6}  {}",
            p.package,
            thousands(p.starts_imported),
            duration(p.total_us as f64),
            duration(p.median_us),
            percent(p.used_share),
            p.pattern.as_deref().unwrap_or("")
        )?;
    }
    if !group.statements.is_empty() {
        writeln!(out, "  import statements of the function's own code:")?;
        for s in group.statements.iter().take(top) {
            writeln!(
                out,
                "  {:<28} {:>8} {:>10} {:>10} {:>6}  {}",
                s.statement,
                thousands(s.starts_imported),
                duration(s.total_us as f64),
                duration(s.median_us),
                percent(s.used_share),
                s.site
            )?;
        }
    }
    for p in group.packages.iter().take(top) {
        if let Some(advice) = &p.advice {
            writeln!(out, "  → {advice}")?;
        }
    }
    Ok(())
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes one self-contained HTML page (no scripts, no network).
pub fn html(merged: &Merged, out: &mut dyn Write) -> io::Result<()> {
    html_head(merged, out)?;
    html_skipped(merged, out)?;
    for group in &merged.groups {
        writeln!(out, "<h2 id=\"{0}\">{0}</h2>", escape(&group.key))?;
        if let Some(line) = headline(merged, group) {
            writeln!(out, "<p class=\"headline\">{}</p>", escape(&line))?;
        }
        html_phases(group, out)?;
        html_packages(group, out)?;
        html_statements(group, out)?;
    }
    writeln!(out, "</body></html>")
}

/// The page's head, style and title line.
fn html_head(merged: &Merged, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>coldspy merged report</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin:.5em 0 1.5em}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}\
         .headline{{font-weight:bold}}</style></head><body>"
    )?;
    writeln!(
        out,
        "<h1>coldspy merged report</h1><p>{} starts in {} groups by {}</p>",
        thousands(merged.starts),
        merged.groups.len(),
        merged.by.as_str()
    )
}

/// The skipped inputs, folded.
fn html_skipped(merged: &Merged, out: &mut dyn Write) -> io::Result<()> {
    if merged.skipped.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<details><summary>{} inputs skipped</summary><ul>",
        merged.skipped.len()
    )?;
    for s in &merged.skipped {
        writeln!(out, "<li>{}: {}</li>", escape(&s.path), escape(&s.reason))?;
    }
    writeln!(out, "</ul></details>")
}

/// A group's phase distributions.
fn html_phases(group: &Group, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<table><tr><th>phase</th><th>median</th><th>p90</th><th>p99</th></tr>"
    )?;
    for (name, d) in [
        ("init", &group.init_us),
        ("exec", &group.exec_us),
        ("end-to-end", &group.e2e_us),
    ] {
        writeln!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            duration(d.median),
            duration(d.p90),
            duration(d.p99)
        )?;
    }
    writeln!(out, "</table>")
}

/// A group's packages.
fn html_packages(group: &Group, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "<table class=\"packages\"><tr><th>package</th><th>starts</th><th>total</th><th>median</th><th>used</th><th>advice</th></tr>")?;
    for p in &group.packages {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&p.package),
            thousands(p.starts_imported),
            duration(p.total_us as f64),
            duration(p.median_us),
            percent(p.used_share),
            escape(p.advice.as_deref().unwrap_or(""))
        )?;
    }
    writeln!(out, "</table>")
}

/// A group's own import statements, when it has any.
fn html_statements(group: &Group, out: &mut dyn Write) -> io::Result<()> {
    if group.statements.is_empty() {
        return Ok(());
    }
    writeln!(out, "<table class=\"statements\"><tr><th>statement</th><th>starts</th><th>total</th><th>median</th><th>used</th><th>site</th></tr>")?;
    for s in &group.statements {
        writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&s.statement),
            thousands(s.starts_imported),
            duration(s.total_us as f64),
            duration(s.median_us),
            percent(s.used_share),
            escape(&s.site)
        )?;
    }
    writeln!(out, "</table>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_the_issue_says() {
        assert_eq!(thousands(4210), "4,210");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(duration(412_000_000.0), "412 s");
        assert_eq!(duration(38_200.0), "38.2 ms");
        assert_eq!(percent(0.03), "3 %");
    }
}
