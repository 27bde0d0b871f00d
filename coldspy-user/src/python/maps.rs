//! `/proc/PID/maps`: which files a process has mapped, and where.

use std::path::PathBuf;

/// One line of `/proc/PID/maps` that maps a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Start address.
    pub start: u64,
    /// End address (exclusive).
    pub end: u64,
    /// Offset in the file.
    pub offset: u64,
    /// Permissions, e.g. `r-xp`.
    pub perms: String,
    /// The mapped file (as the process sees it).
    pub path: PathBuf,
}

/// Parses the file-backed lines of a maps listing.
pub fn parse(text: &str) -> Vec<Mapping> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(6, ' ');
            let range = fields.next()?;
            let perms = fields.next()?;
            let offset = fields.next()?;
            let _dev = fields.next()?;
            let _inode = fields.next()?;
            let path = fields.next()?.trim_start();
            if !path.starts_with('/') {
                return None;
            }
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            let (start, end) = range.split_once('-')?;
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                offset: u64::from_str_radix(offset, 16).ok()?,
                perms: perms.to_string(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// Reads and parses `/proc/PID/maps`.
pub fn read(pid: u32) -> std::io::Result<Vec<Mapping>> {
    Ok(parse(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_lines_only() {
        let text = "\
55d0c0000000-55d0c0001000 r--p 00000000 fe:00 123   /usr/bin/python3.11
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
7f1000000000-7f1000100000 r-xp 00002000 fe:00 456   /opt/lib/libpython3.12.so.1.0
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0     [stack]
";
        let maps = parse(text);
        assert_eq!(maps.len(), 2);
        assert_eq!(maps[1].offset, 0x2000);
        assert_eq!(maps[1].path, PathBuf::from("/opt/lib/libpython3.12.so.1.0"));
        assert_eq!(maps[0].perms, "r--p");
    }
}
