//! Which module a file belongs to: from the files each import opened, from
//! `<frozen name>` pseudo-files, and from the path below `site-packages`.

use crate::model::profile::ImportRecord;
use std::collections::HashMap;

/// Maps source files to module names.
#[derive(Debug, Default)]
pub struct ModuleFiles {
    by_file: HashMap<String, String>,
    file_of: HashMap<String, String>,
}

impl ModuleFiles {
    /// Learns each module's file from the files its import opened.
    pub fn from_imports(imports: &[ImportRecord]) -> Self {
        let mut map = Self::default();
        for import in imports {
            if map.file_of.contains_key(&import.module) {
                continue;
            }
            let leaf = import.module.rsplit('.').next().unwrap_or(&import.module);
            let found = import
                .files
                .iter()
                .filter(|f| f.ok)
                .find_map(|f| source_file_for(&f.path, leaf));
            if let Some(file) = found {
                map.by_file.insert(file.clone(), import.module.clone());
                map.file_of.insert(import.module.clone(), file);
            }
        }
        map
    }

    /// The file of a module, if its import opened one.
    pub fn file_of(&self, module: &str) -> Option<&str> {
        self.file_of.get(module).map(String::as_str)
    }

    /// The module a source file belongs to.
    pub fn module_of(&self, file: &str) -> Option<String> {
        if let Some(m) = self.by_file.get(file) {
            return Some(m.clone());
        }
        if let Some(name) = file
            .strip_prefix("<frozen ")
            .and_then(|s| s.strip_suffix('>'))
        {
            return Some(name.to_string());
        }
        module_from_path(file).or_else(|| native_module_from_path(file))
    }
}

/// If `path` (opened while importing a module whose last name part is
/// `leaf`) is that module's code, the source file its code objects name.
fn source_file_for(path: &str, leaf: &str) -> Option<String> {
    let (dir, name) = path.rsplit_once('/')?;
    if let Some(stem) = name.strip_suffix(".py") {
        return (stem == leaf || (stem == "__init__" && dir.ends_with(&format!("/{leaf}"))))
            .then(|| path.to_string());
    }
    if name.ends_with(".pyc") {
        // dir/__pycache__/stem.cpython-312.pyc -> dir/stem.py
        let source_dir = dir.strip_suffix("/__pycache__")?;
        let stem = name.split('.').next()?;
        let matches =
            stem == leaf || (stem == "__init__" && source_dir.ends_with(&format!("/{leaf}")));
        return matches.then(|| format!("{source_dir}/{stem}.py"));
    }
    if name.ends_with(".so") {
        let stem = name.split('.').next()?;
        return (stem == leaf).then(|| path.to_string());
    }
    None
}

/// A dotted module name from a path below `site-packages`, `dist-packages`
/// or a `lib/pythonX.Y` directory.
pub fn module_from_path(path: &str) -> Option<String> {
    let rest = ["/site-packages/", "/dist-packages/"]
        .iter()
        .find_map(|marker| path.rsplit_once(marker).map(|(_, r)| r))
        .or_else(|| {
            let (_, after) = path.rsplit_once("/lib/python3")?;
            after.split_once('/').map(|(_, r)| r)
        })?;
    let rest = rest.strip_suffix(".py")?;
    let rest = rest.strip_suffix("/__init__").unwrap_or(rest);
    Some(rest.replace('/', "."))
}

/// The name of a frame that stands for native code: the sampled
/// instruction was in a package's shared library (see
/// [`native_module_from_path`]), outside any Python frame.
pub const NATIVE_FUNCTION: &str = "<native>";

/// Whether the file named `file` (a path or its last component) is a
/// shared library: an extension module (`_igraph.abi3.so`) or one a wheel
/// vendors (`libgfortran-….so.5.0.0`).
pub fn is_shared_library(file: &str) -> bool {
    let name = file.rsplit('/').next().unwrap_or(file);
    name.ends_with(".so") || name.contains(".so.")
}

