//! The `doin-node` binary.

fn main() {
    println!("doin-node {}", env!("CARGO_PKG_VERSION"));
}
