//! The variables the platform sets in an environment (§9).

use std::net::SocketAddr;

use lamina_runtime_api::env as vars;

use crate::config::FunctionConfig;
use crate::logs;

/// The variables the platform sets (§9), after the user's, which may not override them.
pub(super) fn environment_variables(
    f: &FunctionConfig,
    runtime_api: SocketAddr,
) -> Vec<(String, String)> {
    let x = &f.config.execution;
    let mut platform: Vec<(&str, String)> = vec![
        (vars::RUNTIME_API, runtime_api.to_string()),
        (vars::FUNCTION_NAME, f.name.to_string()),
        (vars::FUNCTION_VERSION, "$LATEST".into()),
        (vars::FUNCTION_MEMORY_SIZE, f.config.memory.to_string()),
        (vars::LOG_GROUP_NAME, format!("/aws/lambda/{}", f.name)),
        (vars::LOG_STREAM_NAME, logs::log_stream_name()),
        (vars::REGION, f.region.clone()),
        (vars::DEFAULT_REGION, f.region.clone()),
    ];
    match x.max_concurrency {
        Some(n) => platform.extend([
            (
                vars::INITIALIZATION_TYPE,
                vars::MANAGED_INSTANCES_INIT.into(),
            ),
            (vars::MAX_CONCURRENCY, n.to_string()),
            // Invokes overlap: their lines are told apart by their records' `requestId`,
            // not by where one invoke's output ends.
        ]),
        None => platform.extend([
            (
                vars::INITIALIZATION_TYPE,
                if x.snapstart {
                    vars::SNAP_START_INIT
                } else {
                    "on-demand"
                }
                .into(),
            ),
            // lamina's adapter then marks where each invoke's output ends (no quiet period).
            (lamina_runtime_api::logs::OUTPUT_MARKS_ENV, "1".into()),
        ]),
    }
    // The logging configuration reaches the runtime as the cloud passes it (§6.1).
    if x.log_format == lamina_runtime_api::function::LogFormat::Json {
        platform.push((vars::LOG_FORMAT, "JSON".into()));
    }
    if let Some(level) = x.application_log_level {
        platform.push((vars::LOG_LEVEL, level.name().into()));
    }
    // The function model has already warned the user about these keys (Lambda overrides
    // them in the cloud too); here they are simply replaced.
    let mut out: Vec<(String, String)> = f
        .config
        .env
        .iter()
        .filter(|(k, _)| !platform.iter().any(|(p, _)| p == k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    out.extend(platform.into_iter().map(|(k, v)| (k.to_owned(), v)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_variables_win() {
        let mut f = FunctionConfig::new("calc".parse().unwrap());
        f.config.env = vec![("AWS_REGION".into(), "x".into()), ("MY".into(), "1".into())]
            .try_into()
            .unwrap();
        let env = environment_variables(&f, "127.0.0.1:9001".parse().unwrap());
        let get = |k: &str| {
            env.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(get("AWS_REGION"), ["us-east-1"]);
        assert_eq!(get("MY"), ["1"]);
        assert_eq!(get("AWS_LAMBDA_RUNTIME_API"), ["127.0.0.1:9001"]);
        assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), ["/aws/lambda/calc"]);
        assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), ["on-demand"]);
        assert!(get("AWS_LAMBDA_MAX_CONCURRENCY").is_empty());
        assert!(get("AWS_LAMBDA_LOG_FORMAT").is_empty());
    }

    #[test]
    fn a_managed_instances_function_gets_its_concurrency_and_json_logs() {
        let mut f = FunctionConfig::new("calc".parse().unwrap());
        f.config.execution = lamina_runtime_api::function::Execution::resolve(
            Some("8".parse().unwrap()),
            None,
            None,
            None,
            None,
        )
        .unwrap();
        let env = environment_variables(&f, "127.0.0.1:9001".parse().unwrap());
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("AWS_LAMBDA_MAX_CONCURRENCY"), Some("8"));
        assert_eq!(
            get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            Some("lambda-managed-instances")
        );
        assert_eq!(get("AWS_LAMBDA_LOG_FORMAT"), Some("JSON"));
        assert_eq!(get("AWS_LAMBDA_LOG_LEVEL"), Some("INFO"));
        assert_eq!(get(lamina_runtime_api::logs::OUTPUT_MARKS_ENV), None);
    }
}
