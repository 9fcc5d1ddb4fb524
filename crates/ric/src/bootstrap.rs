//! The `bootstrap` runtime: a custom runtime that speaks the Runtime API itself.
//!
//! The RIC replaces itself with it (`execve`), as `/lambda-entrypoint.sh` does on AWS's base
//! images: same pid (so signals and exit status are the runtime's own), same environment,
//! plus `_HANDLER` when a handler was given, and no arguments.
// TODO(embedded mode): without AWS_LAMBDA_RUNTIME_API the RIC will serve the Runtime API
// itself and must then spawn and supervise the bootstrap as a child instead of exec'ing it.

use std::os::unix::process::CommandExt;

use lamina_runtime_api::env;

use crate::config::Config;

/// Exec the custom runtime; returns only if that fails, with the exit code to use.
pub fn exec(config: &Config) -> i32 {
    let Some(program) = &config.bootstrap else {
        eprintln!(
            "lamina-ric: no executable bootstrap in {}, /opt or the runtime directory",
            config.task_root.display()
        );
        return 127;
    };
    let mut cmd = std::process::Command::new(program);
    cmd.current_dir(&config.task_root);
    if !config.handler.is_empty() {
        cmd.env(env::HANDLER, &config.handler);
    }
    let err = cmd.exec();
    eprintln!("lamina-ric: cannot exec {}: {err}", program.display());
    126
}
