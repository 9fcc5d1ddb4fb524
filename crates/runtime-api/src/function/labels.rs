//! The image labels that carry a function's settings from `lamina build` to `lamina rie`
//! (Lambda ignores labels): written from a [`Function`], read back as [`Settings`] through
//! the model's own parsers. The one codec: a setting added to the model is added here, and
//! both sides follow.

use super::{Function, FunctionError, HttpSettings, Settings};
use crate::front::{Cors, Route};

/// Function name.
pub const NAME: &str = "dev.lamina.function.name";
/// Runtime name.
pub const RUNTIME: &str = "dev.lamina.function.runtime";
/// Handler string.
pub const HANDLER: &str = "dev.lamina.function.handler";
/// Memory in MB.
pub const MEMORY: &str = "dev.lamina.function.memory";
/// Timeout in seconds.
pub const TIMEOUT: &str = "dev.lamina.function.timeout";
/// Size of `/tmp` in MB.
pub const EPHEMERAL_STORAGE: &str = "dev.lamina.function.ephemeral-storage";
/// Environments `lamina rie` runs at once.
pub const CONCURRENCY: &str = "dev.lamina.function.concurrency";
/// Invokes per environment (Lambda Managed Instances); only when set.
pub const MAX_CONCURRENCY: &str = "dev.lamina.function.max-concurrency";
/// Per-tenant isolation; only when on.
pub const TENANT_ISOLATION: &str = "dev.lamina.function.tenant-isolation";
/// Log format; only when not the default (Text).
pub const LOG_FORMAT: &str = "dev.lamina.function.log-format";
/// Application log level; only in JSON format.
pub const APPLICATION_LOG_LEVEL: &str = "dev.lamina.function.application-log-level";
/// System log level; only in JSON format.
pub const SYSTEM_LOG_LEVEL: &str = "dev.lamina.function.system-log-level";
/// Lambda's own label for an image it may publish with SnapStart without hooks
/// (images-and-registries.md §1.2, runtime-api.md §1.10). Written for a SnapStart function,
/// never read back: `lamina rie` serves `$LATEST`, which the cloud never snapshots, unless
/// told `--snapstart`.
pub const AWS_SNAPSTART: &str = "com.amazonaws.lambda.feature.snapstart";
/// The HTTP front's payload (`apigw-http`, `apigw-rest`, `function-url`).
pub const HTTP_PAYLOAD: &str = "dev.lamina.http.payload";
/// The HTTP front's invoke mode (`BUFFERED`, `RESPONSE_STREAM`).
pub const HTTP_INVOKE_MODE: &str = "dev.lamina.http.invoke-mode";
/// The HTTP front's routes, comma-separated (route keys hold no commas).
pub const HTTP_ROUTES: &str = "dev.lamina.http.routes";
/// The HTTP front's CORS origins, comma-separated.
pub const HTTP_CORS: &str = "dev.lamina.http.cors";

/// A label holding a value the model refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("image label `{label}`: {source}")]
pub struct LabelError {
    /// The label.
    pub label: &'static str,
    /// The rule it breaks.
    pub source: FunctionError,
}

/// The labels of `function`: its settings, and its HTTP front's when it has one (none
/// otherwise, so functions without a front keep their digests).
pub fn write(function: &Function) -> Vec<(String, String)> {
    let c = &function.config;
    let mut out = vec![
        (NAME.to_owned(), function.name.to_string()),
        (RUNTIME.to_owned(), function.runtime.name().to_owned()),
        (HANDLER.to_owned(), function.handler.clone()),
        (MEMORY.to_owned(), c.memory.to_string()),
        (TIMEOUT.to_owned(), c.timeout.to_string()),
        (
            EPHEMERAL_STORAGE.to_owned(),
            c.ephemeral_storage.to_string(),
        ),
        (CONCURRENCY.to_owned(), c.concurrency.to_string()),
    ];
    // Written only when they say something, so functions without them keep their digests.
    let x = &c.execution;
    if let Some(m) = x.max_concurrency {
        out.push((MAX_CONCURRENCY.to_owned(), m.to_string()));
    }
    if x.snapstart {
        out.push((AWS_SNAPSTART.to_owned(), "Allow".to_owned()));
    }
    if x.tenant_isolation {
        out.push((TENANT_ISOLATION.to_owned(), "true".to_owned()));
    }
    if x.log_format != super::LogFormat::Text {
        out.push((LOG_FORMAT.to_owned(), x.log_format.to_string()));
        if let Some(l) = x.application_log_level {
            out.push((APPLICATION_LOG_LEVEL.to_owned(), l.to_string()));
        }
        out.push((SYSTEM_LOG_LEVEL.to_owned(), x.system_log_level.to_string()));
    }
    let http = &c.http;
    if let Some(p) = http.payload {
        out.push((HTTP_PAYLOAD.to_owned(), p.to_string()));
    }
    if let Some(m) = http.invoke_mode {
        out.push((HTTP_INVOKE_MODE.to_owned(), m.to_string()));
    }
    if !http.routes.is_empty() {
        let routes: Vec<String> = http.routes.iter().map(ToString::to_string).collect();
        out.push((HTTP_ROUTES.to_owned(), routes.join(",")));
    }
    if let Some(c) = &http.cors {
        out.push((HTTP_CORS.to_owned(), c.allow_origins.join(",")));
    }
    out
}

