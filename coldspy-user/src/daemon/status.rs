//! `coldspy status`: what a running (or the last) `record --all` daemon
//! counted, from the `status.json` it rewrites every second.

use clap::Args;
use serde_json::Value;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `coldspy status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The daemon's output directory (`record --all --output-dir`).
    #[arg(long, default_value = "/var/lib/coldspy")]
    pub output_dir: PathBuf,
    /// Print the raw status JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `coldspy status`.
pub fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let path = args.output_dir.join("status.json");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (is `coldspy record --all --output-dir {}` running?)",
            path.display(),
            args.output_dir.display()
        )
    })?;
    let status: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a coldspy status file: {e}", path.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", render(&status));
    Ok(ExitCode::SUCCESS)
}

/// The status as text.
fn render(status: &Value) -> String {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let pid = n(&status["pid"]);
    let alive = pid > 0 && std::path::Path::new(&format!("/proc/{pid}")).exists();
    let daemon = &status["daemon"];
    let kernel = &status["kernel"];
    let written = &status["written"];
    let holds = n(&daemon["holds"]);
    format!(
        "daemon pid {pid} ({}), up {} s, {} MiB resident\n\
         execs seen {}: {} not Python, {} outside --cgroup, {} held, {} not held (heartbeat or ring)\n\
         processes profiled {} ({} live); skipped: {} --match, {} --max-processes, {} unsupported CPython\n\
         holds {}: mean {} us, max {} us\n\
         profiles written {}, lost {} (disk), rotated {}, {} MiB kept{}\n\
         samples lost {}, events lost {}\n",
        if alive { "running" } else { "not running: these are its last counters" },
        n(&status["uptime_s"]),
        n(&status["rss_bytes"]) >> 20,
        n(&kernel["execs"]),
        n(&kernel["not_python"]),
        n(&kernel["outside_cgroup"]),
        n(&kernel["held"]),
        n(&kernel["unheld"]),
        n(&daemon["profiled"]),
        n(&status["live_processes"]),
        n(&daemon["skipped_match"]),
        n(&daemon["skipped_max_processes"]),
        n(&daemon["skipped_unsupported"]),
        holds,
        n(&daemon["total_held_us"]).checked_div(holds).unwrap_or(0),
        n(&daemon["max_held_us"]),
        n(&written["profiles"]),
        n(&written["lost_profiles"]),
        n(&written["rotated"]),
        n(&written["kept_bytes"]) >> 20,
        written["last_error"]
            .as_str()
            .map(|e| format!(" (last error: {e})"))
            .unwrap_or_default(),
        n(&status["lost_samples"]),
        n(&status["lost_events"]),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_counters_of_a_stopped_daemon() {
        let status = serde_json::json!({
            "pid": 0, "uptime_s": 12, "rss_bytes": 20 << 20, "live_processes": 1,
            "kernel": {"execs": 100, "not_python": 60, "outside_cgroup": 30, "held": 10, "unheld": 0},
            "daemon": {"profiled": 9, "skipped_match": 1, "skipped_max_processes": 0,
                       "skipped_unsupported": 0, "holds": 10, "total_held_us": 5000, "max_held_us": 900},
            "written": {"profiles": 8, "lost_profiles": 0, "rotated": 0, "kept_bytes": 1 << 20},
            "lost_samples": 0, "lost_events": 0
        });
        let text = super::render(&status);
        assert!(text.contains("not running"), "{text}");
        assert!(
            text.contains("execs seen 100: 60 not Python, 30 outside --cgroup, 10 held"),
            "{text}"
        );
        assert!(text.contains("holds 10: mean 500 us, max 900 us"), "{text}");
        assert!(text.contains("20 MiB resident"), "{text}");
    }
}
