//! CPython knowledge: find the interpreter in a process ([`interpreter`]),
//! its version ([`version`]) and struct layout ([`offsets`]), read its memory
//! ([`memory`]) and turn code objects into names, files and lines
//! ([`symbolize`], [`linetable`]).

pub mod elf;
pub mod interpreter;
pub mod linetable;
pub mod maps;
pub mod memory;
pub mod offsets;
pub mod symbolize;
pub mod version;
