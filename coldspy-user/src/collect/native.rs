//! Which package's native library a sample's user instruction pointer was
//! in: a per-process cache of the executable file mappings, read from
//! `/proc/PID/maps` and read again when an address falls outside all of
//! them (an extension module loaded since).

use crate::model::modules::native_module_from_path;
use crate::python::maps;
use std::sync::Arc;

/// Don't read a process's maps again sooner than this after the last read
/// (a JIT's anonymous code would otherwise make every sample re-read them).
const REREAD_AFTER_NS: u64 = 10_000_000;

/// One executable mapping: its range and, when it is a package's native
/// library, its path.
#[derive(Debug)]
struct Region {
    start: u64,
    end: u64,
    package_file: Option<Arc<str>>,
}

/// The executable mappings of one process, as last read.
#[derive(Debug)]
pub struct NativeMaps {
    pid: u32,
    regions: Vec<Region>,
    /// Sample time of the last read; `None` before the first.
    read_at_ns: Option<u64>,
}

impl NativeMaps {
    /// An empty cache for `pid`, read on first use.
    pub fn new(pid: u32) -> Self {
        NativeMaps {
            pid,
            regions: Vec::new(),
            read_at_ns: None,
        }
    }

    /// The file of the package library that `ip` (sampled at `now_ns`) is
    /// in, or `None` when it is in the interpreter, a system library,
    /// anonymous memory, or the process is gone.
    pub fn package_file(&mut self, ip: u64, now_ns: u64) -> Option<Arc<str>> {
        if ip == 0 {
            return None;
        }
        if let Some(found) = self.lookup(ip) {
            return found;
        }
        let stale = self
            .read_at_ns
            .is_none_or(|at| now_ns.saturating_sub(at) >= REREAD_AFTER_NS);
        if !stale {
            return None;
        }
        self.read_at_ns = Some(now_ns);
        if let Ok(mappings) = maps::read(self.pid) {
            self.regions = regions(&mappings);
        }
        self.lookup(ip).flatten()
    }

    /// `Some(file or None)` when `ip` is in a known region, `None` when not.
    fn lookup(&self, ip: u64) -> Option<Option<Arc<str>>> {
        let i = self.regions.partition_point(|r| r.start <= ip);
        let region = self.regions.get(i.checked_sub(1)?)?;
        (ip < region.end).then(|| region.package_file.clone())
    }
}

/// The executable mappings, sorted by start, with their package files.
fn regions(mappings: &[maps::Mapping]) -> Vec<Region> {
    let mut regions: Vec<Region> = mappings
        .iter()
        .filter(|m| m.perms.contains('x'))
        .map(|m| {
            let path = m.path.to_string_lossy();
            Region {
                start: m.start,
                end: m.end,
                package_file: native_module_from_path(&path).map(|_| Arc::from(path.as_ref())),
            }
        })
        .collect();
    regions.sort_by_key(|r| r.start);
    regions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_regions_are_found_and_others_are_not() {
        let text = "\
55d0c0000000-55d0c0100000 r-xp 00000000 fe:00 1 /usr/bin/python3.12
7f0000000000-7f0000100000 r--p 00000000 fe:00 2 /v/lib/python3.12/site-packages/igraph/_igraph.abi3.so
7f0000100000-7f0000200000 r-xp 00100000 fe:00 2 /v/lib/python3.12/site-packages/igraph/_igraph.abi3.so
7f1000000000-7f1000100000 r-xp 00000000 fe:00 3 /usr/lib/x86_64-linux-gnu/libc.so.6
";
        let mut cache = NativeMaps::new(u32::MAX);
        cache.regions = regions(&maps::parse(text));
        cache.read_at_ns = Some(0);
        assert_eq!(
            cache.package_file(0x7f0000150000, 1).as_deref(),
            Some("/v/lib/python3.12/site-packages/igraph/_igraph.abi3.so")
        );
        // Its read-only part is not code; the interpreter and libc are not a package's.
        assert_eq!(cache.package_file(0x7f0000050000, 2), None);
        assert_eq!(cache.package_file(0x55d0c0000100, 3), None);
        assert_eq!(cache.package_file(0x7f1000000100, 4), None);
        assert_eq!(cache.package_file(0, 5), None);
    }

    #[test]
    fn this_process_maps_are_read_on_a_miss() {
        let mut cache = NativeMaps::new(std::process::id());
        // An address in this test binary's code: found, not a package's.
        let ip = this_process_maps_are_read_on_a_miss as fn() as usize as u64;
        assert_eq!(cache.package_file(ip, 1), None);
        assert!(cache.lookup(ip).is_some(), "the maps were read");
    }
}
