//! Command-line surface: the argument structs of every `lamina` command.
//!
//! The build arguments double as the schema of `lamina.toml` (serde), as cargo-lambda does, so
//! a flag and a config key can never mean different things. Validation lives in `config.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lamina_build::deps::Installer;
use lamina_build::pipeline::base::RicChoice;
use lamina_image::Reference;
use lamina_runtime_api::front::{InvokeMode, Payload};
use lamina_runtime_api::function::{
    Arch, Concurrency, EnvVar, Environment, EphemeralStorage, Flag, FunctionName, HttpSettings,
    LogFormat, LogLevel, MaxConcurrency, MemorySize, Runtime, Settings, SystemLogLevel, Timeout,
};
use lamina_runtime_api::limits;
use serde::Deserialize;

use crate::examples;

/// Build AWS Lambda container images without a daemon, and run them locally with the cloud's
/// event flow.
#[derive(Debug, Parser)]
#[command(name = "lamina", version, about, long_about = None)]
pub struct Cli {
    /// Print machine-readable JSON results instead of progress and prose.
    #[arg(long, global = true)]
    pub json: bool,
    /// More logging (-v: debug, -vv: trace). `RUST_LOG` also works.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Where lamina keeps downloads, layers and images [default: ~/.cache/lamina].
    #[arg(long, global = true, env = "LAMINA_CACHE", value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Where lamina keeps built images and layers [default: CACHE/store].
    #[arg(long, global = true, env = "LAMINA_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a function folder from a template: handler, lamina.toml, a test event.
    #[command(after_help = examples::INIT)]
    Init(InitArgs),
    /// Build a function image from a handler folder.
    #[command(after_help = examples::BUILD)]
    Build(Box<BuildArgs>),
    /// Serve a function image (or a folder, built first) on the Lambda invoke API.
    #[command(after_help = examples::RIE)]
    Rie(RieArgs),
    /// Invoke a function on `lamina rie` (or any Lambda invoke API) and print its answer.
    #[command(after_help = examples::INVOKE)]
    Invoke(InvokeArgs),
    /// Print a ready-made event of a Lambda trigger (API Gateway, S3, SQS, …) as JSON.
    #[command(after_help = examples::EVENT)]
    Event(EventArgs),
    /// Push an image from lamina's store to a registry (ECR or any OCI registry).
    #[command(after_help = examples::PUSH)]
    Push(PushArgs),
    /// Pull an image from a registry into lamina's store.
    #[command(after_help = examples::PULL)]
    Pull(PullArgs),
    /// Say whether Lambda will accept an image, and why not.
    #[command(after_help = examples::CHECK)]
    Check(CheckArgs),
    /// Assemble, lock and list base runtimes.
    #[command(subcommand, after_help = examples::BASE)]
    Base(BaseCommand),
    /// List the images in lamina's store.
    #[command(after_help = examples::IMAGES)]
    Images,
    /// Look into an image of lamina's store.
    #[command(subcommand, after_help = examples::IMAGE)]
    Image(ImageCommand),
    /// Remove images (their tags) from lamina's store; `lamina prune` reclaims their blobs.
    #[command(after_help = examples::RMI)]
    Rmi {
        /// The images, by tag.
        #[arg(required = true)]
        references: Vec<String>,
    },
    /// Reclaim space: blobs no image uses, and with --all the build cache.
    #[command(after_help = examples::PRUNE)]
    Prune(PruneArgs),
    /// What lamina keeps on this machine.
    #[command(subcommand, after_help = examples::SYSTEM)]
    System(SystemCommand),
    /// Print a completion script for a shell (bash, zsh, fish, powershell, elvish).
    #[command(after_help = examples::COMPLETIONS)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `lamina image …`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// An image's config and layers (with what each holds: base, runtime client,
    /// dependencies, code), as JSON.
    Inspect {
        /// The image, by tag.
        reference: String,
    },
}

/// `lamina system …`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Bytes per area of lamina's cache, and what a prune would reclaim.
    Df,
}

