//! `mkube`: the controller and its log tools.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.log_format, &args.command);
    let result = actix_web::rt::System::new().block_on(cli::dispatch(args.command));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mkube: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
