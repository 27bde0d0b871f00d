//! Network at init: a connection the program opens before its first
//! invocation (a parameter fetched from SSM, a database connected at module
//! level). The cold start waits for that exchange, and a prebaked snapshot
//! cannot hold the connection. Named at the program's own line closest to
//! the `connect` call (the innermost first-party frame of the stack the
//! kernel read at the call), with what that line called.

use super::evidence::{Evidence, Verdict};
use super::patterns::Pattern;
use super::statements::{Finding, Site};
use crate::model::profile::{ConnectRecord, Profile};

/// Adds one finding per program line that connected during init.
pub fn add(profile: &Profile, findings: &mut Vec<Finding>) {
    let mut by_site: Vec<(Site, Vec<&ConnectRecord>)> = Vec::new();
    for c in profile.connects.iter().filter(|c| c.at_init) {
        let Some(s) = &c.site else { continue };
        let site = Site {
            file: s.file.clone(),
            line: s.line,
            function: s.function.clone(),
            statement: None,
        };
        match by_site.iter_mut().find(|(at, _)| *at == site) {
            Some((_, list)) => list.push(c),
            None => by_site.push((site, vec![c])),
        }
    }
    for (site, connects) in by_site {
        findings.push(finding(site, &connects));
    }
}

fn finding(site: Site, connects: &[&ConnectRecord]) -> Finding {
    let mut addresses: Vec<&str> = connects.iter().map(|c| c.address.as_str()).collect();
    addresses.dedup();
    let first = connects[0];
    let through = if first.calls.is_empty() {
        String::new()
    } else {
        format!(" through {}", first.calls.join(" → "))
    };
    let times = match connects.len() {
        1 => String::new(),
        n => format!(" ({n} connections)"),
    };
    let advice = format!(
        "{site} connects to {} at init{times}{through}: the cold start waits for that exchange (coldspy sees the connect call, not how long the reply took), and `coldspy prebake` cannot snapshot a process holding a connection. If not every call needs it, connect on first use (create the client lazily); if they do, keep it: warm calls reuse it.",
        addresses.join(", ")
    );
    Finding {
        module: first.address.clone(),
        via: site.clone(),
        site,
        first_party: true,
        cumulative_us: 0,
        saving_us: 0,
        stdlib_us: 0,
        brought: Vec::new(),
        evidence: Evidence {
            seen: 0,
            total: 0,
            exact_first: None,
            invocations: 0,
            init_named: true,
            ran_at_init: true,
            code_named: false,
        },
        verdict: Verdict::Used,
        pattern: Some(Pattern::NetworkAtInit),
        advice: Some(advice),
    }
}
