//! Evidence before verdict: how many of the application's samples touched a
//! module, what that bounds, and whether the runner saw its code run.
//!
//! Not seeing a module in `N` independent samples bounds its share of run
//! time below `1 − 0.05^(1/N)` at 95 % confidence (for large `N` about 3/N,
//! the rule of three). Below [`MIN_SAMPLES`] samples no "unused" verdict is
//! given from sampling alone.

use super::usage::Usage;

/// Samples needed before "not seen" becomes "unused" (bound under 10 %).
/// At 11 samples a dependency that every invocation calls briefly
/// (dateutil in examples/functions/cli_leftover) went unseen.
pub const MIN_SAMPLES: u64 = 29;
/// Share of samples below which a used module counts as rarely used.
pub const RARE_SHARE: f64 = 0.05;

/// What the data says about one module (and its sub-modules).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Evidence {
    /// Application samples in which its code ran.
    pub seen: u64,
    /// Application samples in all.
    pub total: u64,
    /// Exact: the first invocation that ran its code, 0 for none; `None`
    /// without the runner's hook.
    pub exact_first: Option<u64>,
    /// Invocations of the handler.
    pub invocations: u64,
    /// The handler module's top-level code names it (it runs at init).
    pub init_named: bool,
    /// Its code was on the stack of a network connection made at init (it ran then).
    pub ran_at_init: bool,
    /// A function body of the handler module names it: code that needs
    /// it exists, whether or not a recorded invocation ran it.
    pub code_named: bool,
}

/// The verdict the evidence supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Its code ran.
    Used,
    /// Its code ran, in under [`RARE_SHARE`] of the samples and not in the
    /// first invocation.
    Rare,
    /// Its code did not run, with enough evidence.
    Unused,
    /// Not enough evidence either way.
    Unknown,
}

/// The 95 % upper bound of a share never seen in `n` samples.
pub fn upper_bound(n: u64) -> f64 {
    if n == 0 {
        1.0
    } else {
        1.0 - 0.05f64.powf(1.0 / n as f64)
    }
}

impl Evidence {
    /// The evidence about `prefix`.
    pub fn of(usage: &Usage, prefix: &str) -> Self {
        Evidence {
            seen: usage.sampled(prefix),
            total: usage.app_samples,
            exact_first: usage.exact(prefix),
            invocations: usage.invocations,
            init_named: usage.init_named(prefix),
            ran_at_init: usage.ran_at_init(prefix),
            code_named: usage.code_named(prefix).is_some(),
        }
    }

