//! What `lamina rie`'s flags make of each function it serves: an image's labels (the function
//! model's settings) under the flags, its environment, its event config; shared by the first
//! start and by `--watch`'s reloads.

use anyhow::{bail, Context, Result};
use lamina_build::pipeline::labels;
use lamina_image::Reference;
use lamina_rie::FunctionConfig;
use lamina_runtime_api::function::{FunctionName, HttpSettings};

use crate::cli::RieArgs;
use crate::config;

/// What the flags say about every function served.
pub(crate) struct Settings {
    /// The flags.
    pub(crate) args: RieArgs,
    /// SAM's `--env-vars` file.
    pub(crate) env_vars: config::EnvVarsFile,
    /// `--env-file` then `--env`.
    pub(crate) env: Vec<lamina_runtime_api::function::EnvVar>,
}

impl Settings {
    /// The function an image serves, loaded into Docker: its labels' settings under the
    /// flags, its environment SAM's file under `--env-file` under `--env`.
    pub(crate) async fn function(
        &self,
        docker: &lamina_docker::Docker,
        store: &lamina_image::Store,
        reference: &Reference,
        manifest: Option<&lamina_image::Digest>,
    ) -> Result<FunctionConfig> {
        let mut function = function_of(docker, store, reference, manifest, &self.args).await?;
        let mut vars = self.env_vars.for_function(function.name.as_str())?;
        vars.extend(self.env.iter().cloned());
        function.env = vars.into_iter().collect();
        config::warn_about_env(&function.env, false);
        Ok(function)
    }
}

/// The function an image serves: its labels' settings under the flags, loaded into Docker.
async fn function_of(
    docker: &lamina_docker::Docker,
    store: &lamina_image::Store,
    reference: &Reference,
    manifest: Option<&lamina_image::Digest>,
    args: &RieArgs,
) -> Result<FunctionConfig> {
    match manifest {
        Some(manifest) => {
            if let Some(r) =
                lamina_docker::ensure_loaded(docker, store, manifest, reference).await?
            {
                eprintln!(
                    "loaded {reference} into Docker ({} of {} layers sent)",
                    r.layers_sent, r.layers_total
                );
            }
        }
        None => {
            if lamina_docker::image_id(docker, reference).await?.is_none() {
                bail!(
                    "image `{reference}` is neither in lamina's store nor in Docker; build it with `lamina build DIR --tag {reference}`"
                );
            }
        }
    }
    let image_labels = lamina_docker::image_labels(docker, reference).await?;
    let from_image = labels::read(|k| image_labels.get(k).cloned())
        .with_context(|| format!("cannot read the function settings of image `{reference}`"))?;
    let name = from_image
        .name
        .unwrap_or_else(|| FunctionName::sanitised(reference.short_name()));
    let mut function = FunctionConfig::new(name);
    function.image = Some(reference.to_string());
    function.memory = args.memory.or(from_image.memory).unwrap_or_default();
    function.timeout = args.timeout.or(from_image.timeout).unwrap_or_default();
    function.ephemeral_storage = from_image.ephemeral_storage.unwrap_or_default();
    function.concurrency = args
        .concurrency
        .or(from_image.concurrency)
        .unwrap_or_default();
    function.runtime = from_image.runtime;
    function.cpu_share = args.cpu_share;
    let defaults = lamina_rie::events::EventConfig::default();
    function.events = lamina_rie::events::EventConfig {
        max_retry_attempts: args
            .max_retry_attempts
            .unwrap_or(defaults.max_retry_attempts),
        max_event_age: args
            .max_event_age
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.max_event_age),
        retry_delay: args
            .event_retry_delay
            .map(std::time::Duration::from_secs)
            .unwrap_or(defaults.retry_delay),
        on_failure: args.on_failure.clone(),
        on_success: args.on_success.clone(),
    };
    function.http = HttpSettings {
        payload: args.http_payload,
        ..HttpSettings::default()
    }
    .over(from_image.http);
    Ok(function)
}
