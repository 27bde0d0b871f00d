//! The options of `coldspy record --all` (the system-wide daemon, in the
//! `daemon` module); declared here so that `record`'s arguments hold them.

use clap::Args;
use std::path::PathBuf;

/// `record --all` and its options.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "System-wide (--all)")]
pub struct AllArgs {
    /// Profile every Python process started on this host from its first
    /// instruction, one profile per process, until SIGINT or SIGTERM
    /// (SIGHUP reopens the index, SIGUSR1 prints the status). Needs root.
    #[arg(long, conflicts_with_all = ["pid", "handler", "command", "output", "save_trace", "duration"])]
    pub all: bool,
    /// With --all: where profiles go: DIR/<date>/<function>/<host>-<pid>-<start>.json,
    /// one line per process in DIR/index.jsonl, counters in DIR/status.json.
    #[arg(long, default_value = "/var/lib/coldspy", requires = "all")]
    pub output_dir: PathBuf,
    /// With --all: only processes in this cgroup v2 subtree (repeatable): a
    /// directory under the cgroup2 mount, or a path relative to its root
    /// (`/faas/resize`). Others are neither held nor profiled.
    #[arg(long = "cgroup", value_name = "PATH", requires = "all")]
    pub cgroups: Vec<PathBuf>,
    /// With --all: only processes whose command line (arguments joined by
    /// spaces) matches this regular expression; others are released at once.
    #[arg(long = "match", value_name = "REGEX", requires = "all")]
    pub match_command: Option<String>,
    /// With --all: at most this many processes profiled at once; the excess
    /// runs unprofiled and is counted (status, index).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=4000), requires = "all")]
    pub max_processes: u32,
    /// With --all: an environment variable that names the function (repeatable;
    /// checked before the built-in K_SERVICE, AWS_LAMBDA_FUNCTION_NAME,
    /// FUNCTION_TARGET and FUNCTION_NAME).
    #[arg(long = "label-env", value_name = "NAME", requires = "all")]
    pub label_env: Vec<String>,
    /// With --all: a process running longer than this is written in windows
    /// of this many seconds, cut at the daemon's once-a-second check (bounds
    /// the memory a long-lived process takes).
    #[arg(long, default_value_t = 60.0, value_parser = crate::sys::seconds::positive_seconds, requires = "all")]
    pub max_window: f64,
    /// With --all: also append every finished process to the Parquet fleet
    /// table at DIR (new part files per --table-window; `coldspy merge DIR`
    /// and DuckDB/Spark read it without touching the JSON).
    #[arg(long, value_name = "DIR", requires = "all")]
    pub table: Option<PathBuf>,
    /// With --all --table: seconds of finished processes per set of part files.
    #[arg(long, default_value_t = 60.0, value_parser = crate::sys::seconds::positive_seconds, requires = "table")]
    pub table_window: f64,
    /// With --all: keep at most this many profiles; the oldest are deleted
    /// (each deletion is a line in the index).
    #[arg(long, requires = "all")]
    pub keep: Option<u64>,
    /// With --all: keep the profiles under this many bytes (suffixes K, M, G);
    /// the oldest are deleted first.
    #[arg(long, value_parser = parse_bytes, requires = "all")]
    pub max_disk: Option<u64>,
}

/// `123`, `64K`, `10M`, `2G` (powers of 1024) as bytes.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let scale: u64 = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("{text:?} is not a size (e.g. 500M, 2G)")),
    };
    let value: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a size (e.g. 500M, 2G)"))?;
    value
        .checked_mul(scale)
        .filter(|&bytes| bytes > 0)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_bytes("123"), Ok(123));
        assert_eq!(parse_bytes("64K"), Ok(64 << 10));
        assert_eq!(parse_bytes("10MiB"), Ok(10 << 20));
        assert_eq!(parse_bytes("2g"), Ok(2 << 30));
        assert!(parse_bytes("0").is_err());
        assert!(parse_bytes("12Q").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999T").is_err());
    }
}
