//! coldspy: a profiler for Python cold starts (the system crate).
//!
//! The flow is record → events → model → analysis → writers. This crate owns
//! everything that touches the machine: [`loader`] loads and attaches the
//! eBPF programs, [`collect`] reads their ring buffers, [`python`] finds and
//! reads the interpreter, [`record`] drives one recording; [`bench`] and
//! [`prebake`] start functions through [`runner`]; [`sys`] is the bottom
//! layer (files, pipes, clocks, paths); [`cli`] parses arguments and
//! dispatches. The pure half (model, analysis, writers) is `coldspy-core`,
//! re-exported here under its own module names.

/// The pure fleet aggregation (re-exported from coldspy-core as `fleet::core`).
pub use coldspy_core::fleet as fleet_core;
pub use coldspy_core::{analysis, export, model, plot, report, stats};

pub mod bench;
pub mod cli;
pub mod collect;
pub mod daemon;
pub mod error;
pub mod flame;
pub mod fleet;
pub mod info;
pub mod kernel_btf;
pub mod loader;
pub mod prebake;
pub mod python;
pub mod record;
pub mod runner;
pub mod sys;