/// `lamina prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove the build cache too (layers no image uses, kept for the next build).
    #[arg(long)]
    pub all: bool,
    /// Remove the build cache not used for this long (e.g. 24h, 7days).
    #[arg(long, value_name = "DURATION")]
    pub older_than: Option<humantime::Duration>,
    /// Remove the least recently used build cache until the store holds at most this (e.g.
    /// 10GB), as BuildKit's --keep-storage.
    #[arg(long, value_name = "SIZE", value_parser = crate::output::parse_size)]
    pub keep_storage: Option<u64>,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `lamina init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder to write into (made if missing) [default: this one].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Runtime: python3.13, python3.14, nodejs24 (or nodejs24.x) or provided.
    #[arg(long, default_value = "python3.13")]
    pub runtime: Runtime,
    /// What the function does: hello (an event in, JSON out), api (an HTTP API's request in,
    /// an HTTP response out), stream (a response streamed as it is written), extension (with
    /// an external extension beside it).
    #[arg(long, value_enum, default_value_t = Template::Hello)]
    pub template: Template,
    /// Function name [default: the folder's name].
    #[arg(long)]
    pub name: Option<FunctionName>,
}

/// The templates of `lamina init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// An event in, JSON out.
    Hello,
    /// Behind an HTTP API (API Gateway, payload 2.0).
    Api,
    /// Response streaming.
    Stream,
    /// With an external extension (a folder given as a layer: `/opt/extensions`).
    Extension,
}

impl Template {
    /// Every template.
    #[cfg(test)]
    pub const ALL: [Template; 4] = [
        Template::Hello,
        Template::Api,
        Template::Stream,
        Template::Extension,
    ];

    /// Its name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hello => "hello",
            Self::Api => "api",
            Self::Stream => "stream",
            Self::Extension => "extension",
        }
    }
}

/// Function settings, from flags or from `lamina.toml` (flags win). Every value is one of the
/// function model's types, so a flag and a config key go through the same rule and message.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionArgs {
    /// Function name [default: the folder's name].
    #[arg(long)]
    #[serde(default)]
    pub name: Option<FunctionName>,
    /// Runtime: python3.13, python3.14, nodejs24 (or nodejs24.x) or provided [default: python3.13].
    #[arg(long)]
    #[serde(default)]
    pub runtime: Option<Runtime>,
    /// Handler, e.g. `app.handler` (module.function).
    #[arg(long)]
    #[serde(default)]
    pub handler: Option<String>,
    /// Memory size in MB (128 to 10240) [default: 128].
    #[arg(long, value_name = "MB")]
    #[serde(default)]
    pub memory: Option<MemorySize>,
    /// Timeout in whole seconds (1 to 900) [default: 3].
    #[arg(long, value_name = "SECONDS")]
    #[serde(default)]
    pub timeout: Option<Timeout>,
    /// Size of /tmp in MB (512 to 10240) [default: 512].
    #[arg(long, value_name = "MB")]
    #[serde(default)]
    pub ephemeral_storage: Option<EphemeralStorage>,
    /// Architecture: linux/amd64 or linux/arm64 [default: the host's].
    #[arg(long)]
    #[serde(default)]
    pub platform: Option<Arch>,
    /// Environment variable baked into the image, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    #[serde(default, deserialize_with = "env_table")]
    pub env: Vec<EnvVar>,
    /// Python requirements to install into the image [default: requirements.txt, when the
    /// folder has one].
    #[arg(long, value_name = "FILE")]
    #[serde(default)]
    pub requirements: Option<PathBuf>,
    /// Who installs the requirements: pip or uv [default: pip].
    #[arg(long)]
    #[serde(default)]
    pub installer: Option<Installer>,
    /// A folder of already-installed packages to use as the dependencies instead.
    #[arg(long, value_name = "DIR", conflicts_with = "requirements")]
    #[serde(default)]
    pub deps_dir: Option<PathBuf>,
    /// A Lambda deployment package: its files are the code in /var/task, instead of the
    /// folder's.
    #[arg(long, value_name = "ZIP")]
    #[serde(default)]
    pub zip: Option<PathBuf>,
    /// A Lambda layer ZIP, unpacked under /opt (repeatable; later layers overwrite earlier
    /// files, as Lambda merges them).
    #[arg(long = "layer", value_name = "ZIP")]
    #[serde(default)]
    pub layers: Vec<PathBuf>,
    /// What to build on: a runtime's recipe (python3.13, python3.14, nodejs24, provided), scratch, dir:ROOTFS,
    /// oci:PATH[:TAG], docker-archive:PATH, docker-daemon:NAME or a registry reference such
    /// as public.ecr.aws/lambda/python:3.13 [default: the runtime's recipe].
    #[arg(long, value_name = "SOURCE")]
    #[serde(default)]
    pub base: Option<String>,
    /// Which runtime client starts the function: base (an AWS base's own
    /// /lambda-entrypoint.sh), lamina, or auto [default: auto, the base's own on an AWS
    /// Lambda base].
    #[arg(long, value_name = "base|lamina|auto")]
    #[serde(default)]
    pub ric: Option<RicChoice>,
    /// Environments `lamina rie` runs at once (lamina.toml only; `lamina rie --concurrency`).
    #[arg(skip)]
    #[serde(default)]
    pub concurrency: Option<Concurrency>,
    #[command(flatten)]
    #[serde(flatten)]
    pub execution: ExecutionArgs,
    /// The HTTP front of `lamina rie --http` (lamina.toml `[http]`: payload, routes, cors).
    #[arg(skip)]
    #[serde(default)]
    pub http: HttpSettings,
    /// Function folders this folder groups, served together by `lamina rie` (lamina.toml
    /// only; such a folder holds no handler of its own).
    #[arg(skip)]
    #[serde(default)]
    pub functions: Vec<PathBuf>,
}

