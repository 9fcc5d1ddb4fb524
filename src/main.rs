//! The `lamina` command line.
fn main() {}
