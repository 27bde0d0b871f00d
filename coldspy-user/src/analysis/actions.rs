//! What to change, by import statement in the program's own code: the
//! findings of several packages that one statement brings in (`import boto3`
//! pulls in botocore, urllib3, dateutil …) become one action with their
//! summed import time.

use crate::analysis::advice::group_advice;
use crate::analysis::module_tree::ModuleNode;
use crate::analysis::patterns::Pattern;
use crate::analysis::usage::top_level;
use crate::model::profile::ImportSite;
use serde::Serialize;

/// One change to make: an import statement and the flagged packages it brings in.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Action {
    /// The module that the statement imports.
    pub module: String,
    /// Where the statement is, when known.
    pub site: Option<ImportSite>,
    /// The pattern of the statement's own package (or of its largest finding).
    pub pattern: String,
    /// The flagged packages it covers, largest import time first.
    pub packages: Vec<String>,
    /// Their summed import time: what the change saves at most (another
    /// import may still need one of them).
    pub saving_us: u64,
    /// One sentence.
    pub advice: String,
}

/// Groups the findings of the ranked packages by the program's import statement.
pub fn actions(roots: &[ModuleNode]) -> Vec<Action> {
    struct Group<'a> {
        module: String,
        site: Option<ImportSite>,
        members: Vec<&'a ModuleNode>,
    }
    let mut groups: Vec<Group> = Vec::new();
    for node in roots {
        let (Some(_), Some(evidence)) = (&node.pattern, &node.evidence) else {
            continue;
        };
        let (module, site) = match &evidence.pulled_in_by {
            // A package the program uses brought it in: nothing to change in the program.
            Some(pulled) if pulled.used_at_run_time => continue,
            Some(pulled) => (pulled.module.clone(), Some(pulled.site.clone())),
            None => (node.name.clone(), evidence.import_site.clone()),
        };
        match groups
            .iter_mut()
            .find(|g| g.module == module && g.site == site)
        {
            Some(group) => group.members.push(node),
            None => groups.push(Group {
                module,
                site,
                members: vec![node],
            }),
        }
    }
    let mut actions: Vec<Action> = groups
        .into_iter()
        .map(|mut group| {
            group.members.sort_by(|a, b| {
                b.self_by_dot_us
                    .cmp(&a.self_by_dot_us)
                    .then_with(|| a.name.cmp(&b.name))
            });
            let statement_package = top_level(&group.module);
            let lead = group
                .members
                .iter()
                .find(|n| n.name == statement_package)
                .unwrap_or(&group.members[0]);
            let pattern = lead.pattern.clone().unwrap_or_default();
            let lead_name = lead.name.clone();
            let saving_us = group.members.iter().map(|n| n.self_by_dot_us).sum();
            // The statement's own package first, then by import time.
            let packages: Vec<String> = std::iter::once(lead_name.clone())
                .chain(
                    group
                        .members
                        .iter()
                        .map(|n| n.name.clone())
                        .filter(|n| *n != lead_name),
                )
                .collect();
            let advice = if group.members.len() == 1 {
                lead.advice.clone().unwrap_or_default()
            } else {
                group_advice(
                    &group.module,
                    group.site.as_ref(),
                    Pattern::parse(&pattern),
                    lead.advice.as_deref().unwrap_or_default(),
                    &packages,
                    saving_us,
                )
            };
            Action {
                module: group.module,
                site: group.site,
                pattern,
                packages,
                saving_us,
                advice,
            }
        })
        .collect();
    actions.sort_by(|a, b| {
        b.saving_us
            .cmp(&a.saving_us)
            .then_with(|| a.module.cmp(&b.module))
    });
    actions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{Evidence, PulledInBy};

    fn site(line: u32) -> ImportSite {
        ImportSite {
            file: "/app/handler.py".into(),
            line,
            function: "<module>".into(),
        }
    }

    fn finding(
        name: &str,
        us: u64,
        pattern: Pattern,
        pulled_by: Option<(&str, bool)>,
    ) -> ModuleNode {
        ModuleNode {
            name: name.into(),
            self_by_dot_us: us,
            pattern: Some(pattern.as_str().into()),
            advice: Some(format!("advice for {name}")),
            evidence: Some(Evidence {
                import_site: Some(site(9)),
                pulled_in_by: pulled_by.map(|(module, used)| PulledInBy {
                    module: module.into(),
                    site: site(5),
                    used_at_run_time: used,
                }),
                ..Evidence::default()
            }),
            ..ModuleNode::default()
        }
    }

    #[test]
    fn one_statement_collects_what_it_pulls_in() {
        let roots = [
            finding("pkg_resources", 49_000, Pattern::LibraryChoice, None),
            finding(
                "botocore",
                35_000,
                Pattern::NeverUsed,
                Some(("boto3", false)),
            ),
            finding(
                "urllib3",
                14_000,
                Pattern::NeverUsed,
                Some(("boto3", false)),
            ),
            finding("boto3", 5_000, Pattern::NeverUsed, None),
            finding("xml", 3_000, Pattern::NeverUsed, Some(("markdown", true))),
            ModuleNode {
                name: "json".into(),
                self_by_dot_us: 90_000,
                ..ModuleNode::default()
            },
        ];
        let actions = actions(&roots);
        let summary: Vec<(&str, u64, usize)> = actions
            .iter()
            .map(|a| (a.module.as_str(), a.saving_us, a.packages.len()))
            .collect();
        // boto3 at line 9 (its own finding) and boto3 at line 5 (what pulled botocore) are different statements.
        assert_eq!(
            summary,
            [
                ("boto3", 49_000, 2),
                ("pkg_resources", 49_000, 1),
                ("boto3", 5_000, 1)
            ]
        );
        assert_eq!(actions[0].pattern, "never_used");
        assert_eq!(actions[1].advice, "advice for pkg_resources");
        assert!(
            actions[0].advice.contains("botocore, urllib3"),
            "{}",
            actions[0].advice
        );
    }
}
