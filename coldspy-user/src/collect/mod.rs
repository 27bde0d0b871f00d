//! Reads the ring buffers, decodes records ([`decode`]), symbolizes samples
//! right away (code objects can be freed soon after) and accumulates the
//! [`crate::model::trace::Trace`] ([`Collector`]).

pub mod collector;
pub mod decode;
pub mod module_body;

pub use collector::Collector;
