//! The `bootstrap` runtime: a custom runtime that speaks the Runtime API itself.
//!
//! The RIC replaces itself with it (`execve`), as `/lambda-entrypoint.sh` does on AWS's base
//! images: same pid (so signals and exit status are the runtime's own), same environment,
//! plus `_HANDLER` when a handler was given, and no arguments.
//!
//! In embedded mode the emulator runs a second `lamina-ric` as its runtime, and that one execs
//! the bootstrap: the emulator supervises it as a child like any other runtime.

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
