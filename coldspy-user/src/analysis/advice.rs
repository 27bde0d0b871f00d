//! One concrete sentence per pattern: which import statement (file:line) to
//! remove, make lazy or replace, and with what.

use crate::analysis::knowledge::Knowledge;
use crate::analysis::patterns::Pattern;
use crate::model::profile::{Evidence, ImportSite};

/// The CPython version that has `lazy import` (PEP 810).
pub const LAZY_IMPORT_PYTHON: (u32, u32) = (3, 15);

/// The advice sentence for a package's pattern.
pub fn advice(
    package: &str,
    pattern: Pattern,
    evidence: &Evidence,
    knowledge: &Knowledge,
    python_version: Option<(u32, u32)>,
) -> String {
    let ms = evidence.import_us as f64 / 1000.0;
    let at = where_imported(package, evidence);
    let lazy_statement = python_version
        .is_some_and(|v| v >= LAZY_IMPORT_PYTHON)
        .then(|| format!("`lazy import {package}` (PEP 810)"));
    match pattern {
        Pattern::NeverUsed if evidence.pulled_in_by.as_ref().is_some_and(|p| p.used_at_run_time) => {
            let pulled = evidence.pulled_in_by.as_ref().map(|p| (p.module.as_str(), &p.site));
            let (module, site) = pulled.expect("checked above");
            format!(
                "Nothing to remove in your code: {package} comes with `{module}` (imported at {}:{}), \
                 which is used at run time; only its authors can make these {ms:.1} ms lazy.",
                site.file, site.line
            )
        }
        Pattern::NeverUsed => format!(
            "Remove {at} and the code that needs it: {ms:.1} ms of import, no run-time sample in {package}."
        ),
        Pattern::RarelyUsed => {
            let user = evidence
                .callers
                .first()
                .map(|c| format!("into `{}` ({}:{}), the function that uses it", c.function, c.file, c.line))
                .unwrap_or_else(|| "into the function that uses it".to_string());
            let share = percent(evidence.run_time_samples, evidence.run_time_samples_total);
            match lazy_statement {
                Some(lazy) => format!(
                    "Make {at} lazy with {lazy}, or move it {user}: {ms:.1} ms of import for {share} of run time."
                ),
                None => format!("Move {at} {user}: {ms:.1} ms of import for {share} of run time."),
            }
        }
        Pattern::LibraryChoice => {
            let replacement = evidence
                .replacement
                .clone()
                .or_else(|| knowledge.library(package, None).map(|e| e.replacement.clone()))
                .unwrap_or_else(|| "its standard-library equivalent".to_string());
            format!("Replace {at} with {replacement}: {ms:.1} ms of import.")
        }
        Pattern::FeatureRedundancy => {
            let feature = knowledge
                .feature(package)
                .map(|e| format!("{} mean nothing in a function", e.feature))
                .unwrap_or_else(|| "its feature means nothing in a function".to_string());
            format!("Remove {at}: {feature} ({ms:.1} ms of import).")
        }
    }
}

/// The advice of an import statement that brings in several flagged packages.
pub fn group_advice(
    module: &str,
    site: Option<&ImportSite>,
    pattern: Option<Pattern>,
    lead_advice: &str,
    packages: &[String],
    saving_us: u64,
) -> String {
    let ms = saving_us as f64 / 1000.0;
    let listed = match packages.len() {
        0..=5 => packages.join(", "),
        n => format!("{} and {} more", packages[..5].join(", "), n - 5),
    };
    let at = site
        .map(|s| format!(" at {}:{}", s.file, s.line))
        .unwrap_or_default();
    match pattern {
        Some(Pattern::NeverUsed) => format!(
            "Remove the import of `{module}`{at} and the code that needs it: up to {ms:.1} ms of import \
             in {} packages with no run-time sample ({listed}).",
            packages.len()
        ),
        _ => format!("{lead_advice} The same import brings in {listed}: up to {ms:.1} ms in all."),
    }
}

/// "the import of `x` at file:line", naming the program's own import when a library pulled it in.
fn where_imported(package: &str, evidence: &Evidence) -> String {
    let site = |s: &ImportSite| format!("{}:{}", s.file, s.line);
    match (&evidence.pulled_in_by, &evidence.import_site) {
        (Some(pulled), _) => format!(
            "the import of `{}` at {} (it pulls in {package} through {})",
            pulled.module,
            site(&pulled.site),
            evidence.imported_by.as_deref().unwrap_or("a library")
        ),
        (None, Some(s)) => format!("the import of `{package}` at {}", site(s)),
        (None, None) => match &evidence.imported_by {
            Some(parent) => format!("the import of `{package}` (imported by `{parent}`)"),
            None => format!("the import of `{package}`"),
        },
    }
}

/// `n / total` as a percentage with one decimal.
pub fn percent(n: u64, total: u64) -> String {
    if total == 0 {
        return "0 %".to_string();
    }
    format!("{:.1} %", 100.0 * n as f64 / total as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Caller, PulledInBy};

    fn evidence() -> Evidence {
        Evidence {
            import_us: 12_900,
            import_share: 0.07,
            run_time_samples: 6,
            run_time_samples_total: 600,
            import_site: Some(ImportSite {
                file: "/app/handler.py".into(),
                line: 7,
                function: "<module>".into(),
            }),
            callers: vec![Caller {
                function: "error_page".into(),
                file: "/app/handler.py".into(),
                line: 44,
                samples: 6,
            }],
            ..Evidence::default()
        }
    }

    #[test]
    fn rarely_used_names_the_import_and_the_using_function() {
        let k = Knowledge::builtin();
        let text = advice("jinja2", Pattern::RarelyUsed, &evidence(), k, Some((3, 12)));
        assert_eq!(
            text,
            "Move the import of `jinja2` at /app/handler.py:7 into `error_page` (/app/handler.py:44), \
             the function that uses it: 12.9 ms of import for 1.0 % of run time."
        );
        let on_315 = advice("jinja2", Pattern::RarelyUsed, &evidence(), k, Some((3, 15)));
        assert!(
            on_315.contains("`lazy import jinja2` (PEP 810)"),
            "{on_315}"
        );
    }

    #[test]
    fn library_imports_point_at_the_programs_own_import() {
        let mut e = evidence();
        e.imported_by = Some("botocore".into());
        e.pulled_in_by = Some(PulledInBy {
            module: "boto3".into(),
            site: ImportSite {
                file: "/app/handler.py".into(),
                line: 3,
                function: "<module>".into(),
            },
            used_at_run_time: false,
        });
        let k = Knowledge::builtin();
        let text = advice("jmespath", Pattern::NeverUsed, &e, k, None);
        assert!(
            text.starts_with("Remove the import of `boto3` at /app/handler.py:3 (it pulls in jmespath through botocore)"),
            "{text}"
        );
        e.pulled_in_by.as_mut().unwrap().used_at_run_time = true;
        let text = advice("jmespath", Pattern::NeverUsed, &e, k, None);
        assert!(
            text.starts_with("Nothing to remove in your code: jmespath comes with `boto3`"),
            "{text}"
        );
    }

    #[test]
    fn curated_patterns_say_what_instead() {
        let mut e = evidence();
        e.replacement = Some("pathlib".into());
        let k = Knowledge::builtin();
        assert!(advice("pathlib2", Pattern::LibraryChoice, &e, k, None).contains("with pathlib:"));
        let tqdm = advice("tqdm", Pattern::FeatureRedundancy, &e, k, None);
        assert!(
            tqdm.contains("progress bars mean nothing in a function"),
            "{tqdm}"
        );
    }
}
