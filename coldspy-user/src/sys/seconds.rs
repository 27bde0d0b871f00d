//! Durations given in seconds on the command line (`--duration`,
//! `--timeout`): parsed and checked by clap, so that a negative, infinite,
//! NaN or absurd value is one line and exit status 2, never a panic of
//! `Duration::from_secs_f64`.

/// The longest duration accepted: one year.
pub const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// A clap value parser: a finite number of seconds, above 0 and at most
/// [`MAX_SECONDS`].
pub fn positive_seconds(text: &str) -> Result<f64, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("{text:?}: give a positive number of seconds"));
    }
    if seconds > MAX_SECONDS {
        return Err(format!(
            "{text:?}: at most {MAX_SECONDS} seconds (one year)"
        ));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_that_would_panic_are_refused() {
        for bad in ["-1", "0", "nan", "NaN", "inf", "-inf", "1e300", "", "x"] {
            assert!(positive_seconds(bad).is_err(), "{bad:?}");
        }
        assert_eq!(positive_seconds("2.5"), Ok(2.5));
        // Every accepted value converts without a panic.
        let year = std::time::Duration::from_secs_f64(positive_seconds("31536000").unwrap());
        assert_eq!(year.as_secs(), 31_536_000);
    }
}
