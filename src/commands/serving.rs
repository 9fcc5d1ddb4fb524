//! What `lamina rie`'s flags make of each function it serves: an image's labels (the function
//! model's settings) under the flags, its environment, its event config; shared by the first
//! start and by `--watch`'s reloads.

use anyhow::{bail, Context, Result};
use lamina_image::Reference;
use lamina_rie::FunctionConfig;
use lamina_runtime_api::function::{labels, FunctionName, HttpSettings, Settings as ModelSettings};

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
        function.config.env = vars.into_iter().collect();
        config::warn_about_env(&function.config.env, false);
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
    let from_image = labels::read(|k| image_labels.get(k).cloned()).with_context(|| {
        format!(
            "cannot read the function settings of image `{reference}`: rebuild it with this lamina"
        )
    })?;
    // The flags over the labels, layered as `lamina build` layers flags over `lamina.toml`.
    let settings = flag_settings(args).over(from_image);
    let mut function =
        FunctionConfig::from_settings(&settings, FunctionName::sanitised(reference.short_name()))
            .with_context(|| {
            format!("the settings of image `{reference}` and the flags do not go together")
        })?;
    function.image = Some(reference.to_string());
    function.cpu_share = args.cpu_share;
    function.events = event_config(args);
    Ok(function)
}

/// What `lamina rie`'s flags say of a function's settings.
fn flag_settings(args: &RieArgs) -> ModelSettings {
    ModelSettings {
        memory: args.memory,
        timeout: args.timeout,
        concurrency: args.concurrency,
        max_concurrency: args.execution.max_concurrency,
        tenant_isolation: args.execution.tenant_isolation,
        snapstart: args.execution.snapstart,
        log_format: args.execution.log_format,
        application_log_level: args.execution.application_log_level,
        system_log_level: args.execution.system_log_level,
        http: HttpSettings {
            payload: args.http_payload,
            invoke_mode: args.http_invoke_mode,
            ..HttpSettings::default()
        },
        ..ModelSettings::default()
    }
}

/// How the flags say `Event` invokes are retried, Lambda's defaults for the rest.
fn event_config(args: &RieArgs) -> lamina_rie::events::EventConfig {
    let defaults = lamina_rie::events::EventConfig::default();
    lamina_rie::events::EventConfig {
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
    }
}
