//! Registry credentials as the commands take them: `--username` with the password on stdin,
//! else what Docker's `config.json` (or its credential helper) has. ECR's own password is
//! the registry client's business (`lamina_registry::ecr`).

use std::io::{IsTerminal, Read};

use anyhow::{bail, Context, Result};
use lamina_image::Reference;
use lamina_registry::Credentials;

use crate::cli::RegistryArgs;

/// `--username`/`--password-stdin`, else what Docker's `config.json` (or its credential
/// helper) has for the target's registry.
pub fn credentials_for(
    given: Option<&Credentials>,
    target: &Reference,
) -> Result<Option<Credentials>> {
    match given {
        Some(c) => Ok(Some(c.clone())),
        None => Ok(lamina_registry::credentials::from_docker_config(
            target.registry_api_host(),
        )?),
    }
}

/// `--username` with the password from stdin.
pub fn credentials(args: &RegistryArgs) -> Result<Option<Credentials>> {
    let Some(username) = &args.username else {
        return Ok(None);
    };
    if std::io::stdin().is_terminal() {
        bail!("--password-stdin reads the password from standard input: pipe it in (`echo $TOKEN | lamina push … --password-stdin`)");
    }
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("cannot read the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        bail!("--password-stdin got an empty password");
    }
    Ok(Some(Credentials {
        username: username.clone(),
        password,
    }))
}
