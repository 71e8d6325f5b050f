//! Node identity: P-256 keys, peer ids and signatures (filled in below).
