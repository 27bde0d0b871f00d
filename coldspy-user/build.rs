//! Compiles the `coldspy-ebpf` programs for the BPF target (nightly +
//! build-std, through aya-build) so that a plain `cargo build` builds both.
// Only a build-dependency so cargo rebuilds on eBPF changes (Cargo.toml).
use anyhow::{anyhow, Context as _};
use aya_build::Toolchain;
use coldspy_ebpf as _;

fn main() -> anyhow::Result<()> {
    let cargo_metadata::Metadata { packages, .. } = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("MetadataCommand::exec")?;
    let ebpf = packages
        .into_iter()
        .find(|p| p.name.as_str() == "coldspy-ebpf")
        .ok_or_else(|| anyhow!("coldspy-ebpf package not found"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("no parent for {}", ebpf.manifest_path))?;
    let package = aya_build::Package {
        name: ebpf.name.as_str(),
        root_dir: root_dir.as_str(),
        ..Default::default()
    };
    aya_build::build_ebpf([package], Toolchain::default())
}
