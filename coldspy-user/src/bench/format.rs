//! Numbers for people: durations and memory sizes with a unit that fits.

/// A duration given in ms: `512 µs`, `41.3 ms`, `1.234 s`.
pub fn duration(ms: f64) -> String {
    let magnitude = ms.abs();
    if magnitude < 1.0 {
        format!("{:.0} µs", ms * 1e3)
    } else if magnitude < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.3} s", ms / 1e3)
    }
}

/// A size given in KiB: `812 KiB`, `45.1 MiB`, `1.20 GiB`.
pub fn memory_kib(kib: f64) -> String {
    let magnitude = kib.abs();
    if magnitude < 1024.0 {
        format!("{kib:.0} KiB")
    } else if magnitude < 1024.0 * 1024.0 {
        format!("{:.1} MiB", kib / 1024.0)
    } else {
        format!("{:.2} GiB", kib / (1024.0 * 1024.0))
    }
}

/// A relative change (−0.25 = 25 % less) as a signed percentage: `−25.0 %`.
pub fn percent_signed(relative: f64) -> String {
    let sign = if relative < 0.0 { "−" } else { "+" };
    format!("{sign}{:.1} %", (relative * 100.0).abs())
}

/// A p-value: three decimals, or scientific notation below 0.001.
pub fn p_value(p: f64) -> String {
    if p < 0.001 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_fit_the_magnitude() {
        assert_eq!(duration(0.512), "512 µs");
        assert_eq!(duration(41.26), "41.3 ms");
        assert_eq!(duration(1234.0), "1.234 s");
        assert_eq!(memory_kib(812.0), "812 KiB");
        assert_eq!(memory_kib(46182.4), "45.1 MiB");
        assert_eq!(percent_signed(-0.519), "−51.9 %");
        assert_eq!(percent_signed(0.02), "+2.0 %");
        assert_eq!(p_value(0.0432), "0.043");
        assert_eq!(p_value(6.8e-8), "6.8e-8");
    }
}
