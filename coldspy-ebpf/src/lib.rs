//! Empty library target: lets `coldspy-user` name this crate as a
//! build-dependency (so cargo rebuilds on changes); the programs are the binary.
#![no_std]
