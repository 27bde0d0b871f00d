//! Empty library target: lets `coldspy-user` name this crate as a
//! build-dependency (so cargo rebuilds on changes); the programs are the binary.
#![no_std]
// The dependencies are the binary's (src/main.rs); this target uses none.
#![allow(unused_crate_dependencies)]
