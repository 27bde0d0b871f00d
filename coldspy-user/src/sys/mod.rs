//! The bottom layer of the system crate: output files written whole, pipes,
//! clocks, path resolution, the cache directory and the page cache. It uses
//! nothing else of coldspy's but its error type, so every other module may
//! use it.

pub mod cache;
pub mod clock;
pub mod output;
pub mod path;
pub mod pipe;
pub mod proc;
pub mod seconds;
pub mod watchpoint;

pub use clock::monotonic_ns;
pub use output::OutputFile;
pub use path::resolve;
