//! The `gatehouse` binary: everything lives in the library.

fn main() -> std::process::ExitCode {
    gatehouse::cli::main()
}