impl FunctionArgs {
    /// These settings in the model's terms.
    pub fn settings(&self) -> Settings {
        Settings {
            name: self.name.clone(),
            runtime: self.runtime,
            handler: self.handler.clone(),
            arch: self.platform,
            memory: self.memory,
            timeout: self.timeout,
            ephemeral_storage: self.ephemeral_storage,
            env: self.env.iter().cloned().collect(),
            concurrency: self.concurrency,
            max_concurrency: self.execution.max_concurrency,
            tenant_isolation: self.execution.tenant_isolation,
            snapstart: self.execution.snapstart,
            log_format: self.execution.log_format,
            application_log_level: self.execution.application_log_level,
            system_log_level: self.execution.system_log_level,
            http: self.http.clone(),
        }
    }
}

/// How the function's environments run, as Lambda's settings of the same names: flags of
/// `lamina build` (written into the image) and `lamina rie` (over the image's), keys of
/// lamina.toml.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
pub struct ExecutionArgs {
    /// Invokes one environment takes at once, 1 to 1600, as a Lambda Managed Instances
    /// function does (AWS_LAMBDA_MAX_CONCURRENCY; logs are JSON in that mode).
    #[arg(long, value_name = "N")]
    #[serde(default)]
    pub max_concurrency: Option<MaxConcurrency>,
    /// Give every tenant (X-Amz-Tenant-Id) environments of its own, and require the header,
    /// as TenantIsolationMode=PER_TENANT does.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true")]
    #[serde(default)]
    pub tenant_isolation: Option<Flag>,
    /// SnapStart: `lamina build` labels the image for Lambda to publish with SnapStart;
    /// `lamina rie` runs init, the before-snapshot hooks, a restore and the after-restore
    /// hooks before the first invoke, as a published SnapStart version does.
    #[arg(long, value_name = "true|false", num_args = 0..=1, default_missing_value = "true")]
    #[serde(default)]
    pub snapstart: Option<Flag>,
    /// Log format: Text or JSON [default: Text; JSON with log levels or max_concurrency].
    #[arg(long, value_name = "Text|JSON")]
    #[serde(default)]
    pub log_format: Option<LogFormat>,
    /// Lowest level of the function's own JSON records kept: TRACE, DEBUG, INFO, WARN,
    /// ERROR or FATAL [default: INFO in JSON format].
    #[arg(long, value_name = "LEVEL")]
    #[serde(default)]
    pub application_log_level: Option<LogLevel>,
    /// Lowest level of the platform's JSON records kept: DEBUG, INFO or WARN [default: INFO].
    #[arg(long, value_name = "LEVEL")]
    #[serde(default)]
    pub system_log_level: Option<SystemLogLevel>,
}

