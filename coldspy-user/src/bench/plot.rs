//! The CDF plot of a benchmark: one panel per timed phase (init, first exec,
//! end-to-end), one empirical CDF per variant, as a single SVG file.

use super::report::{BenchReport, Phase};
use super::stats;
use super::BenchError;
use plotters::prelude::*;
use std::path::Path;

/// Size of the whole picture, pixels.
const SIZE: (u32, u32) = (1500, 480);

/// Writes the CDF plots of the report's timed phases to `path` (SVG).
pub fn write_cdf_svg(report: &BenchReport, path: &Path) -> Result<(), BenchError> {
    draw(report, path).map_err(|reason| BenchError::Output {
        path: path.to_owned(),
        reason,
    })
}

fn draw(report: &BenchReport, path: &Path) -> Result<(), String> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let title = format!(
        "coldspy bench: {} cold starts per variant ({} mode)",
        report.config.runs, report.config.mode
    );
    let root = root
        .titled(&title, ("sans-serif", 22))
        .map_err(|e| e.to_string())?;
    let panels = root.split_evenly((1, Phase::TIMED.len()));
    for (panel, phase) in panels.iter().zip(Phase::TIMED) {
        draw_panel(report, panel, phase).map_err(|e| e.to_string())?;
    }
    root.present().map_err(|e| e.to_string())
}

fn draw_panel(
    report: &BenchReport,
    panel: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    phase: Phase,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let curves: Vec<(String, Vec<f64>)> = report
        .variants
        .iter()
        .map(|variant| (variant.name.clone(), stats::sorted(&variant.values(phase))))
        .filter(|(_, values)| !values.is_empty())
        .collect();
    let low = curves
        .iter()
        .map(|(_, v)| v[0])
        .fold(f64::INFINITY, f64::min);
    let high = curves
        .iter()
        .map(|(_, v)| v[v.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if curves.is_empty() {
        (0.0, 1.0)
    } else {
        let pad = ((high - low) * 0.05).max(0.01);
        ((low - pad).max(0.0), high + pad)
    };
    // Enough decimals that neighbouring tick labels differ.
    let decimals = (1.0 - (high - low).log10().floor()).max(0.0) as usize;
    let mut chart = ChartBuilder::on(panel)
        .caption(format!("{} (CDF)", phase.label()), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(low..high, 0f64..1f64)?;
    chart
        .configure_mesh()
        .x_desc("ms")
        .y_desc("fraction of starts")
        .x_label_formatter(&|x| format!("{x:.decimals$}"))
        .draw()?;
    for (index, (name, values)) in curves.iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let count = values.len() as f64;
        // A step function: at each value the fraction jumps by 1/n.
        let mut points = Vec::with_capacity(values.len() * 2);
        for (rank, &value) in values.iter().enumerate() {
            points.push((value, rank as f64 / count));
            points.push((value, (rank + 1) as f64 / count));
        }
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
}