/// The module a package's native library belongs to, from its path below
/// `site-packages` or `dist-packages`: an extension module
/// (`igraph/_igraph.abi3.so` is `igraph._igraph`) or a library a wheel
/// vendors (`numpy.libs/libscipy_openblas64_-….so` is `numpy`). `None` for
/// anything else (the interpreter, the C library, the standard library's
/// own extensions): their work is not a package's.
pub fn native_module_from_path(path: &str) -> Option<String> {
    let rest = ["/site-packages/", "/dist-packages/"]
        .iter()
        .find_map(|marker| path.rsplit_once(marker).map(|(_, r)| r))?;
    let (dirs, file) = rest.rsplit_once('/').unwrap_or(("", rest));
    if !is_shared_library(file) {
        return None;
    }
    let mut parts: Vec<&str> = dirs.split('/').filter(|p| !p.is_empty()).collect();
    if let Some(vendor) = parts.first().and_then(|p| p.strip_suffix(".libs")) {
        return (!vendor.is_empty()).then(|| vendor.to_string());
    }
    // `_igraph.cpython-312-x86_64-linux-gnu.so`, `_igraph.abi3.so`: the stem.
    let stem = file.split('.').next().filter(|s| !s.is_empty())?;
    parts.push(stem);
    Some(parts.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::profile::ImportFile;

    #[test]
    fn a_package_native_library_names_its_module() {
        let sp = "/v/lib/python3.12/site-packages";
        assert_eq!(
            native_module_from_path(&format!(
                "{sp}/pydantic_core/_pydantic_core.cpython-312-x86_64-linux-gnu.so"
            ))
            .as_deref(),
            Some("pydantic_core._pydantic_core")
        );
        assert_eq!(
            native_module_from_path(&format!("{sp}/igraph/_igraph.abi3.so")).as_deref(),
            Some("igraph._igraph")
        );
        assert_eq!(
            native_module_from_path(&format!("{sp}/numpy.libs/libgfortran-040039e1.so.5.0.0"))
                .as_deref(),
            Some("numpy")
        );
        assert_eq!(
            native_module_from_path(
                "/usr/lib/python3.12/lib-dynload/_json.cpython-312-x86_64-linux-gnu.so"
            ),
            None
        );
        assert_eq!(
            native_module_from_path("/usr/lib/x86_64-linux-gnu/libc.so.6"),
            None
        );
        assert_eq!(native_module_from_path(&format!("{sp}/pkg/mod.py")), None);
        // A frame on such a file is resolved through the same fallback.
        let m = ModuleFiles::default();
        assert_eq!(
            m.module_of(&format!("{sp}/igraph/_igraph.abi3.so"))
                .as_deref(),
            Some("igraph._igraph")
        );
    }

    fn import(module: &str, paths: &[&str]) -> ImportRecord {
        ImportRecord {
            module: module.into(),
            parent: None,
            tid: 1,
            start_us: 0,
            end_us: 0,
            self_us: 0,
            cumulative_us: 0,
            depth: 0,
            files: paths
                .iter()
                .map(|p| ImportFile {
                    path: p.to_string(),
                    duration_us: 1,
                    ok: true,
                })
                .collect(),
            site: None,
            failed: false,
            parent_index: None,
            via: None,
            loader: None,
        }
    }

    #[test]
    fn pyc_maps_back_to_its_source() {
        let m = ModuleFiles::from_imports(&[
            import("pkg", &["/app/pkg/__pycache__/__init__.cpython-312.pyc"]),
            import("pkg.mod", &["/app/pkg/__pycache__/mod.cpython-312.pyc"]),
            import("json.decoder", &["/usr/lib/python3.12/json/decoder.py"]),
            import("_ext", &["/app/_ext.cpython-312-x86_64-linux-gnu.so"]),
        ]);
        assert_eq!(m.file_of("pkg"), Some("/app/pkg/__init__.py"));
        assert_eq!(m.module_of("/app/pkg/mod.py").as_deref(), Some("pkg.mod"));
        assert_eq!(
            m.file_of("_ext"),
            Some("/app/_ext.cpython-312-x86_64-linux-gnu.so")
        );
        assert_eq!(m.module_of("<frozen os>").as_deref(), Some("os"));
    }

    #[test]
    fn path_fallback_uses_site_packages() {
        assert_eq!(
            module_from_path("/v/lib/python3.12/site-packages/botocore/client.py").as_deref(),
            Some("botocore.client")
        );
        assert_eq!(
            module_from_path("/usr/lib/python3.11/json/__init__.py").as_deref(),
            Some("json")
        );
        assert_eq!(module_from_path("/home/me/app.py"), None);
    }
}
