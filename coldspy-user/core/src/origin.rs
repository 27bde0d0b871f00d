//! Where code comes from: the standard library, an installed package
//! (`site-packages`), coldspy's own runner, or the program (first-party).
//! Advice is given on first-party statements only; the standard library is
//! never a finding of its own.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The origin of a file or module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// CPython's standard library (frozen, built-in, or under `lib/pythonX.Y`).
    Stdlib,
    /// An installed distribution (`site-packages`, `dist-packages`).
    ThirdParty,
    /// coldspy's function runner (`coldspy_runner.py`).
    Runner,
    /// The program's own code.
    FirstParty,
    /// No file and not a standard-library name.
    Unknown,
}

/// The runner's file name, as every copy of it is called.
pub const RUNNER_FILE: &str = "coldspy_runner.py";

/// Top-level standard-library names of CPython 3.9–3.15 (`data/stdlib_modules.txt`).
pub fn stdlib_names() -> &'static HashSet<&'static str> {
    static NAMES: OnceLock<HashSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        include_str!("../data/stdlib_modules.txt")
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// The origin of a source file, by its path.
pub fn of_file(file: &str) -> Origin {
    if file.ends_with(&format!("/{RUNNER_FILE}")) || file == RUNNER_FILE {
        Origin::Runner
    } else if file.starts_with('<') {
        // `<frozen importlib._bootstrap>`, `<string>`: the interpreter's.
        Origin::Stdlib
    } else if file.contains("/site-packages/") || file.contains("/dist-packages/") {
        Origin::ThirdParty
    } else if is_stdlib_dir(file) {
        Origin::Stdlib
    } else {
        Origin::FirstParty
    }
}

/// Whether `file` is importlib's machinery: frozen, or its source (a
/// build run with `-X frozen_modules=off`, the default of debug builds).
pub fn is_import_machinery(file: &str) -> bool {
    file.starts_with("<frozen importlib")
        || [
            "/importlib/__init__.py",
            "/importlib/_bootstrap.py",
            "/importlib/_bootstrap_external.py",
            "/importlib/util.py",
        ]
        .iter()
        .any(|end| file.ends_with(end))
}

/// `…/lib/python3.12/…` (the standard library and its `lib-dynload`).
fn is_stdlib_dir(file: &str) -> bool {
    let Some((_, after)) = file.split_once("/lib/python3") else {
        return false;
    };
    let version = after.split('/').next().unwrap_or("");
    version.starts_with('.') && version[1..].chars().all(|c| c.is_ascii_digit() || c == 't')
}

/// The origin of a module: by its file when known (a PyPI `dataclasses` in
/// `site-packages` is third-party even though the name is the standard
/// library's), else by its top-level name.
pub fn of_module(name: &str, file: Option<&str>) -> Origin {
    match file.map(of_file) {
        Some(Origin::Stdlib) | None if is_stdlib_name(name) => Origin::Stdlib,
        Some(origin) => origin,
        None => Origin::Unknown,
    }
}

/// Whether the top-level name of `module` is a standard-library module.
pub fn is_stdlib_name(module: &str) -> bool {
    stdlib_names().contains(top_level(module))
}

/// Whether dotted `module` is `package` or one of its sub-modules
/// (`boto3.dynamodb` is within `boto3`; `boto3x` is not).
pub fn is_within(module: &str, package: &str) -> bool {
    module
        .strip_prefix(package)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The top-level package of a dotted name.
pub fn top_level(module: &str) -> &str {
    module.split('.').next().unwrap_or(module)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_is_within_its_package_only_at_a_dot() {
        assert!(is_within("boto3", "boto3"));
        assert!(is_within("boto3.dynamodb.conditions", "boto3"));
        assert!(!is_within("boto3x", "boto3"));
        assert!(!is_within("boto", "boto3"));
    }

    #[test]
    fn files_are_classified_by_path() {
        let venv = "/v/lib/python3.12/site-packages/boto3/__init__.py";
        assert_eq!(of_file(venv), Origin::ThirdParty);
        assert_eq!(
            of_file("/root/.pyenv/versions/3.12.1/lib/python3.12/json/__init__.py"),
            Origin::Stdlib
        );
        assert_eq!(
            of_file("/usr/lib/python3.13/lib-dynload/_json.cpython-313-x86_64-linux-gnu.so"),
            Origin::Stdlib
        );
        assert_eq!(of_file("<frozen importlib._bootstrap>"), Origin::Stdlib);
        assert_eq!(
            of_file("/tmp/coldspy-runner-0/coldspy_runner.py"),
            Origin::Runner
        );
        assert_eq!(
            of_file("/work/main/examples/handler.py"),
            Origin::FirstParty
        );
        assert_eq!(of_file("/home/me/lib/python3x/app.py"), Origin::FirstParty);
    }

    #[test]
    fn a_stdlib_name_in_site_packages_is_a_backport_not_the_stdlib() {
        assert_eq!(of_module("dataclasses", None), Origin::Stdlib);
        assert_eq!(
            of_module("dataclasses", Some("/usr/lib/python3.12/dataclasses.py")),
            Origin::Stdlib
        );
        assert_eq!(
            of_module(
                "dataclasses",
                Some("/v/lib/python3.12/site-packages/dataclasses.py")
            ),
            Origin::ThirdParty
        );
        assert_eq!(of_module("sys", None), Origin::Stdlib);
        assert_eq!(of_module("boto3", None), Origin::Unknown);
    }

    #[test]
    fn the_shipped_list_covers_3_9_to_3_15() {
        for name in [
            "re",
            "enum",
            "typing",
            "logging",
            "html",
            "xml",
            "json",
            "tomllib",
            "zoneinfo",
            "_bootlocale",
            "parser",
            "distutils",
        ] {
            assert!(is_stdlib_name(name), "{name}");
        }
        for name in ["boto3", "numpy", "markdown", "tqdm"] {
            assert!(!is_stdlib_name(name), "{name}");
        }
    }
}
