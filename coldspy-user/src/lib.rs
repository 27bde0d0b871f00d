//! coldspy: a profiler for Python cold starts.
//!
//! The flow is record → events → model → analysis → writers:
//! [`record`] drives the eBPF programs ([`loader`]) and the ring buffers
//! ([`collect`]), symbolizes with [`python`], and produces a
//! [`model::trace::Trace`]; [`model::build`] turns it into a
//! [`model::profile::Profile`]; [`analysis`] ranks modules; [`export`] writes
//! the formats.

pub mod analysis;
pub mod bench;
pub mod cli;
pub mod collect;
pub mod error;
pub mod export;
pub mod info;
pub mod kernel_btf;
pub mod loader;
pub mod model;
pub mod prebake;
pub mod python;
pub mod record;
pub mod report;