/// `[env]` in lamina.toml is a table; flags are `KEY=VALUE` strings. Accept the table.
fn env_table<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<EnvVar>, D::Error> {
    let env = Environment::deserialize(d)?;
    Ok(env
        .iter()
        .map(|(k, v)| EnvVar {
            key: k.to_owned(),
            value: v.to_owned(),
        })
        .collect())
}

/// `lamina build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// The function folder (holds the handler and optionally `lamina.toml`).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Name the image in the local store (and in Docker with --load), e.g. `calculator` or
    /// `calculator:v2` [default: the function name].
    #[arg(short, long)]
    pub tag: Option<Reference>,
    /// Also load the image into the local Docker Engine.
    #[arg(long)]
    pub load: bool,
    /// Write the image out: `oci:PATH` (OCI layout folder) or `docker-archive:PATH` (tar).
    #[arg(long, value_name = "FORMAT:PATH")]
    pub output: Option<String>,
    /// Also push the image to a registry (repeatable), e.g. an ECR repository:tag.
    #[arg(long = "push", value_name = "REF")]
    pub push: Vec<Reference>,
    /// Reuse layers another machine built: import the layer cache `--cache-to` wrote at REF
    /// (a missing one is fine on a first run).
    #[arg(long, value_name = "REF")]
    pub cache_from: Option<Reference>,
    /// Keep this build's layer cache in the registry at REF (an OCI artifact), for
    /// `--cache-from` on other machines.
    #[arg(long, value_name = "REF")]
    pub cache_to: Option<Reference>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub function: FunctionArgs,
}

/// Where and how to reach a registry.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the registry (only for a registry on loopback).
    #[arg(long)]
    pub insecure: bool,
    /// User name for the registry (with --password-stdin).
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password or token from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
}

/// `lamina push`.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The image: a name in lamina's store (`calculator`, `calculator:v2`), oci:PATH[:TAG],
    /// docker-archive:PATH or docker-daemon:NAME.
    pub source: String,
    /// Where to push it, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/calculator:v2`.
    pub target: Reference,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `lamina pull`.
#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// The image to pull, e.g. `127.0.0.1:5000/team/app:v1` or `REPO@sha256:…`.
    pub source: Reference,
    /// Architecture to take from a multi-platform index: linux/amd64 or linux/arm64
    /// [default: the host's].
    #[arg(long)]
    pub platform: Option<Arch>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `lamina invoke`.
#[derive(Debug, Clone, Args)]
pub struct InvokeArgs {
    /// The function: a name, `name:qualifier` or an ARN [default: function, `lamina rie`'s
    /// name for the one function it serves].
    #[arg(default_value = "function")]
    pub name: String,
    /// The event: a JSON file, or `-` for standard input [default: `{}`].
    #[arg(long, short, value_name = "FILE|-")]
    pub event: Option<std::path::PathBuf>,
    /// Queue the event (an `Event` invoke, answered 202) instead of waiting for the answer.
    #[arg(long, conflicts_with = "dry_run")]
    pub r#async: bool,
    /// Only check that the invoke would be accepted (a `DryRun` invoke, answered 204).
    #[arg(long)]
    pub dry_run: bool,
    /// Print the last 4 KB of the function's log (START … REPORT) on standard error.
    #[arg(long)]
    pub tail: bool,
    /// Call `InvokeWithResponseStream` and print each chunk as it arrives (a function that
    /// does not stream answers in one chunk); with `--json`, one JSON line per event.
    #[arg(long, conflicts_with = "async")]
    pub stream: bool,
    /// The tenant to invoke for (X-Amz-Tenant-Id), which a tenant-isolated function
    /// requires and any other refuses.
    #[arg(long, value_name = "ID")]
    pub tenant_id: Option<String>,
    /// The invoke API to call.
    #[arg(long, default_value = "http://127.0.0.1:9000", value_name = "URL")]
    pub endpoint: String,
}

