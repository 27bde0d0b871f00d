//! The `-X importtime` oracle: parse what the interpreter prints and
//! compare it with coldspy's `imports` (same module set, parents equal to
//! the indentation, times within ±5 % or ±0.3 ms for modules of ≥ 1 ms).

use serde_json::Value;
use std::collections::HashMap;

/// One line of `-X importtime`.
#[derive(Debug, Clone)]
pub struct OracleLine {
    /// The module.
    pub module: String,
    /// Self time (µs).
    pub self_us: u64,
    /// Cumulative time (µs).
    pub cumulative_us: u64,
    /// The enclosing module by indentation.
    pub parent: Option<String>,
}

/// Parses `-X importtime` lines (post-order: children before their parent).
pub fn parse_importtime(stderr: &str) -> Vec<OracleLine> {
    let rows: Vec<(usize, String, u64, u64)> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("import time:"))
        .filter_map(|rest| {
            let mut parts = rest.splitn(3, '|');
            let self_us = parts.next()?.trim().parse().ok()?;
            let cumulative_us = parts.next()?.trim().parse().ok()?;
            let name = parts.next()?;
            let name = name.strip_prefix(' ').unwrap_or(name);
            let level = (name.len() - name.trim_start().len()) / 2;
            Some((level, name.trim().to_string(), self_us, cumulative_us))
        })
        .collect();
    rows.iter()
        .enumerate()
        .map(|(i, (level, module, self_us, cumulative_us))| OracleLine {
            module: module.clone(),
            self_us: *self_us,
            cumulative_us: *cumulative_us,
            parent: rows[i + 1..]
                .iter()
                .find(|r| r.0 < *level)
                .map(|r| r.1.clone()),
        })
        .collect()
}

/// coldspy's imports as `-X importtime` sees them: it times only imports
/// entered through the import statement, so an import coldspy saw by its
/// module body alone (`via: module_body`: `importlib.import_module`, a
/// loader's `exec_module`) has no line; its children are the nearest
/// statement import's, and its self time is part of that one's.
pub fn as_importtime_sees(imports: &[Value]) -> Vec<Value> {
    let via_body = |i: usize| imports[i]["via"].as_str() == Some("module_body");
    let parent_of = |i: usize| imports[i]["parent_index"].as_u64().map(|p| p as usize);
    // The nearest ancestor the oracle sees.
    let seen_ancestor = |mut i: usize| -> Option<usize> {
        while let Some(p) = parent_of(i) {
            if !via_body(p) {
                return Some(p);
            }
            i = p;
        }
        None
    };
    let mut extra_self = vec![0u64; imports.len()];
    for i in (0..imports.len()).filter(|&i| via_body(i)) {
        if let Some(a) = seen_ancestor(i) {
            extra_self[a] += imports[i]["self_us"].as_u64().unwrap_or(0);
        }
    }
    (0..imports.len())
        .filter(|&i| !via_body(i))
        .map(|i| {
            let mut import = imports[i].clone();
            let parent = seen_ancestor(i).map(|a| imports[a]["module"].clone());
            import["parent"] = parent.unwrap_or(Value::Null);
            let own = import["self_us"].as_u64().unwrap_or(0);
            import["self_us"] = Value::from(own + extra_self[i]);
            import
        })
        .collect()
}

/// Compares one recording with its oracle; returns the worst relative error
/// (percent) over modules of ≥ 1 ms, or what differs.
pub fn compare(name: &str, profile: &Value, stderr: &str) -> Result<f64, String> {
    let oracle = parse_importtime(stderr);
    if oracle.is_empty() {
        return Err(format!("{name}: -X importtime printed nothing"));
    }
    let folded = as_importtime_sees(profile["imports"].as_array().unwrap());
    let imports = &folded;
    let mut ours: Vec<&str> = imports
        .iter()
        .map(|i| i["module"].as_str().unwrap())
        .collect();
    let mut theirs: Vec<&str> = oracle.iter().map(|o| o.module.as_str()).collect();
    ours.sort_unstable();
    theirs.sort_unstable();
    if ours != theirs {
        return Err(format!(
            "{name}: module sets differ: coldspy {ours:?} vs -X importtime {theirs:?}"
        ));
    }

    // Pair the n-th import of a name with the n-th oracle line of that name.
    let mut by_name: HashMap<&str, Vec<&Value>> = HashMap::new();
    for import in imports {
        by_name
            .entry(import["module"].as_str().unwrap())
            .or_default()
            .push(import);
    }
    let mut by_name_oracle: HashMap<&str, Vec<&OracleLine>> = HashMap::new();
    for line in &oracle {
        by_name_oracle
            .entry(line.module.as_str())
            .or_default()
            .push(line);
    }
    let mut worst = 0.0f64;
    for (module, lines) in &by_name_oracle {
        // A name imported twice (e.g. an optional dependency whose import
        // fails, tried by two modules) pairs up in completion order: the
        // order -X importtime prints its lines in.
        let ordered: Vec<&&OracleLine> = lines.iter().collect();
        let mut mine: Vec<&&Value> = by_name[module].iter().collect();
        mine.sort_by_key(|v| v["end_us"].as_u64().unwrap());
        for (line, import) in ordered.into_iter().zip(mine) {
            if import["parent"].as_str() != line.parent.as_deref() {
                return Err(format!(
                    "{name}: parent of {module} is {} but -X importtime says {:?}",
                    import["parent"], line.parent
                ));
            }
            if line.cumulative_us < 1000 {
                continue;
            }
            for (what, expected, got) in [
                (
                    "cumulative",
                    line.cumulative_us,
                    import["cumulative_us"].as_u64().unwrap(),
                ),
                ("self", line.self_us, import["self_us"].as_u64().unwrap()),
            ] {
                let error = got.abs_diff(expected) as f64;
                let allowed = (expected as f64 * 0.05).max(300.0);
                if expected >= 1000 {
                    worst = worst.max(100.0 * error / expected as f64);
                }
                if error > allowed {
                    return Err(format!(
                        "{name}: {module} {what} {got} us vs -X importtime {expected} us"
                    ));
                }
            }
        }
    }
    Ok(worst)
}

/// Records with `record` and compares with the oracle; a *timing*
/// difference (never a different module set or parent) is recorded once
/// more, because a preemption on a shared machine can fall between the two
/// tools' measuring points. Both failures are reported if the second fails.
pub fn compare_retrying_timing(
    name: &str,
    mut record: impl FnMut() -> (Value, String),
) -> Result<(f64, Value), String> {
    let (profile, stderr) = record();
    match compare(name, &profile, &stderr) {
        Ok(worst) => Ok((worst, profile)),
        Err(first) if first.contains(" us vs -X importtime ") => {
            eprintln!("{first}: recording once more");
            let (profile, stderr) = record();
            compare(name, &profile, &stderr)
                .map(|worst| (worst, profile))
                .map_err(|second| format!("{second} (first try: {first})"))
        }
        Err(structural) => Err(structural),
    }
}
