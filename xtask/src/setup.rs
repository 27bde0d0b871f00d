//! `cargo xtask setup`: installs, idempotently, everything the project needs
//! on a fresh Debian bookworm host of this kind (root, package registries
//! only), one progress line per step, skipping what is already there.
//! Recipes: ../shared/docs/toolchain.md.

use crate::util::{cache_dir, exec, output, repo_root, step};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `cargo xtask setup`.
#[derive(Args, Default, Clone)]
pub struct SetupArgs {
    /// Only the toolchain and the core interpreters (no sid chroot).
    #[arg(long)]
    pub core: bool,
}

/// Debian packages the project uses: the distribution CPython (a stripped,
/// static build with USDT probes), venv support, bpftrace (overhead bench),
/// hyperfine (bench oracle), debootstrap (the sid chroot), util-linux's setpriv,
/// chromium (opens the HTML report in a test), golang-go (`go tool pprof`
/// reads the pprof output in a test) and linux-perf (`perf`, the oracle of
/// the native-leaf test).
const APT_PACKAGES: &[&str] = &[
    "python3.11",
    "python3.11-venv",
    "bpftrace",
    "hyperfine",
    "debootstrap",
    "util-linux",
    "chromium",
    "golang-go",
    "linux-perf",
];

/// CPythons from Debian sid installed into the chroot.
const SID_PYTHONS: &[&str] = &["python3.13", "python3.14", "python3.15", "python3.14-dbg"];

/// The pinned bpf-linker.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// An interpreter the tests and benches use.
pub struct Interp {
    /// Stable name (`pyenv-3.12`).
    pub name: &'static str,
    /// pyenv: its version directory under [`pyenv_root`] (`3.12.1`);
    /// debian: the interpreter binary.
    at: &'static str,
    /// pyenv, debian or sid.
    pub kind: &'static str,
}

impl Interp {
    const fn pyenv(name: &'static str, version: &'static str) -> Self {
        Interp {
            name,
            at: version,
            kind: "pyenv",
        }
    }

    /// The interpreter binary.
    pub fn python(&self) -> PathBuf {
        if self.kind != "pyenv" {
            return PathBuf::from(self.at);
        }
        let minor = self.at.rsplit_once('.').map_or(self.at, |(minor, _)| minor);
        pyenv_root()
            .join("versions")
            .join(self.at)
            .join("bin")
            .join(format!("python{minor}"))
    }
}

/// Where pyenv's CPython builds are: `$COLDSPY_PYENV_ROOT`, else
/// `/root/.pyenv` (where this machine kind's image has them). The one place
/// the tests and benches learn it from is `env.json` (`pyenv_root` and every
/// interpreter's `python`), written by set-up.
pub fn pyenv_root() -> PathBuf {
    std::env::var_os("COLDSPY_PYENV_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.pyenv"))
}

/// Interpreters that get a venv with the test libraries.
pub const CORE_INTERPRETERS: &[Interp] = &[
    Interp::pyenv("pyenv-3.11", "3.11.7"),
    Interp::pyenv("pyenv-3.12", "3.12.1"),
    Interp {
        name: "debian-3.11",
        at: "/usr/bin/python3.11",
        kind: "debian",
    },
];

/// Other pyenv interpreters on this machine kind (no venv needed): the rest
/// of the version matrix, and versions coldspy refuses (the tests check the
/// refusal names them).
const EXTRA_PYENV: &[Interp] = &[
    Interp::pyenv("pyenv-3.9", "3.9.18"),
    Interp::pyenv("pyenv-3.10", "3.10.13"),
    Interp::pyenv("pyenv-3.13", "3.13.0"),
    Interp::pyenv("pyenv-3.8", "3.8.18"),
    Interp::pyenv("pyenv-3.6", "3.6.15"),
    Interp::pyenv("pyenv-2.7", "2.7.18"),
];

/// The python of a set-up interpreter by name (`pyenv-3.12`).
pub fn python_of(name: &str) -> Option<PathBuf> {
    CORE_INTERPRETERS
        .iter()
        .chain(EXTRA_PYENV)
        .find(|i| i.name == name)
        .map(Interp::python)
}

