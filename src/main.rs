//! The `bt-gitops` binary: parse arguments, run, map the outcome to an exit code.

fn main() -> std::process::ExitCode {
    bt_gitops::cli::main()
}
