//! Reads the ring buffers, decodes records ([`decode`]), symbolizes samples
//! right away (code objects can be freed soon after) and accumulates the
//! [`crate::model::trace::Trace`] ([`Collector`]); a sample's user
//! instruction pointer in a package's native library becomes a native leaf
//! frame ([`native`]).

pub mod collector;
pub mod decode;
pub mod module_body;
pub mod native;

pub use collector::Collector;
