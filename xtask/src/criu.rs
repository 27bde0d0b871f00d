//! CRIU 4.1.1 for `coldspy prebake`, built from Debian trixie's source
//! (bookworm's 3.17 fails on this kernel's vDSO check); recipe in
//! ../shared/docs/toolchain.md. Then `criu check`.

use crate::util::{cache_dir, exec, output};
use anyhow::{bail, Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// Build dependencies of CRIU (Debian packages).
const BUILD_DEPS: &[&str] = &[
    "libprotobuf-dev",
    "libprotobuf-c-dev",
    "protobuf-c-compiler",
    "protobuf-compiler",
    "python3-protobuf",
    "libnl-3-dev",
    "libnet1-dev",
    "libcap-dev",
    "libaio-dev",
    "pkg-config",
    "libbsd-dev",
    "libgnutls28-dev",
    "uuid-dev",
    "libdrm-dev",
    "dpkg-dev",
    "make",
    "gcc",
    // The C library's headers and its static archive: CRIU's build, and
    // the static pause() process of `bench prebake`'s CRIU floor (until now
    // only a dependency of the -dev packages above).
    "libc6-dev",
];

/// Where set-up installs the binary (coldspy looks here).
pub fn criu_binary() -> PathBuf {
    cache_dir().join("criu/criu")
}

/// Whether `dir` is on a tmpfs.
fn is_tmpfs(dir: &str) -> bool {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let path = std::ffi::CString::new(dir).expect("no NUL in a constant path");
    // SAFETY: statfs into a zeroed buffer with a valid C string.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(path.as_ptr(), &mut st) == 0 && st.f_type as i64 == TMPFS_MAGIC }
}

/// Where CRIU keeps its cache of probed kernel features (`criu.kdat`). CRIU
/// keeps it only on a tmpfs (a reboot must clear it); without it every
/// `criu restore` probes the kernel again, ≈ 8 ms of a 22 ms restore here.
/// `/run` is not a tmpfs on this machine kind, `/dev/shm` is.
fn kdat_rundir() -> &'static str {
    if is_tmpfs("/run") {
        "/run"
    } else {
        "/dev/shm"
    }
}

/// Builds CRIU unless a 4.1 binary built for this host's cache directory is
/// already there.
pub fn build() -> Result<((), String)> {
    let binary = criu_binary();
    let rundir = format!("RUNDIR={}", kdat_rundir());
    let stamp = cache_dir().join("criu/build-options");
    if output(Command::new(&binary).arg("--version")).is_ok_and(|v| v.contains("Version: 4.1"))
        && std::fs::read_to_string(&stamp).is_ok_and(|s| s == rundir)
    {
        return Ok(((), "already built".into()));
    }
    let mirror = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")?
        .lines()
        .find_map(|l| {
            l.strip_prefix("URIs:")
                .and_then(|u| u.split_whitespace().next())
                .map(str::to_string)
        })
        .context("no Debian mirror in /etc/apt/sources.list.d/debian.sources")?;
    std::fs::write(
        "/etc/apt/sources.list.d/trixie-src.sources",
        format!("Types: deb-src\nURIs: {mirror}\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"),
    )?;
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(BUILD_DEPS)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let work = cache_dir().join("criu-build");
    std::fs::create_dir_all(&work)?;
    // The .dsc may 404 while the orig tarball arrives: check for the tarball.
    let _ = Command::new("apt-get")
        .args(["source", "--download-only", "criu/trixie"])
        .current_dir(&work)
        .status();
    let tarball = std::fs::read_dir(&work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("criu_") && n.ends_with(".orig.tar.xz"))
        })
        .context("apt-get source did not bring criu_*.orig.tar.xz from trixie")?;
    exec(
        Command::new("tar")
            .arg("xf")
            .arg(&tarball)
            .current_dir(&work),
    )?;
    let source = std::fs::read_dir(&work)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("criu-"))
        })
        .context("no criu-* source directory after unpacking")?;
    // A rebuild with other options must recompile kerndat.o, where RUNDIR is.
    let _ = std::fs::remove_file(source.join("criu/kerndat.o"));
    exec(
        Command::new("make")
            .args(["-j2", "criu", &rundir])
            .current_dir(&source),
    )?;
    std::fs::create_dir_all(binary.parent().unwrap())?;
    std::fs::copy(source.join("criu/criu"), &binary)?;
    std::fs::write(&stamp, &rundir)?;
    Ok((
        (),
        format!(
            "built at {} (kernel-feature cache in {rundir})",
            binary.display()
        ),
    ))
}

/// `criu check`.
pub fn check() -> Result<((), String)> {
    let out = Command::new(criu_binary()).arg("check").output()?;
    let last = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    if !out.status.success() {
        bail!("criu check failed: {}", last(&out.stderr));
    }
    // The verdict ("Looks good.") is stdout's last line; warnings go to stderr.
    Ok(((), last(&out.stdout)))
}
