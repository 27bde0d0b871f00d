//! The answer, as a function of a profile: [`analyze_profile`] returns an
//! immutable [`Analysis`] — per import statement of the program
//! ([`statements`]), per package ([`packages`]), and the interpreter's and
//! runner's own imports apart ([`Startup`]). [`analyze`] also writes the
//! analysis fields of the profile's module rows.
//!
//! Data flows one way: [`origin`] (where code comes from), [`tree`] (the
//! import tree with parent indices), [`usage`] (what the application's work
//! touched, sampled and exact) and [`evidence`] (what that supports) feed
//! [`statements`]; [`data_findings`] adds the imports that read data
//! ([`data_read`] measures them) to the statements' findings, which feed
//! [`packages`]; [`score`] and [`patterns`] are leaves.

pub mod compute;
pub mod data_findings;
pub mod data_read;
pub mod evidence;
pub mod network;
/// Where code comes from (kept at the crate root: the model uses it too).
pub use crate::origin;
pub mod packages;
pub mod patterns;
pub mod score;
pub mod statements;
pub mod tree;
pub mod usage;

use crate::model::profile::Profile;
use origin::Origin;
pub use packages::PackageNode;
pub use score::ScoreKind;
pub use statements::Finding;

/// The result of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// Top-level packages of the application's imports, highest score first.
    pub packages: Vec<PackageNode>,
    /// The program's import statements: those with something to change
    /// first (largest saving first), then the others by cost.
    pub findings: Vec<Finding>,
    /// What the interpreter and coldspy's runner imported on their own.
    pub startup: Startup,
    /// Which score ranked the packages.
    pub score_kind: ScoreKind,
    /// Samples of the application's work (the evidence's `N`).
    pub evidence_samples: u64,
    /// Whether use is known exactly (the runner's first-execution hook).
    pub exact: bool,
}

impl Analysis {
    /// The findings with something to change.
    pub fn changes(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.pattern.is_some())
    }
}

/// The interpreter's start-up imports (`site`, `encodings`, …) and the
/// runner's (`json` for the event): not the application's, never findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    /// Modules imported.
    pub modules: usize,
    /// Their top-level imports' cumulative time.
    pub cumulative_us: u64,
    /// The first few top-level names, in import order.
    pub names: Vec<String>,
}

/// Analyses a profile without changing it.
pub fn analyze_profile(profile: &Profile, kind: ScoreKind) -> Analysis {
    let tree = tree::Tree::new(profile);
    let application = application(&tree);
    let usage = usage::Usage::build(profile);
    let mut findings = statements::find(profile, &tree, &usage);
    data_findings::add(profile, &tree, &usage, &mut findings);
    network::add(profile, &mut findings);
    statements::companions(&tree, &usage, &mut findings);
    statements::rank(&mut findings);
    let packages = packages::table(profile, &tree, &application, &usage, &findings, kind);
    Analysis {
        packages,
        findings,
        startup: startup(&tree, &application),
        score_kind: kind,
        evidence_samples: usage.app_samples,
        exact: usage.has_exact(),
    }
}

/// Analyses a profile and fills `modules[].{cumulative_samples_by_dot,
/// score}` of top-level packages and `{pattern, advice}` of the modules
/// the findings name.
pub fn analyze(profile: &mut Profile, kind: ScoreKind) -> Analysis {
    let analysis = analyze_profile(profile, kind);
    for row in &mut profile.modules {
        row.cumulative_samples_by_dot = None;
        row.score = None;
        row.pattern = None;
        row.advice = None;
    }
    for package in &analysis.packages {
        if let Some(row) = profile.modules.iter_mut().find(|m| m.name == package.name) {
            row.cumulative_samples_by_dot = Some(package.runtime_samples_by_dot);
            row.score = Some(score::rounded(package.score));
        }
    }
    for finding in analysis.changes() {
        if let Some(row) = profile
            .modules
            .iter_mut()
            .find(|m| m.name == finding.module)
        {
            if row.pattern.is_none() {
                row.pattern = finding.pattern.map(|p| p.as_str().to_string());
                row.advice = finding.advice.clone();
            }
        }
    }
    analysis
}

/// Whether each import is the application's: made from first-party code,
/// of a first-party module, or nested in such an import.
fn application(tree: &tree::Tree) -> Vec<bool> {
    let mut app = vec![false; tree.records.len()];
    for i in 0..tree.records.len() {
        app[i] = tree.parent[i].is_some_and(|p| app[p])
            || tree.site_origin(i) == Some(Origin::FirstParty)
            || tree.origin[i] == Origin::FirstParty;
    }
    app
}

fn startup(tree: &tree::Tree, application: &[bool]) -> Startup {
    let mut s = Startup::default();
    for (i, r) in tree.records.iter().enumerate() {
        if application[i] {
            continue;
        }
        s.modules += 1;
        if tree.parent[i].is_none() {
            s.cumulative_us += r.cumulative_us;
            if s.names.len() < 6 {
                s.names.push(r.module.clone());
            }
        }
    }
    s
}
