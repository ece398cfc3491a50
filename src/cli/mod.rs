//! The command line: the only module that knows clap, writes to stdout/stderr and picks exit
//! codes.

pub mod emulator;

pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