/// The settings an image's labels carry, read back through the function model (an image
/// without lamina's labels gives empty settings).
pub fn read(get: impl Fn(&str) -> Option<String>) -> Result<Settings, LabelError> {
    fn one<T: std::str::FromStr<Err = FunctionError>>(
        get: &impl Fn(&str) -> Option<String>,
        label: &'static str,
    ) -> Result<Option<T>, LabelError> {
        get(label)
            .map(|v| v.parse())
            .transpose()
            .map_err(|source| LabelError { label, source })
    }
    let routes = get(HTTP_ROUTES)
        .map(|v| {
            v.split(',')
                .filter(|r| !r.trim().is_empty())
                .map(|r| r.parse::<Route>())
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|source| LabelError {
            label: HTTP_ROUTES,
            source,
        })?
        .unwrap_or_default();
    Ok(Settings {
        name: one(&get, NAME)?,
        runtime: one(&get, RUNTIME)?,
        handler: get(HANDLER),
        memory: one(&get, MEMORY)?,
        timeout: one(&get, TIMEOUT)?,
        ephemeral_storage: one(&get, EPHEMERAL_STORAGE)?,
        concurrency: one(&get, CONCURRENCY)?,
        max_concurrency: one(&get, MAX_CONCURRENCY)?,
        tenant_isolation: one(&get, TENANT_ISOLATION)?,
        log_format: one(&get, LOG_FORMAT)?,
        application_log_level: one(&get, APPLICATION_LOG_LEVEL)?,
        system_log_level: one(&get, SYSTEM_LOG_LEVEL)?,
        http: HttpSettings {
            payload: one(&get, HTTP_PAYLOAD)?,
            invoke_mode: one(&get, HTTP_INVOKE_MODE)?,
            routes,
            cors: get(HTTP_CORS).map(|v| Cors {
                allow_origins: v.split(',').map(|o| o.trim().to_owned()).collect(),
            }),
        },
        ..Settings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn what_a_function_writes_reads_back_as_its_settings() {
        let function = Settings {
            name: Some("calc".parse().unwrap()),
            handler: Some("app.handler".into()),
            memory: Some("512".parse().unwrap()),
            timeout: Some("30".parse().unwrap()),
            max_concurrency: Some("8".parse().unwrap()),
            tenant_isolation: Some("true".parse().unwrap()),
            application_log_level: Some("DEBUG".parse().unwrap()),
            http: HttpSettings {
                payload: Some("function-url".parse().unwrap()),
                invoke_mode: Some("RESPONSE_STREAM".parse().unwrap()),
                routes: vec!["GET /items/{id}".parse().unwrap()],
                cors: Some(Cors {
                    allow_origins: vec!["https://a.example".into()],
                }),
            },
            ..Settings::default()
        }
        .resolve()
        .unwrap()
        .unwrap();
        let labels: HashMap<String, String> = write(&function).into_iter().collect();
        assert_eq!(labels[MAX_CONCURRENCY], "8");
        assert_eq!(labels[LOG_FORMAT], "JSON", "Managed Instances log JSON");
        let back = read(|k| labels.get(k).cloned()).unwrap();
        assert_eq!(
            back.clone().resolve().unwrap().map(|f| f.config),
            Some(function.config.clone())
        );
        assert_eq!(back.name, Some(function.name));
        assert_eq!(back.runtime, Some(function.runtime));
    }

    #[test]
    fn a_function_without_the_newer_settings_writes_no_label_for_them() {
        let function = Settings {
            name: Some("calc".parse().unwrap()),
            handler: Some("app.handler".into()),
            ..Settings::default()
        }
        .resolve()
        .unwrap()
        .unwrap();
        let labels: HashMap<String, String> = write(&function).into_iter().collect();
        for label in [
            MAX_CONCURRENCY,
            TENANT_ISOLATION,
            LOG_FORMAT,
            SYSTEM_LOG_LEVEL,
        ] {
            assert!(!labels.contains_key(label), "{label}");
        }
    }

    #[test]
    fn a_label_the_model_refuses_is_named() {
        let e = read(|k| (k == MEMORY).then(|| "64".to_owned())).unwrap_err();
        assert_eq!(e.label, MEMORY);
        assert!(
            e.to_string()
                .starts_with("image label `dev.lamina.function.memory`: memory `64`"),
            "{e}"
        );
    }
}
