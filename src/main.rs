//! The `lamina` command line: parse, dispatch, report errors. Each command lives in
//! `commands/`; nothing else happens here.

mod cli;
mod commands;
mod config;
mod examples;
mod output;
mod ric;

use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::Globals;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    raise_open_file_limit();
    let json = cli.json;
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // A closed pipe (`lamina … | head`) is not an error (ripgrep does the same).
            if err.chain().any(|e| {
                e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            // Under --json a failure is machine-readable too: a script reading stdout gets
            // an object that says what went wrong, not nothing.
            if json {
                println!("{}", serde_json::json!({ "error": format!("{err:#}") }));
            }
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let cache = match cli.cache {
        Some(dir) => dir,
        None => commands::default_cache()?,
    };
    let store = cli.store.unwrap_or_else(|| cache.join("store"));
    let globals = Globals {
        json: cli.json,
        cache,
        store,
    };
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if matches!(cli.command, Command::Rie(_)) {
        // The emulator only moves bytes between sockets (blocking work goes to the blocking
        // pool): on one worker thread an invoke's hops (invoke API, environment, Runtime API)
        // wake each other without crossing threads. Warm p50 0.45 -> 0.40 ms, throughput at
        // 8 clients unchanged (BENCHMARKS.md §3h).
        runtime.worker_threads(1);
    }
    let runtime = runtime.enable_all().build()?;
    match &cli.command {
        Command::Init(args) => commands::init::run(&globals, args)?,
        Command::Build(args) => runtime.block_on(commands::build::run(&globals, args))?,
        Command::Rie(args) => runtime.block_on(commands::rie::run(&globals, args))?,
        // A function error exits 1 after the payload is printed, as scripts expect.
        Command::Invoke(args) => {
            if !runtime.block_on(commands::invoke::run(&globals, args))? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Event(args) => commands::event::run(&globals, args)?,
        Command::Push(args) => runtime.block_on(commands::push::run(&globals, args))?,
        Command::Pull(args) => runtime.block_on(commands::push::pull(&globals, args))?,
        // Lambda would refuse the image: say so with the exit code too (1), as linters do.
        Command::Check(args) => {
            if !runtime.block_on(commands::check::run(&globals, args))? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Base(cmd) => commands::base::run(&globals, cmd)?,
        Command::Images => commands::keep::images(&globals)?,
        Command::Image(cli::ImageCommand::Inspect { reference }) => {
            commands::keep::inspect(&globals, reference)?
        }
        Command::Rmi { references } => commands::keep::rmi(&globals, references)?,
        Command::Prune(args) => commands::keep::prune(&globals, args)?,
        Command::System(cli::SystemCommand::Df) => commands::keep::df(&globals)?,
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "lamina",
                &mut std::io::stdout(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Take the hard limit of open files as the soft one (as Go's runtime does): `lamina rie`
/// holds up to 1,000 client connections per listener, past the common soft limit of 1,024.
fn raise_open_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: get/setrlimit read and write the struct passed; nothing else is touched.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,lamina=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
