//! lamina-ric: the Runtime Interface Client.
fn main() {}
