//! Import start/end probes (filled in with import timing).