    /// The share of application samples that touched it.
    pub fn share(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.seen as f64 / self.total as f64
        }
    }

    /// The verdict: exact data first, then sampling with enough samples. A
    /// module the handler's top-level code names runs at init: used, even
    /// when no invocation ran it and no sample saw it.
    pub fn verdict(&self) -> Verdict {
        let ran_exactly = self.exact_first.is_some_and(|k| k > 0);
        if (self.init_named || self.ran_at_init) && self.seen == 0 && !ran_exactly {
            return Verdict::Used;
        }
        if self.seen > 0 || ran_exactly {
            let first_call = self.exact_first == Some(1);
            let rare = self.total >= MIN_SAMPLES && self.share() < RARE_SHARE;
            return if rare && !first_call {
                Verdict::Rare
            } else {
                Verdict::Used
            };
        }
        if self.exact_first == Some(0) || self.total >= MIN_SAMPLES {
            // Not run by the recorded requests, but a function needs it (a
            // branch they did not take): rarely used, never "remove".
            if self.code_named {
                return Verdict::Rare;
            }
            Verdict::Unused
        } else {
            Verdict::Unknown
        }
    }

    /// The evidence in words.
    pub fn describe(&self) -> String {
        let sampled = if self.seen > 0 {
            format!(
                "seen in {} of {} samples of the application's work ({:.1} %)",
                self.seen,
                self.total,
                self.share() * 100.0
            )
        } else if self.total == 0 {
            "no sample of the application's work: not enough evidence".to_string()
        } else {
            format!(
                "not seen in {} sample{}: under {:.0} % of run time at 95 % confidence",
                self.total,
                if self.total == 1 { "" } else { "s" },
                upper_bound(self.total) * 100.0
            )
        };
        let sampled = if self.init_named {
            format!("the handler module's top-level code calls it at init; {sampled}")
        } else if self.ran_at_init {
            format!("its code ran at init, on the stack of a network connection; {sampled}")
        } else if self.code_named && self.seen == 0 && self.exact_first.is_none_or(|k| k == 0) {
            format!("{sampled}; a function of the handler names it, in code the recorded invocations did not run")
        } else {
            sampled
        };
        match self.exact_first {
            Some(0) => format!(
                "none of its code ran in the {} invocation{} (exact); {sampled}",
                self.invocations,
                if self.invocations == 1 { "" } else { "s" }
            ),
            Some(k) => format!("its code ran in invocation {k} (exact); {sampled}"),
            None => sampled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seen: u64, total: u64, exact_first: Option<u64>) -> Evidence {
        Evidence {
            seen,
            total,
            exact_first,
            invocations: 3,
            init_named: false,
            ran_at_init: false,
            code_named: false,
        }
    }

    #[test]
    fn the_bound_is_the_rule_of_three() {
        assert!((upper_bound(13) - 0.2058).abs() < 1e-3);
        assert!((upper_bound(300) * 300.0 - 3.0).abs() < 0.05);
        assert_eq!(upper_bound(0), 1.0);
        assert_eq!(
            e(0, 13, None).describe(),
            "not seen in 13 samples: under 21 % of run time at 95 % confidence"
        );
    }

    #[test]
    fn zero_samples_is_no_verdict_and_exact_data_decides() {
        assert_eq!(e(0, 0, None).verdict(), Verdict::Unknown);
        assert_eq!(e(0, 28, None).verdict(), Verdict::Unknown);
        assert_eq!(e(0, 29, None).verdict(), Verdict::Unused);
        assert_eq!(e(0, 0, Some(0)).verdict(), Verdict::Unused);
        assert_eq!(e(0, 0, Some(2)).verdict(), Verdict::Used);
        assert_eq!(e(0, 500, Some(2)).verdict(), Verdict::Rare);
        // Run in the first invocation: deferring it saves nothing for a cold start.
        assert_eq!(e(1, 500, Some(1)).verdict(), Verdict::Used);
        assert_eq!(e(1, 500, None).verdict(), Verdict::Rare);
        assert_eq!(e(100, 500, None).verdict(), Verdict::Used);
    }

    #[test]
    fn a_module_the_handler_calls_at_init_is_used_whatever_invocations_show() {
        // cli_leftover: `pkg_resources.get_distribution(...)` at module level,
        // no invocation runs it, no sample saw it: used at init, never "remove".
        let mut named = e(0, 500, Some(0));
        named.init_named = true;
        assert_eq!(named.verdict(), Verdict::Used);
        assert!(named.describe().contains("top-level code calls it at init"));
        assert_eq!(e(0, 500, Some(0)).verdict(), Verdict::Unused);
    }

    #[test]
    fn rare_branch_a_module_a_function_names_but_no_invocation_ran_is_rare_not_unused() {
        // rare_branch: openpyxl is named in to_xlsx, which the default event
        // never takes: "move it into to_xlsx", never "remove".
        let mut named = e(0, 500, Some(0));
        named.code_named = true;
        assert_eq!(named.verdict(), Verdict::Rare);
        assert!(named
            .describe()
            .contains("a function of the handler names it"));
        named.exact_first = None;
        named.total = 5;
        assert_eq!(named.verdict(), Verdict::Unknown, "5 samples say nothing");
    }
}