/// Runs the set-up; returns the path of `env.json`.
pub fn run(args: &SetupArgs) -> Result<PathBuf> {
    step("setup", "nightly rust-src", rust_src)?;
    step(
        "setup",
        &format!("bpf-linker {BPF_LINKER_VERSION}"),
        bpf_linker,
    )?;
    step("setup", "tracefs mounted", tracefs)?;
    step("setup", "Debian packages", apt_packages)?;
    for interp in CORE_INTERPRETERS {
        step("setup", &format!("venv {}", interp.name), || venv(interp))?;
    }
    step(
        "setup",
        "function corpus venv (examples/functions)",
        functions_venv,
    )?;
    step(
        "setup",
        "FaaS runtimes venv (tests/runtimes: awslambdaric, functions-framework, waitress)",
        runtimes_venv,
    )?;
    if !args.core {
        step("setup", "Debian sid chroot (CPython 3.13-3.15)", sid_chroot)?;
        step("setup", "CRIU 4.1 (prebake)", crate::criu::build)?;
        step("setup", "criu check", crate::criu::check)?;
    }
    step("setup", "env.json", || {
        let path = write_env_json(!args.core)?;
        Ok((path.clone(), format!("wrote {}", path.display())))
    })
}

fn rust_src() -> Result<((), String)> {
    let installed = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))
    .unwrap_or_default();
    if installed.lines().any(|l| l.starts_with("rust-src")) {
        return Ok(((), "already installed".into()));
    }
    exec(Command::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))?;
    exec(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]))?;
    Ok(((), "installed".into()))
}

fn bpf_linker() -> Result<((), String)> {
    if let Ok(version) = output(Command::new("bpf-linker").arg("--version")) {
        if version.contains(BPF_LINKER_VERSION) {
            return Ok(((), "already installed".into()));
        }
    }
    // Built against nightly's own LLVM: a plain install wants a newer system LLVM.
    let sysroot = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
    let lib_dir = Path::new(sysroot.trim()).join("lib");
    let llvm = std::fs::read_dir(&lib_dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("libLLVM-") && n.contains("-rust-") && n.ends_with(".so"))
        .context("no libLLVM-*-rust-*.so in nightly's sysroot")?;
    let lib_name = llvm
        .trim_start_matches("lib")
        .trim_end_matches(".so")
        .to_string();
    let major = lib_name
        .split('-')
        .nth(1)
        .context("LLVM version in the library name")?
        .to_string();
    let dir = lib_dir.display();
    let rustflags =
        format!("-C link-arg=-L{dir} -C link-arg=-l{lib_name} -C link-arg=-Wl,-rpath,{dir}");
    exec(
        Command::new("cargo")
            .args([
                "+nightly",
                "install",
                "--locked",
                &format!("bpf-linker@{BPF_LINKER_VERSION}"),
            ])
            .args([
                "--no-default-features",
                "--features",
                &format!("llvm-{major},no-llvm-linking"),
            ])
            .env("RUSTFLAGS", rustflags),
    )?;
    Ok(((), format!("built against LLVM {major}")))
}

fn tracefs() -> Result<((), String)> {
    if Path::new("/sys/kernel/tracing/events").exists() {
        return Ok(((), "already mounted".into()));
    }
    exec(Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]))?;
    Ok(((), "mounted".into()))
}

fn apt_packages() -> Result<((), String)> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| {
            !output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_ok_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(((), "already installed".into()));
    }
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    Ok(((), format!("installed {}", missing.join(" "))))
}

/// Hash of the requirements file, to rebuild venvs when it changes.
fn requirements_stamp() -> Result<String> {
    let text = std::fs::read_to_string(repo_root().join("xtask/requirements-test.txt"))?;
    let mut hash: u64 = 0xcbf29ce484222325;
    for byte in text.bytes() {
        hash = (hash ^ byte as u64).wrapping_mul(0x100000001b3);
    }
    Ok(format!("{hash:016x}"))
}

/// The venv directory of an interpreter.
pub fn venv_dir(name: &str) -> PathBuf {
    cache_dir().join(format!("venv-{name}"))
}

