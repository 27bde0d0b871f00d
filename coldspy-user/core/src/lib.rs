//! coldspy-core: the pure half of coldspy.
//!
//! Everything here is a function of data: a symbolized [`model::trace::Trace`]
//! is built into a [`model::profile::Profile`] ([`model::build`]), analysed
//! ([`analysis`]), written in a format ([`export`]), compared
//! ([`report::diff`]) and summarized ([`stats`]). No kernel, no processes, no
//! command line: every test runs as a plain user with `cargo test -p
//! coldspy-core`. The system crate (`coldspy-user`) records traces and calls
//! into this one.
// The crate's public items are its contract with the system crate (and,
// for coldspy-common, with the eBPF programs): every one is documented.
#![warn(missing_docs)]

// A dev-dependency of tests/hostile_profiles.rs, not of the unit tests.
#[cfg(test)]
use proptest as _;

pub mod analysis;
pub mod export;
pub mod fleet;
pub mod model;
pub mod origin;
pub mod plot;
pub mod report;
pub mod stats;
