//! Module bodies seen by the `PyEval_EvalCode` probe, turned into import
//! edges: which module a body's file is (the packages on disk around it),
//! whether it is top-level code, and which frame asked for it.

use crate::model::import_tree::MAIN_MODULE;
use crate::model::profile::Frame;
use crate::python::elf::path_in_process;
use std::collections::HashMap;
use std::path::Path;

/// What a module body is, from its file and its callers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// The program's top-level code: no Python caller (the interpreter ran
    /// the script), or `runpy` ran it (`python -m`).
    Main,
    /// A module: its dotted name as far as the files show it.
    Module(String),
    /// Code that is no module (`exec` of a string, generated code).
    NotModule,
}

/// Module names by (pid, file), as found on disk once.
#[derive(Debug, Default)]
pub struct ModuleNames {
    cache: HashMap<(u32, String), Option<String>>,
}

impl ModuleNames {
    /// What the body whose code comes from `file` is; `callers` are its
    /// calling frames, innermost first (`None`: unreadable).
    pub fn kind(&mut self, pid: u32, file: &str, callers: &[Option<Frame>]) -> BodyKind {
        let first = callers.iter().flatten().next();
        match first {
            None if callers.is_empty() => return BodyKind::Main,
            Some(f) if is_runpy(&f.file) => return BodyKind::Main,
            _ => {}
        }
        let key = (pid, file.to_string());
        let name = self
            .cache
            .entry(key)
            .or_insert_with(|| module_of_file(pid, file));
        match name {
            Some(name) => BodyKind::Module(name.clone()),
            None => BodyKind::NotModule,
        }
    }
}

/// The caller a body's import is charged to: the innermost frame outside
/// importlib's own machinery (`import_module`, the bootstrap, `util`'s
/// lazy loader) and outside a module's lazy `__getattr__` (PEP 562, as
/// scipy, dateutil and `lazy_loader` packages have): the statement that
/// asked for the module (`from scipy import stats`).
pub fn asking_frame(callers: &[Option<Frame>]) -> Option<usize> {
    callers.iter().position(|f| {
        f.as_ref()
            .is_some_and(|f| !is_import_machinery(&f.file) && f.function != "__getattr__")
    })
}

/// Whether `file` is importlib's machinery.
fn is_import_machinery(file: &str) -> bool {
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

/// Whether `file` is `runpy` (which runs `python -m`'s main module).
fn is_runpy(file: &str) -> bool {
    file == "<frozen runpy>" || file.ends_with("/runpy.py")
}

/// The dotted module name of a source file: its stem (the directory for a
/// package's `__init__`), prefixed by each enclosing directory that is a
/// regular package (has an `__init__.py`, looked up in the process's root).
/// `<frozen NAME>` is NAME. `None` for anything else (`<string>`).
pub fn module_of_file(pid: u32, file: &str) -> Option<String> {
    if let Some(name) = file
        .strip_prefix("<frozen ")
        .and_then(|s| s.strip_suffix('>'))
    {
        // importlib's bootstrap is imported under its frozen alias.
        let name = match name {
            "importlib._bootstrap" => "_frozen_importlib",
            "importlib._bootstrap_external" => "_frozen_importlib_external",
            other => other,
        };
        return name.split('.').all(valid_name).then(|| name.to_string());
    }
    let path = Path::new(file);
    if !path.is_absolute() {
        return None;
    }
    let stem = path.file_stem()?.to_str()?;
    let mut dir = path.parent()?;
    let mut parts = Vec::new();
    if stem == "__init__" {
        parts.push(dir.file_name()?.to_str()?.to_string());
        dir = dir.parent()?;
    } else {
        parts.push(stem.to_string());
    }
    while let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
        if !valid_name(name) || !path_in_process(pid, &dir.join("__init__.py")).exists() {
            break;
        }
        parts.push(name.to_string());
        dir = dir.parent()?;
    }
    parts.reverse();
    let name = parts.join(".");
    (parts.iter().all(|p| valid_name(p)) && name != MAIN_MODULE).then_some(name)
}

/// Whether `name` can be one component of a module name.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(file: &str) -> Option<Frame> {
        Some(Frame {
            function: "f".into(),
            qualname: String::new(),
            file: file.into(),
            line: 1,
            module: None,
        })
    }

    #[test]
    fn files_name_their_packages() {
        let root = std::env::temp_dir().join(format!("coldspy-modname-{}", std::process::id()));
        let pkg = root.join("site/pkg/sub");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(root.join("site/pkg/__init__.py"), "").unwrap();
        std::fs::write(pkg.join("__init__.py"), "").unwrap();
        let me = std::process::id();
        let name = |p: &Path| module_of_file(me, p.to_str().unwrap());
        assert_eq!(name(&pkg.join("__init__.py")).as_deref(), Some("pkg.sub"));
        assert_eq!(name(&pkg.join("mod.py")).as_deref(), Some("pkg.sub.mod"));
        assert_eq!(name(&root.join("site/app.py")).as_deref(), Some("app"));
        assert_eq!(module_of_file(me, "<frozen os>").as_deref(), Some("os"));
        assert_eq!(module_of_file(me, "<string>"), None);
        assert_eq!(module_of_file(me, "relative.py"), None);
        assert_eq!(name(&root.join("site/my-app.py")), None);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn top_level_code_and_the_asking_frame() {
        let mut names = ModuleNames::default();
        assert_eq!(names.kind(1, "/x/app.py", &[]), BodyKind::Main);
        let runpy = [frame("<frozen runpy>"), frame("<frozen runpy>")];
        assert_eq!(names.kind(1, "/x/__main__.py", &runpy), BodyKind::Main);
        let lambda = [
            frame("<frozen importlib._bootstrap>"),
            frame("<frozen importlib._bootstrap_external>"),
            frame("/usr/lib/python3.12/importlib/__init__.py"),
            frame("/venv/awslambdaric/bootstrap.py"),
        ];
        assert_eq!(asking_frame(&lambda), Some(3));
        let mut lazy = frame("/venv/scipy/__init__.py");
        lazy.as_mut().unwrap().function = "__getattr__".into();
        let from_import = [
            frame("<frozen importlib._bootstrap>"),
            frame("/usr/lib/python3.12/importlib/__init__.py"),
            lazy,
            frame("<frozen importlib._bootstrap>"),
            frame("/app/app.py"),
        ];
        assert_eq!(asking_frame(&from_import), Some(4));
        assert_eq!(names.kind(1, "<string>", &lambda), BodyKind::NotModule);
        assert_eq!(
            asking_frame(&[None, frame("<frozen importlib._bootstrap>")]),
            None
        );
    }
}
