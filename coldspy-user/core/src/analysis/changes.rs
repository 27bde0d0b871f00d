//! What to change, by import statement: the packages the patterns flag,
//! grouped under the statement in the program that brought them in, so that
//! one `import boto3` pulling in twenty unused packages reads as one change.

use super::module_tree::PackageNode;
use super::patterns::Pattern;

/// An import statement in the program (the start of an import chain).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportStatement {
    /// The module it imports.
    pub module: String,
    /// `file:line` of the statement.
    pub site: String,
    /// Cumulative time of that import.
    pub cumulative_us: u64,
}

/// One change: a statement and the flagged packages it brought in.
#[derive(Debug, Clone)]
pub struct Change {
    /// The statement.
    pub statement: ImportStatement,
    /// Flagged packages, highest score first, with their pattern.
    pub packages: Vec<(String, Pattern)>,
    /// Their self import time, summed.
    pub flagged_us: u64,
}

/// Groups the flagged packages by statement; the statement with the most
/// flagged import time comes first.
pub fn group(packages: &[PackageNode]) -> Vec<Change> {
    let mut changes: Vec<Change> = Vec::new();
    for p in packages {
        let (Some(pattern), Some(statement)) = (p.pattern, &p.statement) else {
            continue;
        };
        let at = match changes.iter().position(|c| &c.statement == statement) {
            Some(at) => at,
            None => {
                changes.push(Change {
                    statement: statement.clone(),
                    packages: Vec::new(),
                    flagged_us: 0,
                });
                changes.len() - 1
            }
        };
        changes[at].packages.push((p.name.clone(), pattern));
        changes[at].flagged_us += p.self_by_dot_us;
        if p.name == statement.module {
            // The statement imports the flagged package itself: all it
            // brings in goes with it.
            changes[at].flagged_us = changes[at].flagged_us.max(statement.cumulative_us);
        }
    }
    changes.sort_by_key(|c| std::cmp::Reverse(c.flagged_us));
    changes
}

impl Change {
    /// The statement and its cost, with the site as given (`tail` may
    /// shorten it).
    pub fn headline(&self, site: &str) -> String {
        format!(
            "`import {}` at {site}: {:.1} ms of import time",
            self.statement.module,
            self.statement.cumulative_us as f64 / 1000.0,
        )
    }

    /// What is flagged under the statement: pattern counts, the first
    /// `max_names` packages, and their own import time.
    pub fn flagged(&self, max_names: usize) -> String {
        let mut counts: Vec<(Pattern, usize)> = Vec::new();
        for (_, pattern) in &self.packages {
            match counts.iter_mut().find(|(p, _)| p == pattern) {
                Some((_, n)) => *n += 1,
                None => counts.push((*pattern, 1)),
            }
        }
        let patterns: Vec<String> = counts
            .iter()
            .map(|(p, n)| format!("{n} {}", p.as_str()))
            .collect();
        let names: Vec<&str> = self
            .packages
            .iter()
            .take(max_names)
            .map(|(n, _)| n.as_str())
            .collect();
        let more = match self.packages.len().saturating_sub(max_names) {
            0 => String::new(),
            n => format!(", +{n} more"),
        };
        format!(
            "flagged: {} ({}{more}), {:.1} ms with what {} import{}",
            patterns.join(", "),
            names.join(", "),
            self.flagged_us as f64 / 1000.0,
            if self.packages.len() == 1 {
                "it"
            } else {
                "they"
            },
            if self.packages.len() == 1 { "s" } else { "" },
        )
    }

    /// One line: the headline and what is flagged.
    pub fn summary(&self, max_names: usize) -> String {
        format!(
            "{}; {}",
            self.headline(&self.statement.site),
            self.flagged(max_names)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(name: &str, pattern: Option<Pattern>, module: &str, self_us: u64) -> PackageNode {
        PackageNode {
            name: name.into(),
            pattern,
            self_by_dot_us: self_us,
            statement: Some(ImportStatement {
                module: module.into(),
                site: format!("app.py:{}", module.len()),
                cumulative_us: if module == "tqdm" { 5_000 } else { 100_000 },
            }),
            ..PackageNode::default()
        }
    }

    #[test]
    fn packages_group_under_the_statement_that_pulled_them_in() {
        let packages = [
            package("botocore", Some(Pattern::NeverUsed), "boto3", 40_000),
            package("tqdm", Some(Pattern::FeatureRedundancy), "tqdm", 3_000),
            package("urllib3", Some(Pattern::NeverUsed), "boto3", 30_000),
            package("json", None, "json", 9_000),
        ];
        let changes = group(&packages);
        assert_eq!(changes.len(), 2, "json is not flagged");
        assert_eq!(changes[0].statement.module, "boto3");
        assert_eq!(changes[0].flagged_us, 70_000);
        assert_eq!(
            changes[0].summary(1),
            "`import boto3` at app.py:5: 100.0 ms of import time; flagged: 2 never_used (botocore, +1 more), 70.0 ms with what they import"
        );
        assert_eq!(
            changes[1].packages,
            vec![("tqdm".into(), Pattern::FeatureRedundancy)]
        );
    }
}
