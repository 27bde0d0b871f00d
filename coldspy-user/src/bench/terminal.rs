//! What `coldspy bench` prints: a progress bar while starts run, then a
//! hyperfine-like summary per variant and the comparisons.

use super::format;
use super::report::{BenchReport, Comparison, Phase, VariantReport, Verdict};
use console::style;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Width of the label column.
const LABEL_WIDTH: usize = 29;

/// A progress bar on stderr (hidden when stderr is not a terminal). It only
/// redraws when a start ends, so it adds no work while a start is timed.
pub fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("Cold starts {pos:>4}/{len} {wide_bar} ETA {eta}  {msg}")
            .expect("a valid progress template")
            .progress_chars("██░"),
    );
    bar
}

/// Prints every variant, then every comparison, to stdout.
pub fn print_report(report: &BenchReport) {
    for (index, variant) in report.variants.iter().enumerate() {
        print_variant(index + 1, variant);
        println!();
    }
    for comparison in &report.comparisons {
        print_comparison(comparison);
        println!();
    }
}

fn print_variant(number: usize, variant: &VariantReport) {
    println!(
        "{} {}",
        style(format!("Benchmark {number}:")).bold(),
        style(&variant.name).bold()
    );
    println!(
        "  {} {}   {} {}",
        style("Handler:").dim(),
        variant.handler,
        style("Python:").dim(),
        variant.interpreter.display()
    );
    let summary = &variant.summary;
    for phase in Phase::ALL {
        let Some(values) = summary.phase(phase) else {
            continue;
        };
        let label = format!("{} (median):", phase.label());
        println!(
            "  {label:<LABEL_WIDTH$}{}   95% CI [{}, {}]   p90 {}   p99 {}",
            style(format!("{:>10}", phase.format(values.median)))
                .green()
                .bold(),
            phase.format(values.median_ci95.low),
            phase.format(values.median_ci95.high),
            phase.format(values.p90),
            phase.format(values.p99),
        );
    }
    if let Some(end_to_end) = &summary.end_to_end_ms {
        let label = "Range e2e (min … max):";
        println!(
            "  {label:<LABEL_WIDTH$}{:>10} … {}",
            format::duration(end_to_end.min),
            format::duration(end_to_end.max)
        );
    }
    let runs = summary.successful + summary.failed;
    if summary.failed == 0 {
        println!(
            "  {runs} run{}, none failed",
            if runs == 1 { "" } else { "s" }
        );
    } else {
        println!(
            "  {}",
            style(format!(
                "{} of {} runs failed (not included above):",
                summary.failed, runs
            ))
            .yellow()
            .bold()
        );
        for (message, count) in &summary.failures {
            println!("    {count} × {message}");
        }
    }
}

fn print_comparison(comparison: &Comparison) {
    println!(
        "{} {} vs {} (baseline), interleaved",
        style("Comparison:").bold(),
        style(&comparison.candidate).bold(),
        comparison.baseline
    );
    for phase in &comparison.phases {
        let change = &phase.change;
        let verdict = match (phase.verdict, phase.phase) {
            (Verdict::NoSignificantDifference, _) => {
                style("no significant difference".to_owned()).dim()
            }
            (Verdict::Lower, Phase::PeakRss) => style("smaller".to_owned()).green(),
            (Verdict::Higher, Phase::PeakRss) => style("larger".to_owned()).red(),
            (Verdict::Lower, _) => style("faster".to_owned()).green(),
            (Verdict::Higher, _) => style("slower".to_owned()).red(),
        };
        let label = format!("{}:", phase.phase.label());
        println!(
            "  {label:<LABEL_WIDTH$}{:>10} ({})   95% CI [{}, {}]   Mann–Whitney U = {}, p = {}   {}",
            phase.phase.format_signed(change.difference),
            format::percent_signed(change.relative),
            phase.phase.format_signed(change.difference_ci95.low),
            phase.phase.format_signed(change.difference_ci95.high),
            phase.mann_whitney.u,
            format::p_value(phase.mann_whitney.p_value),
            verdict
        );
    }
}
