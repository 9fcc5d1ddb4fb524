//! A function's environment variables: Lambda's name rule, the keys Lambda sets itself, and
//! the 4 KB total.

use std::fmt;

use super::error::FunctionError;
use crate::limits::MAX_ENVIRONMENT_BYTES;

/// Keys the platform sets in every environment, replacing whatever the function configured
/// (Lambda docs, "Defined runtime environment variables"); `AWS_LAMBDA_*` is matched as a prefix.
const PLATFORM_KEYS: [&str; 5] = [
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];
/// Keys of the execution role's credentials, which Lambda sets from the role.
const CREDENTIAL_KEYS: [&str; 4] = [
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// Something legal but probably not what the user meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvWarning {
    /// Lambda sets this key itself and overrides the configured value.
    Overridden(String),
    /// A credential of the execution role, which Lambda sets; baked into an image it leaks.
    Credential(String),
    /// The variables add up to more than Lambda's 4 KB for a function's configuration.
    TooLarge(usize),
}

impl fmt::Display for EnvWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overridden(k) => write!(
                f,
                "environment variable `{k}` is set by Lambda itself, which overrides this value at run time"
            ),
            Self::Credential(k) => write!(
                f,
                "environment variable `{k}` is a credential: Lambda replaces it with the execution role's, and anything baked into an image can be read by whoever pulls it; pass it to `lamina rie --env` instead"
            ),
            Self::TooLarge(n) => write!(
                f,
                "the environment variables take {n} bytes; Lambda refuses more than {MAX_ENVIRONMENT_BYTES} in a function's configuration"
            ),
        }
    }
}

/// One `KEY=VALUE`, its key checked: what `--env` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// The name.
    pub key: String,
    /// The value (may be empty, may hold `=`).
    pub value: String,
}

impl std::str::FromStr for EnvVar {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, FunctionError> {
        let (key, value) = Environment::parse_pair(s)?;
        Ok(Self { key, value })
    }
}

impl fmt::Display for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.value)
    }
}

/// Environment variables in the order given; setting a key again replaces its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment(Vec<(String, String)>);

impl Environment {
    /// Lambda's rule for a name: a letter, then one or more letters, digits or `_`
    /// (`Environment.Variables` key pattern `[a-zA-Z]([a-zA-Z0-9_])+`).
    pub fn check_key(key: &str) -> Result<(), FunctionError> {
        let mut chars = key.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        let rest: Vec<char> = chars.collect();
        let ok = first_ok
            && !rest.is_empty()
            && rest.iter().all(|c| c.is_ascii_alphanumeric() || *c == '_');
        ok.then_some(())
            .ok_or_else(|| FunctionError::EnvKey(key.to_owned()))
    }

    /// Split `KEY=VALUE` (the value may hold `=`) and check both.
    pub fn parse_pair(pair: &str) -> Result<(String, String), FunctionError> {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| FunctionError::EnvPair(pair.to_owned()))?;
        Self::check_key(key)?;
        Self::check_value(key, value)?;
        Ok((key.to_owned(), value.to_owned()))
    }

    /// A value must fit a process environment: no NUL (execve ends a string there; Docker
    /// refuses it at container start, long after the build).
    pub fn check_value(key: &str, value: &str) -> Result<(), FunctionError> {
        match value.contains('\0') {
            true => Err(FunctionError::EnvNul(key.to_owned())),
            false => Ok(()),
        }
    }

    /// Set `key`, replacing an earlier value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), FunctionError> {
        Self::check_key(key)?;
        Self::check_value(key, value)?;
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Set every pair of `other`, in order.
    pub fn extend(&mut self, other: Environment) {
        for (k, v) in other.0 {
            self.0.retain(|(key, _)| key != &k);
            self.0.push((k, v));
        }
    }

    /// The pairs, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// What a user should hear about these variables before they are used.
    pub fn warnings(&self) -> Vec<EnvWarning> {
        let mut out = Vec::new();
        for (k, _) in &self.0 {
            if CREDENTIAL_KEYS.contains(&k.as_str()) {
                out.push(EnvWarning::Credential(k.clone()));
            } else if PLATFORM_KEYS.contains(&k.as_str()) || k.starts_with("AWS_LAMBDA_") {
                out.push(EnvWarning::Overridden(k.clone()));
            }
        }
        let size: usize = self.0.iter().map(|(k, v)| k.len() + v.len()).sum();
        if size > MAX_ENVIRONMENT_BYTES {
            out.push(EnvWarning::TooLarge(size));
        }
        out
    }
}

impl FromIterator<EnvVar> for Environment {
    fn from_iter<I: IntoIterator<Item = EnvVar>>(vars: I) -> Self {
        let mut env = Self::default();
        for v in vars {
            env.0.retain(|(k, _)| k != &v.key);
            env.0.push((v.key, v.value));
        }
        env
    }
}

impl TryFrom<Vec<(String, String)>> for Environment {
    type Error = FunctionError;
    fn try_from(pairs: Vec<(String, String)>) -> Result<Self, FunctionError> {
        let mut env = Self::default();
        for (k, v) in &pairs {
            env.set(k, v)?;
        }
        Ok(env)
    }
}

/// A TOML table (`[env]`) of names to strings, numbers or booleans.
impl<'de> serde::Deserialize<'de> for Environment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Value {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        let table = std::collections::BTreeMap::<String, Value>::deserialize(d)?;
        let mut env = Self::default();
        // The table's keys are unique, and past Lambda's 4 KB the table is refused: what is
        // set stays small, so no key is looked for in a long list.
        let mut size = 0usize;
        for (k, v) in table {
            let v = match v {
                Value::Text(s) => s,
                Value::Int(n) => n.to_string(),
                Value::Float(f) => f.to_string(),
                Value::Bool(b) => b.to_string(),
            };
            size += k.len() + v.len();
            if size > MAX_ENVIRONMENT_BYTES {
                return Err(serde::de::Error::custom(FunctionError::EnvTooLarge {
                    at: k,
                }));
            }
            env.set(&k, &v).map_err(serde::de::Error::custom)?;
        }
        Ok(env)
    }
}
