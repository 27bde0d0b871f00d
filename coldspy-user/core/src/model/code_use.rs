//! The runner's `code_use` mark into `modules[].code_use`: where a function
//! body of the handler module names a module (`to_xlsx:26`), read
//! statically from the handler's source after init. Applied after
//! [`super::build::build_profile`], by the recording that has the runner's
//! marks.

use crate::model::profile::Profile;
use crate::model::trace::Trace;
use std::collections::HashMap;

/// Fills `modules[].code_use` from the trace's `code_use` marks (tokens
/// `module=function:line`); rows the marks do not name keep `None`.
pub fn apply(trace: &Trace, profile: &mut Profile) {
    let named: HashMap<&str, &str> = trace
        .phases
        .iter()
        .filter(|m| m.name == "code_use")
        .flat_map(|m| m.detail.split_whitespace())
        .filter_map(|token| token.split_once('='))
        .filter(|(_, at)| {
            at.rsplit_once(':')
                .is_some_and(|(f, l)| !f.is_empty() && l.parse::<u32>().is_ok())
        })
        .collect();
    for row in &mut profile.modules {
        row.code_use = named.get(row.name.as_str()).map(|at| at.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ModuleRecord;
    use crate::model::trace::PhaseMark;

    #[test]
    fn marks_name_the_function_and_line_and_bad_tokens_are_ignored() {
        let mut trace = Trace::default();
        trace.phases.push(PhaseMark {
            name: "code_use".into(),
            ts_ns: 0,
            detail: "openpyxl=to_xlsx:26 json=handler:40 bad broken=f:x".into(),
        });
        let mut profile = Profile::empty();
        for name in ["openpyxl", "zipfile", "broken"] {
            profile.modules.push(ModuleRecord {
                name: name.into(),
                ..ModuleRecord::default()
            });
        }
        apply(&trace, &mut profile);
        let uses: Vec<_> = profile
            .modules
            .iter()
            .map(|m| m.code_use.as_deref())
            .collect();
        assert_eq!(uses, [Some("to_xlsx:26"), None, None]);
    }
}
