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
    let platform: Vec<(&str, String)> = vec![
        (vars::RUNTIME_API, runtime_api.to_string()),
        (vars::FUNCTION_NAME, f.name.to_string()),
        (vars::FUNCTION_VERSION, "$LATEST".into()),
        (vars::FUNCTION_MEMORY_SIZE, f.config.memory.to_string()),
        (vars::LOG_GROUP_NAME, format!("/aws/lambda/{}", f.name)),
        (vars::LOG_STREAM_NAME, logs::log_stream_name()),
        (vars::REGION, f.region.clone()),
        (vars::DEFAULT_REGION, f.region.clone()),
        (vars::INITIALIZATION_TYPE, "on-demand".into()),
        // lamina's adapter then marks where each invoke's output ends (no quiet period).
        (lamina_runtime_api::logs::OUTPUT_MARKS_ENV, "1".into()),
    ];
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
    }
}
