//! The source text of an import statement (`imports[].site.statement`), so
//! that advice quotes the statement as written: `from scipy import special,
//! stats` is not `import scipy.stats`, and removing one name of it is not
//! removing the line. Read from the program's source by the recording (this
//! module only parses); absent when the file could not be read or the line
//! holds no import statement.

/// Lines a parenthesized `from … import (…)` may span before it is given up.
const MAX_LINES: usize = 20;

/// The import statement at 1-based `line` of `source`, on one line with
/// single spaces, without parentheses, a trailing comma or a comment:
/// `from a import (\n    b,\n    c,\n)` is `from a import b, c`. `None`
/// when that line does not start an `import` or `from … import` statement.
pub fn import_statement(source: &str, line: u32) -> Option<String> {
    let mut lines = source.lines().skip((line as usize).checked_sub(1)?);
    let first = without_comment(lines.next()?).trim();
    let first = first.split(';').next().unwrap_or(first).trim();
    if !(first.starts_with("import ") || first.starts_with("from ") && first.contains(" import ")) {
        return None;
    }
    let mut text = first.trim_end_matches('\\').to_string();
    let mut open = first.contains('(') && !first.contains(')');
    let mut continued = first.ends_with('\\');
    for next in lines.take(MAX_LINES) {
        if !(open || continued) {
            break;
        }
        let next = without_comment(next).trim();
        text.push(' ');
        text.push_str(next.trim_end_matches('\\'));
        open &= !next.contains(')');
        continued = next.ends_with('\\');
    }
    if open {
        return None;
    }
    let text = text.replace(['(', ')'], " ");
    let words: Vec<&str> = text.split_whitespace().collect();
    let joined = words.join(" ").replace(" ,", ",");
    Some(joined.trim_end_matches(',').trim().to_string())
}

/// `line` without a `#` comment (an import statement holds no string).
fn without_comment(line: &str) -> &str {
    line.split('#').next().unwrap_or(line)
}

/// When `statement` imports several names and `module` is one of them, that
/// name as written: `stats` of `from scipy import special, stats` for
/// `scipy.stats`, `os` of `import os, sys` for `os`. `None` when the
/// statement names one module only, or not `module`.
pub fn name_of(statement: &str, module: &str) -> Option<String> {
    let (from, names) = match statement.strip_prefix("from ") {
        Some(rest) => {
            let (package, names) = rest.split_once(" import ")?;
            (Some(package.trim()), names)
        }
        None => (None, statement.strip_prefix("import ")?),
    };
    let names: Vec<&str> = names
        .split(',')
        .map(|n| n.split(" as ").next().unwrap_or(n).trim())
        .filter(|n| !n.is_empty())
        .collect();
    if names.len() < 2 {
        return None;
    }
    names
        .into_iter()
        .find(|name| match from {
            Some(package) => format!("{package}.{name}") == module,
            None => *name == module,
        })
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_read_as_written_on_one_line() {
        let source = "import json\nfrom scipy import special, stats  # both\n\
                      from a.b import (\n    c,\n    d as e,\n)\nx = 1\n\
                      import os, \\\n    sys\n    import lazy; y = 2\n";
        assert_eq!(import_statement(source, 1).as_deref(), Some("import json"));
        assert_eq!(
            import_statement(source, 2).as_deref(),
            Some("from scipy import special, stats")
        );
        assert_eq!(
            import_statement(source, 3).as_deref(),
            Some("from a.b import c, d as e")
        );
        assert_eq!(import_statement(source, 7), None);
        assert_eq!(
            import_statement(source, 8).as_deref(),
            Some("import os, sys")
        );
        assert_eq!(import_statement(source, 10).as_deref(), Some("import lazy"));
        assert_eq!(import_statement(source, 0), None);
        assert_eq!(import_statement(source, 99), None);
        // A parenthesis never closed: no statement rather than a wrong one.
        assert_eq!(import_statement("from a import (\n b,\n", 1), None);
    }

    #[test]
    fn one_name_of_several_is_named() {
        let from = "from scipy import special, stats";
        assert_eq!(name_of(from, "scipy.stats").as_deref(), Some("stats"));
        assert_eq!(name_of(from, "scipy"), None);
        assert_eq!(name_of("from tqdm import tqdm", "tqdm"), None);
        assert_eq!(
            name_of("import os, sys as s", "sys").as_deref(),
            Some("sys")
        );
        assert_eq!(name_of("import boto3", "boto3"), None);
    }
}
