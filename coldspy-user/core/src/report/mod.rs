//! Views over an analysed profile that are not file formats: the
//! calling-context tree of one module ([`cct_view`]) and the comparison of two
//! profiles ([`diff`]).

pub mod cct_view;
pub mod diff;

pub use cct_view::{CctFilter, SampleKind};
