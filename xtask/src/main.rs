//! `cargo xtask`: set-up, build, test and benchmark automation for coldspy.
fn main() {}
