//! Load bench for the emulator (placeholder; filled in below).
fn main() {}