fn venv(interp: &Interp) -> Result<((), String)> {
    let python = interp.python();
    if !python.exists() {
        bail!(
            "{} is missing (the pyenv versions come with this machine kind; \
             COLDSPY_PYENV_ROOT names another pyenv root)",
            python.display()
        );
    }
    let dir = venv_dir(interp.name);
    let stamp_file = dir.join(".coldspy-stamp");
    let stamp = requirements_stamp()?;
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(((), "already built".into()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(cache_dir())?;
    exec(Command::new(&python).args(["-m", "venv"]).arg(&dir))?;
    let pip = dir.join("bin/pip");
    exec(
        Command::new(&pip)
            .args(["install", "-q", "--disable-pip-version-check", "-r"])
            .arg(repo_root().join("xtask/requirements-test.txt")),
    )?;
    std::fs::write(&stamp_file, stamp)?;
    Ok(((), "built".into()))
}

/// The venv of the function corpus (`examples/functions`, CPython 3.12).
pub fn functions_venv_dir() -> PathBuf {
    cache_dir().join("venv-functions-3.12")
}

/// The corpus venv and its generated files, by the corpus's own
/// `prepare.sh` (idempotent: about 2 s when everything is there).
fn functions_venv() -> Result<((), String)> {
    let python = python_of("pyenv-3.12").expect("pyenv-3.12 is a set-up interpreter");
    let dir = functions_venv_dir();
    let existed = dir.join("bin/python").exists();
    std::fs::create_dir_all(cache_dir())?;
    output(
        Command::new("sh")
            .arg(repo_root().join("examples/functions/prepare.sh"))
            .arg(&dir)
            .arg(&python),
    )?;
    let what = if existed { "up to date" } else { "built" };
    Ok(((), format!("{what} at {}", dir.display())))
}

/// The venv of the runtime harnesses (`tests/runtimes/prepare.sh`, its
/// default place; idempotent).
fn runtimes_venv() -> Result<((), String)> {
    let python = python_of("pyenv-3.12").expect("pyenv-3.12 is a set-up interpreter");
    let text = output(
        Command::new("bash")
            .arg(repo_root().join("tests/runtimes/prepare.sh"))
            .env("PYTHON", &python),
    )?;
    Ok(((), text.lines().last().unwrap_or("done").to_string()))
}

/// The sid chroot root.
pub fn sid_root() -> PathBuf {
    cache_dir().join("sid")
}

fn sid_chroot() -> Result<((), String)> {
    let root = sid_root();
    let stamp = root.join(".coldspy-complete");
    let wanted = SID_PYTHONS.join(" ");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(((), "already built".into()));
    }
    let sources =
        std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
    let mirror = sources
        .lines()
        .find_map(|l| l.strip_prefix("URIs:"))
        .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
        .filter(|s| !s.is_empty())
        .context("no Debian mirror in /etc/apt/sources.list.d/debian.sources")?;
    if !root.join("usr/bin/apt-get").exists() {
        let _ = std::fs::remove_dir_all(&root);
        exec(
            Command::new("debootstrap")
                .args(["--variant=minbase", "--include=ca-certificates", "sid"])
                .arg(&root)
                .arg(&mirror),
        )?;
    }
    exec(Command::new("chroot").arg(&root).args([
        "apt-get",
        "-qq",
        "-o",
        "Acquire::Check-Valid-Until=false",
        "update",
    ]))?;
    exec(
        Command::new("chroot")
            .arg(&root)
            .args(["apt-get", "install", "-y", "-qq", "--no-install-recommends"])
            .args(SID_PYTHONS)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    std::fs::write(&stamp, &wanted)?;
    Ok(((), format!("built at {}", root.display())))
}

fn python_version(command: &mut Command) -> Option<String> {
    output(command.args(["-c", "import platform; print(platform.python_version())"]))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Writes `env.json`: where pyenv is and every interpreter found, for tests
/// and benches (they read it, never a path of their own).
///
/// `{"sid_root": PATH, "pyenv_root": PATH, "interpreters": [{"name", "kind",
/// "command": [...], "python", "version", "venv_python"?}],
/// "functions_python": PATH|null}`
fn write_env_json(with_sid: bool) -> Result<PathBuf> {
    use serde_json::json;
    let mut interpreters = Vec::new();
    for interp in CORE_INTERPRETERS {
        let python = interp.python();
        interpreters.push(json!({
            "name": interp.name,
            "kind": interp.kind,
            "command": [python],
            "python": python,
            "version": python_version(&mut Command::new(&python)).unwrap_or_default(),
            "venv_python": venv_dir(interp.name).join("bin/python"),
        }));
    }
    for interp in EXTRA_PYENV {
        let python = interp.python();
        if python.exists() {
            interpreters.push(json!({
                "name": interp.name,
                "kind": interp.kind,
                "command": [python],
                "python": python,
                "version": python_version(&mut Command::new(&python)).unwrap_or_default(),
            }));
        }
    }
    let root = sid_root();
    if with_sid && root.join(".coldspy-complete").exists() {
        for python in SID_PYTHONS {
            let mut cmd = Command::new("chroot");
            cmd.arg(&root).arg(format!("/usr/bin/{python}"));
            interpreters.push(json!({
                "name": format!("sid-{}", python.trim_start_matches("python")),
                "kind": "sid",
                "command": ["chroot", root, format!("/usr/bin/{python}")],
                "python": root.join("usr/bin").join(python),
                "version": python_version(&mut cmd).unwrap_or_default(),
            }));
        }
    }
    let functions = functions_venv_dir().join("bin/python");
    let env = json!({
        "sid_root": root,
        "pyenv_root": pyenv_root(),
        "interpreters": interpreters,
        "functions_python": functions.exists().then_some(functions),
    });
    std::fs::create_dir_all(cache_dir())?;
    let path = cache_dir().join("env.json");
    std::fs::write(&path, serde_json::to_string_pretty(&env)? + "\n")?;
    Ok(path)
}

/// The pinned py-spy that `cargo xtask bench overhead` runs beside coldspy.
const PY_SPY: &str = "py-spy==0.4.3";

/// Optional, for `cargo xtask bench overhead` only: a venv with py-spy
/// (a binary wheel); returns the `py-spy` executable.
pub fn py_spy() -> Result<PathBuf> {
    let dir = venv_dir("py-spy");
    step("setup", &format!("venv py-spy ({PY_SPY})"), || {
        let stamp_file = dir.join(".coldspy-stamp");
        if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == PY_SPY) {
            return Ok(((), "already built".into()));
        }
        let python = python_of("pyenv-3.12")
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/usr/bin/python3.11"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(cache_dir())?;
        exec(Command::new(&python).args(["-m", "venv"]).arg(&dir))?;
        exec(Command::new(dir.join("bin/pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            PY_SPY,
        ]))?;
        std::fs::write(&stamp_file, PY_SPY)?;
        Ok(((), "built".into()))
    })?;
    Ok(dir.join("bin/py-spy"))
}

/// The pinned PySpark of `cargo xtask bench fleet` (its own venv: the wheel
/// is 300 MB, so the test venvs do not carry it).
const PYSPARK: &str = "pyspark==3.5.5";

/// Optional, for `cargo xtask bench fleet` only: a Java runtime (Debian's
/// default-jre-headless, when no `java` is on the PATH) and a venv with
/// PySpark; returns the venv's python. Not part of `cargo xtask setup`.
pub fn spark() -> Result<PathBuf> {
    step("setup", "Java runtime (Spark)", || {
        if output(Command::new("java").arg("-version")).is_ok() {
            return Ok(((), "already installed".into()));
        }
        exec(Command::new("apt-get").args(["update", "-qq"]))?;
        exec(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .arg("default-jre-headless")
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )?;
        Ok(((), "installed default-jre-headless".into()))
    })?;
    let dir = venv_dir("spark");
    step("setup", &format!("venv spark ({PYSPARK})"), || {
        let stamp_file = dir.join(".coldspy-stamp");
        if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == PYSPARK) {
            return Ok(((), "already built".into()));
        }
        let python = python_of("pyenv-3.12")
            .filter(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("/usr/bin/python3.11"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(cache_dir())?;
        exec(Command::new(&python).args(["-m", "venv"]).arg(&dir))?;
        exec(Command::new(dir.join("bin/pip")).args([
            "install",
            "-q",
            "--disable-pip-version-check",
            PYSPARK,
        ]))?;
        std::fs::write(&stamp_file, PYSPARK)?;
        Ok(((), "built".into()))
    })?;
    Ok(dir.join("bin/python"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyenv_interpreters_are_found_under_the_pyenv_root() {
        let root = pyenv_root();
        assert_eq!(
            python_of("pyenv-3.12").unwrap(),
            root.join("versions/3.12.1/bin/python3.12")
        );
        assert_eq!(
            python_of("pyenv-2.7").unwrap(),
            root.join("versions/2.7.18/bin/python2.7")
        );
        assert_eq!(
            python_of("debian-3.11").unwrap(),
            PathBuf::from("/usr/bin/python3.11")
        );
        assert!(python_of("pyenv-4.0").is_none());
    }
}
