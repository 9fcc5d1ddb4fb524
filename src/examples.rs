//! The examples each command's `--help` shows after its options: one or two real command
//! lines a user can copy. Every line that starts with `lamina ` parses (a test below runs
//! them through the CLI's own parser), so an example cannot drift from the flags.

/// `lamina init`.
pub const INIT: &str = "Examples:
  lamina init hello-fn
  lamina init my-api --runtime nodejs24 --template api";

/// `lamina build`.
pub const BUILD: &str = "Examples:
  lamina build examples/calculator --tag calculator
  lamina build . --runtime nodejs24 --handler app.handler --load
  lamina build . --push 123456789012.dkr.ecr.us-east-1.amazonaws.com/calculator:v1";

/// `lamina rie`.
pub const RIE: &str = "Examples:
  lamina rie examples/calculator
  lamina rie calculator --http 8080 --http-payload function-url
  lamina rie calculator --max-concurrency 8 --log-format JSON";

/// `lamina invoke`.
pub const INVOKE: &str = "Examples:
  lamina invoke --event examples/calculator/events/divide.json
  lamina invoke calculator --tail --tenant-id blue";

/// `lamina event`.
pub const EVENT: &str = "Examples:
  lamina event sqs --body hi > event.json
  lamina event apigw-http --method GET --path /items/1";

/// `lamina push`.
pub const PUSH: &str = "Examples:
  lamina push calculator 123456789012.dkr.ecr.us-east-1.amazonaws.com/calculator:v1
  lamina push oci:build/calculator 127.0.0.1:5000/calculator:v1 --insecure";

/// `lamina pull`.
pub const PULL: &str = "Examples:
  lamina pull public.ecr.aws/lambda/python:3.13
  lamina pull 127.0.0.1:5000/calculator:v1 --insecure";

/// `lamina check`.
pub const CHECK: &str = "Examples:
  lamina check calculator
  lamina check docker-daemon:my-function:latest --json";

/// `lamina base`.
pub const BASE: &str = "Examples:
  lamina base list
  lamina base build python3.13";

/// `lamina images`.
pub const IMAGES: &str = "Examples:
  lamina images
  lamina images --json";

/// `lamina image`.
pub const IMAGE: &str = "Examples:
  lamina image inspect calculator";

/// `lamina rmi`.
pub const RMI: &str = "Examples:
  lamina rmi calculator old-function:v1";

/// `lamina prune`.
pub const PRUNE: &str = "Examples:
  lamina prune --dry-run
  lamina prune --all --older-than 7days
  lamina prune --keep-storage 10GB";

/// `lamina system`.
pub const SYSTEM: &str = "Examples:
  lamina system df";

/// `lamina completions`.
pub const COMPLETIONS: &str = "Examples:
  lamina completions bash > ~/.local/share/bash-completion/completions/lamina
  lamina completions zsh > ~/.zfunc/_lamina";

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::Cli;

    #[test]
    fn every_command_shows_examples_and_every_example_parses() {
        let cli = Cli::command();
        for command in cli.get_subcommands() {
            let name = command.get_name();
            if name == "help" {
                continue;
            }
            let after = command
                .get_after_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            let lines: Vec<&str> = after
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("lamina "))
                .collect();
            assert!(!lines.is_empty(), "`lamina {name} --help` shows no example");
            for line in lines {
                // A redirection is the shell's, not lamina's.
                let words: Vec<&str> = line
                    .split(" > ")
                    .next()
                    .unwrap_or(line)
                    .split_whitespace()
                    .collect();
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("the example `{line}` does not parse: {e}");
                }
            }
        }
    }
}
