//! Whose code a file is: the standard library, an installed package, coldspy's
//! own runner, or the program's own (first-party) code — the only code whose
//! import statements advice may tell the user to edit.

/// Where a source file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The interpreter's standard library (or frozen / built-in code).
    StandardLibrary,
    /// A package installed in `site-packages` / `dist-packages`.
    Installed,
    /// coldspy's function runner (never charged to the function).
    Runner,
    /// The program's own code.
    FirstParty,
}

/// The file name of coldspy's runner, as it appears in frames.
pub const RUNNER_FILE: &str = "coldspy_runner.py";

/// Classifies a source path as frames and import sites show it.
pub fn origin_of(file: &str) -> Origin {
    if file.ends_with(RUNNER_FILE) {
        return Origin::Runner;
    }
    if file.contains("/site-packages/") || file.contains("/dist-packages/") {
        return Origin::Installed;
    }
    if file.is_empty() || file.starts_with('<') || is_stdlib_path(file) {
        return Origin::StandardLibrary;
    }
    Origin::FirstParty
}

/// `…/lib/python3.X/…` outside any packages directory: the layout of every
/// CPython installation (pyenv, Debian's `/usr/lib/python3.X`, a venv's base).
fn is_stdlib_path(file: &str) -> bool {
    let Some(at) = file.find("/lib/python3.") else {
        return false;
    };
    let rest = &file[at + "/lib/python3.".len()..];
    rest.split('/').next().is_some_and(|minor| {
        let digits = minor.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    })
}

/// Whether an import statement at `file` is one the user can edit.
pub fn is_first_party(file: &str) -> bool {
    origin_of(file) == Origin::FirstParty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_classified_by_where_they_live() {
        let cases = [
            (
                "/root/.pyenv/versions/3.12.1/lib/python3.12/json/__init__.py",
                Origin::StandardLibrary,
            ),
            (
                "/usr/lib/python3.11/dataclasses.py",
                Origin::StandardLibrary,
            ),
            (
                "/usr/lib/python3.14t/re/__init__.py",
                Origin::StandardLibrary,
            ),
            ("<frozen importlib._bootstrap>", Origin::StandardLibrary),
            (
                "/v/lib/python3.12/site-packages/boto3/__init__.py",
                Origin::Installed,
            ),
            (
                "/usr/lib/python3/dist-packages/yaml/__init__.py",
                Origin::Installed,
            ),
            ("/tmp/coldspy-1/coldspy_runner.py", Origin::Runner),
            ("/work/app/handler.py", Origin::FirstParty),
            ("/srv/lib/python-tools/app.py", Origin::FirstParty),
        ];
        for (file, expected) in cases {
            assert_eq!(origin_of(file), expected, "{file}");
        }
    }
}
