//! Reads the program's import statements from its source, for advice that
//! quotes them as written (`imports[].site.statement`, parsed by
//! [`crate::model::statement`]). Only the program's own files: a
//! dependency's statements are not the user's to edit.

use crate::model::profile::Profile;
use crate::model::statement::import_statement;
use coldspy_core::origin::{of_file, Origin};
use std::collections::HashMap;
use std::path::Path;

/// A source file larger than this is not read (no program's module is).
const MAX_SOURCE_BYTES: u64 = 4 << 20;

/// Fills the statement of every import sited in a first-party file of
/// process `pid` (read through its root, else on the host); a file that
/// cannot be read leaves its statements out.
pub fn fill(profile: &mut Profile, pid: u32) {
    let mut sources: HashMap<String, Option<String>> = HashMap::new();
    for record in &mut profile.imports {
        let Some(site) = record.site.as_mut() else {
            continue;
        };
        if of_file(&site.file) != Origin::FirstParty {
            continue;
        }
        let source = sources
            .entry(site.file.clone())
            .or_insert_with(|| read_source(pid, &site.file));
        site.statement = source
            .as_deref()
            .and_then(|text| import_statement(text, site.line));
    }
}

fn read_source(pid: u32, file: &str) -> Option<String> {
    let path = crate::python::elf::path_in_process(pid, Path::new(file));
    if std::fs::metadata(&path).ok()?.len() > MAX_SOURCE_BYTES {
        return None;
    }
    std::fs::read_to_string(&path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::{ImportRecord, ImportSite};

    #[test]
    fn first_party_statements_are_read_and_others_left_out() {
        let dir = std::env::temp_dir().join(format!("coldspy-statements-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let app = dir.join("app.py");
        std::fs::write(&app, "import json\nfrom scipy import (special,\n  stats)\n").unwrap();
        let site = |file: &str, line| {
            Some(ImportSite {
                file: file.into(),
                line,
                function: "<module>".into(),
                statement: None,
            })
        };
        let mut profile = Profile::empty();
        let app = app.display().to_string();
        let sp = "/v/lib/python3.12/site-packages/scipy/__init__.py";
        profile.imports = [site(&app, 2), site(sp, 1), site(&app, 3)]
            .into_iter()
            .map(|site| ImportRecord {
                site,
                ..ImportRecord::default()
            })
            .collect();
        fill(&mut profile, std::process::id());
        let texts: Vec<Option<&str>> = profile
            .imports
            .iter()
            .map(|r| r.site.as_ref().unwrap().statement.as_deref())
            .collect();
        assert_eq!(
            texts,
            [Some("from scipy import special, stats"), None, None]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
