//! Profile data: the symbolized event stream ([`trace`]), the calling-context
//! tree ([`cct`]), the import tree ([`import_tree`]) and the JSON profile
//! ([`profile`]) built from them ([`build`]), samples aggregated as they
//! arrive ([`samples`]), the source text of import statements
//! ([`statement`]), and the experiments that verified its advice
//! ([`verification`]).

pub mod build;
pub mod cct;
pub mod code_use;
pub mod import_tree;
pub mod modules;
pub mod phases;
pub mod profile;
pub mod runtime;
pub mod samples;
pub mod statement;
pub mod trace;
pub mod verification;
