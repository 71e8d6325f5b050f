//! Propagation bench (filled in below).
fn main() {}