/// The triggers `lamina event` writes events of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventSource {
    /// API Gateway HTTP API (payload 2.0).
    ApigwHttp,
    /// API Gateway REST API proxy (payload 1.0).
    ApigwRest,
    /// A Lambda function URL.
    FunctionUrl,
    /// An Application Load Balancer target.
    Alb,
    /// S3 `ObjectCreated:Put`.
    S3Put,
    /// S3 `ObjectRemoved:Delete`.
    S3Delete,
    /// An SQS message.
    Sqs,
    /// An SNS notification.
    Sns,
    /// A DynamoDB stream record (INSERT).
    Dynamodb,
    /// A Kinesis stream record.
    Kinesis,
    /// An EventBridge event.
    Eventbridge,
    /// An EventBridge scheduled event.
    Schedule,
    /// CloudWatch Logs subscription data (gzip + base64).
    CloudwatchLogs,
}

/// `lamina event`.
#[derive(Debug, Clone, Args)]
pub struct EventArgs {
    /// The trigger.
    #[arg(value_enum, value_name = "SOURCE")]
    pub kind: EventSource,
    /// HTTP method (apigw-*, function-url, alb) [default: GET].
    #[arg(long)]
    pub method: Option<String>,
    /// Request path with an optional query string (apigw-*, function-url, alb) [default: /].
    #[arg(long)]
    pub path: Option<String>,
    /// Request header `NAME: VALUE` (apigw-*, function-url, alb; repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The payload: the request body (HTTP sources), the message (sqs, sns, cloudwatch-logs),
    /// the record's data (kinesis), the detail JSON (eventbridge).
    #[arg(long)]
    pub body: Option<String>,
    /// Bucket (s3-*) [default: example-bucket].
    #[arg(long)]
    pub bucket: Option<String>,
    /// Object key (s3-*) [default: test/key].
    #[arg(long)]
    pub key: Option<String>,
    /// Object size in bytes (s3-put) [default: 1024].
    #[arg(long)]
    pub size: Option<u64>,
    /// Queue name (sqs), topic name (sns), table (dynamodb), stream (kinesis), rule
    /// (schedule) or log group (cloudwatch-logs).
    #[arg(long)]
    pub resource: Option<String>,
    /// Subject (sns).
    #[arg(long)]
    pub subject: Option<String>,
    /// `source` (eventbridge) [default: com.example.app].
    #[arg(long = "source")]
    pub event_source: Option<String>,
    /// `detail-type` (eventbridge) [default: Example Event].
    #[arg(long)]
    pub detail_type: Option<String>,
    /// Region in ARNs [default: us-east-1].
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Account id in ARNs [default: lamina rie's, 000000000000].
    #[arg(long, default_value = "000000000000")]
    pub account: String,
}

/// `lamina check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The image: a name in lamina's store, oci:PATH[:TAG], docker-archive:PATH,
    /// docker-daemon:NAME or a registry reference.
    pub image: String,
    /// Architecture to take from an index: linux/amd64 or linux/arm64 [default: the host's].
    #[arg(long)]
    pub platform: Option<Arch>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

/// `lamina rie`.
#[derive(Debug, Clone, Args)]
pub struct RieArgs {
    /// The functions: images in the local store or Docker (`calculator`, `calculator:v2`),
    /// function folders (built first), or a folder whose lamina.toml lists
    /// `functions = ["dir", …]`. Each is invoked by its name; the only one also as `function`.
    #[arg(required_unless_present = "cleanup", value_name = "IMAGE|DIR")]
    pub targets: Vec<String>,
    /// Remove the containers and networks a `lamina rie` that was killed (`kill -9`) left
    /// behind, then exit; needs no running server.
    #[arg(long, conflicts_with = "targets")]
    pub cleanup: bool,
    /// Port of the invoke API.
    #[arg(short, long, default_value_t = 9000)]
    pub port: u16,
    /// Address of the invoke API. Anything but loopback exposes your function to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Function timeout in whole seconds, 1 to 900, for every function served [default:
    /// each image's, else 3].
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<Timeout>,
    /// Memory limit in MB, 128 to 10240 [default: the image's, else 128].
    #[arg(long, value_name = "MB")]
    pub memory: Option<MemorySize>,
    /// Environments run at once, 1 to 1000; further invokes wait their turn [default: the
    /// image's, else 1].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<Concurrency>,
    #[command(flatten)]
    pub execution: ExecutionArgs,
    /// Extra environment variable for the function, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<EnvVar>,
    /// File of KEY=VALUE lines to add to the function's environment.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// SAM CLI's environment file, JSON: `{"Parameters": {…}}` for every function and
    /// `{"NAME": {…}}` for one (those win); `--env-file` and `--env` win over both.
    #[arg(long, value_name = "FILE.json")]
    pub env_vars: Option<PathBuf>,
    /// Also serve plain HTTP on this port, each request turned into an API Gateway or
    /// function URL event and the function's proxy response back into HTTP.
    #[arg(long, value_name = "PORT")]
    pub http: Option<u16>,
    /// The event the HTTP front sends: apigw-http (HTTP API, payload 2.0), apigw-rest (REST
    /// API, payload 1.0) or function-url [default: lamina.toml's `[http] payload`, else
    /// apigw-http].
    #[arg(long, value_name = "PAYLOAD", requires = "http")]
    pub http_payload: Option<Payload>,
    /// How the HTTP front returns answers: BUFFERED (the proxy response, decoded) or
    /// RESPONSE_STREAM (the body as the function writes it, status and headers from its
    /// prelude; function-url and apigw-rest) [default: lamina.toml's `[http] invoke_mode`,
    /// else BUFFERED].
    #[arg(long, value_name = "MODE", requires = "http")]
    pub http_invoke_mode: Option<InvokeMode>,
    /// Where `Event` invokes are queued, durably (a restart delivers what was accepted and
    /// not finished) [default: CACHE/rie/events/PORT].
    #[arg(long, value_name = "DIR")]
    pub events_dir: Option<PathBuf>,
    /// Write a record of each `Event` invoke that failed every attempt (or aged out) into
    /// this folder, as Lambda's on-failure destination does.
    #[arg(long, value_name = "DIR")]
    pub on_failure: Option<PathBuf>,
    /// Write a record of each `Event` invoke that succeeded into this folder.
    #[arg(long, value_name = "DIR")]
    pub on_success: Option<PathBuf>,
    /// Retries of a failed `Event` invoke, 0 to 2 [default: 2, as Lambda].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(limits::MAX_RETRY_ATTEMPTS)))]
    pub max_retry_attempts: Option<u32>,
    /// Seconds before the first retry of a failed `Event` invoke; the second waits twice as
    /// long [default: 60, Lambda's; use 1 to see retries at once].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(0..=limits::MAX_RETRY_DELAY_S))]
    pub event_retry_delay: Option<u64>,
    /// Drop `Event` invokes older than this many seconds, 60 to 21600 [default: 21600].
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(limits::MIN_EVENT_AGE_S..=limits::MAX_EVENT_AGE_S))]
    pub max_event_age: Option<u64>,
    /// Docker network the environments join: `bridge` (Docker's default, as `docker run`
    /// uses), `lamina-rie` (lamina's own, created on first use: no other container shares
    /// it, but each container start pays the daemon's DNS set-up, ~100 ms), or any bridge
    /// network you made, e.g. a compose project's, so functions reach its services by name.
    /// Whatever the network, each Runtime API answers only its own container
    /// [default: bridge].
    #[arg(long, value_name = "NAME")]
    pub network: Option<String>,
    /// Give each environment the CPU Lambda gives its memory (1,769 MB = one vCPU; 128 MB
    /// ≈ 7% of one), so a function that would time out in the cloud times out here.
    #[arg(long)]
    pub cpu_share: bool,
    /// Rebuild a function folder when its files change: the next invoke runs the new code
    /// (only changed layers are rebuilt), and a build or init that fails keeps the last good
    /// version serving.
    #[arg(long)]
    pub watch: bool,
}

/// `lamina base …`.
#[derive(Debug, Subcommand)]
pub enum BaseCommand {
    /// List the base runtimes lamina can assemble.
    List,
    /// Resolve a base's package list against the Debian mirror and rewrite its lock file.
    Lock {
        /// Base name, e.g. python3.13.
        name: String,
        /// The `base-images` folder whose recipe and lock to use.
        #[arg(long, default_value = "base-images")]
        dir: PathBuf,
    },
    /// Download and unpack a base into the cache (what `lamina build` does on first use).
    Build {
        /// Base name, e.g. python3.13.
        name: String,
        /// Architecture: amd64 or arm64.
        #[arg(long, default_value = "amd64")]
        arch: String,
    },
}
