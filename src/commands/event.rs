//! `lamina event SOURCE`: a ready-made event of a Lambda trigger, shaped as AWS documents it
//! and as real deliveries show (the samples of AWS's docs and SAM CLI's `generate-event`), its
//! main fields set by flags. The HTTP fronts' events come from the same mapping `lamina rie
//! --http` uses, so a saved event and a live request cannot differ.

use std::io::Write as _;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use lamina_runtime_api::front::{self, EventContext, FrontRequest, Payload};
use md5::Digest as _;
use serde_json::{json, Value};

use super::Globals;
use crate::cli::{EventArgs, EventSource};

/// `lamina event`.
pub fn run(_globals: &Globals, args: &EventArgs) -> Result<()> {
    refuse_foreign_flags(args)?;
    let event = build(args)?;
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, &event)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    match written {
        // `lamina event … | head` is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The flags each source reads; any other given flag is an error, not silently dropped.
fn refuse_foreign_flags(a: &EventArgs) -> Result<()> {
    use EventSource::*;
    let given = [
        ("--method", a.method.is_some()),
        ("--path", a.path.is_some()),
        ("--header", !a.headers.is_empty()),
        ("--body", a.body.is_some()),
        ("--bucket", a.bucket.is_some()),
        ("--key", a.key.is_some()),
        ("--size", a.size.is_some()),
        ("--resource", a.resource.is_some()),
        ("--subject", a.subject.is_some()),
        ("--source", a.event_source.is_some()),
        ("--detail-type", a.detail_type.is_some()),
    ];
    let allowed: &[&str] = match a.kind {
        ApigwHttp | ApigwRest | FunctionUrl | Alb => &["--method", "--path", "--header", "--body"],
        S3Put => &["--bucket", "--key", "--size"],
        S3Delete => &["--bucket", "--key"],
        Sqs | Kinesis | CloudwatchLogs | Dynamodb | Schedule => &["--body", "--resource"],
        Sns => &["--body", "--resource", "--subject"],
        Eventbridge => &["--body", "--source", "--detail-type"],
    };
    for (flag, set) in given {
        if set && !allowed.contains(&flag) {
            bail!(
                "{flag} does not apply to `{}` events; its flags are {}",
                name(a.kind),
                allowed.join(", ")
            );
        }
    }
    Ok(())
}

fn name(kind: EventSource) -> String {
    clap::ValueEnum::to_possible_value(&kind)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// `2024-01-01T00:00:00.000Z` (S3, SNS) or `2024-01-01T00:00:00Z` (EventBridge).
fn now_iso(millis: bool) -> String {
    let now = SystemTime::now();
    if millis {
        humantime::format_rfc3339_millis(now).to_string()
    } else {
        humantime::format_rfc3339_seconds(now).to_string()
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn uuid() -> String {
    lamina_runtime_api::trace::request_id()
}

/// The event for `args`.
fn build(a: &EventArgs) -> Result<Value> {
    let (region, account) = (a.region.as_str(), a.account.as_str());
    let body = a.body.clone();
    Ok(match a.kind {
        EventSource::ApigwHttp => http_event(a, Payload::ApigwHttp)?,
        EventSource::ApigwRest => http_event(a, Payload::ApigwRest)?,
        EventSource::FunctionUrl => http_event(a, Payload::FunctionUrl)?,
        EventSource::Alb => alb(a)?,
        EventSource::S3Put | EventSource::S3Delete => s3(a),
        EventSource::Sqs => {
            let body = body.unwrap_or_else(|| "Hello from SQS!".into());
            let queue = a.resource.as_deref().unwrap_or("example-queue");
            let sent = epoch_ms();
            json!({"Records": [{
                "messageId": uuid(),
                "receiptHandle": format!("AQEB{}", uuid().replace('-', "")),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": sent.to_string(),
                    "SenderId": account,
                    "ApproximateFirstReceiveTimestamp": (sent + 1).to_string(),
                },
                "messageAttributes": {},
                "md5OfBody": hex(&md5::Md5::digest(body.as_bytes())),
                "eventSource": "aws:sqs",
                "eventSourceARN": format!("arn:aws:sqs:{region}:{account}:{queue}"),
                "awsRegion": region,
            }]})
        }
        EventSource::Sns => {
            let topic = a.resource.as_deref().unwrap_or("example-topic");
            let topic_arn = format!("arn:aws:sns:{region}:{account}:{topic}");
            json!({"Records": [{
                "EventVersion": "1.0",
                "EventSubscriptionArn": format!("{topic_arn}:{}", uuid()),
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": now_iso(true),
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "MessageId": uuid(),
                    "Message": body.unwrap_or_else(|| "Hello from SNS!".into()),
                    "MessageAttributes": {},
                    "Type": "Notification",
                    "UnsubscribeUrl": "EXAMPLE",
                    "TopicArn": topic_arn,
                    "Subject": a.subject.clone().unwrap_or_else(|| "example subject".into()),
                },
            }]})
        }
        EventSource::Dynamodb => {
            let table = a.resource.as_deref().unwrap_or("example-table");
            let message = body.unwrap_or_else(|| "New item!".into());
            json!({"Records": [{
                "eventID": uuid().replace('-', ""),
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": region,
                "dynamodb": {
                    "ApproximateCreationDateTime": epoch_ms() / 1000,
                    "Keys": {"Id": {"N": "101"}},
                    "NewImage": {"Message": {"S": message}, "Id": {"N": "101"}},
                    "SequenceNumber": "111",
                    "SizeBytes": 26 + message.len(),
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": format!("arn:aws:dynamodb:{region}:{account}:table/{table}/stream/2024-01-01T00:00:00.000"),
            }]})
        }
        EventSource::Kinesis => {
            let stream = a.resource.as_deref().unwrap_or("example-stream");
            let data = body.unwrap_or_else(|| "Hello from Kinesis!".into());
            let sequence = "49590338271490256608559692538361571095921575989136588898";
            json!({"Records": [{
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": "1",
                    "sequenceNumber": sequence,
                    "data": b64(data.as_bytes()),
                    "approximateArrivalTimestamp": epoch_ms() as f64 / 1000.0,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{sequence}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": format!("arn:aws:iam::{account}:role/lambda-role"),
                "awsRegion": region,
                "eventSourceARN": format!("arn:aws:kinesis:{region}:{account}:stream/{stream}"),
            }]})
        }
        EventSource::Eventbridge => {
            let detail: Value = match &body {
                None => json!({}),
                Some(d) => serde_json::from_str(d).with_context(|| {
                    format!(
                        "--body `{d}` is not JSON: an EventBridge event's detail is a JSON object"
                    )
                })?,
            };
            json!({
                "version": "0",
                "id": uuid(),
                "detail-type": a.detail_type.clone().unwrap_or_else(|| "Example Event".into()),
                "source": a.event_source.clone().unwrap_or_else(|| "com.example.app".into()),
                "account": account,
                "time": now_iso(false),
                "region": region,
                "resources": [],
                "detail": detail,
            })
        }
        EventSource::Schedule => {
            let rule = a.resource.as_deref().unwrap_or("example-schedule");
            json!({
                "version": "0",
                "id": uuid(),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": account,
                "time": now_iso(false),
                "region": region,
                "resources": [format!("arn:aws:events:{region}:{account}:rule/{rule}")],
                "detail": {},
            })
        }
        EventSource::CloudwatchLogs => cloudwatch_logs(a, account)?,
    })
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn s3(a: &EventArgs) -> Value {
    let bucket = a.bucket.as_deref().unwrap_or("example-bucket");
    let key = a.key.as_deref().unwrap_or("test/key");
    // Keys arrive URL-encoded, spaces as `+` (S3 notification docs).
    let encoded: String = key
        .bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect();
    let put = a.kind == EventSource::S3Put;
    let mut object = json!({"key": encoded, "sequencer": "0A1B2C3D4E5F678901"});
    if put {
        object["size"] = json!(a.size.unwrap_or(1024));
        object["eTag"] = json!("0123456789abcdef0123456789abcdef");
    }
    json!({"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": a.region,
        "eventTime": now_iso(true),
        "eventName": if put { "ObjectCreated:Put" } else { "ObjectRemoved:Delete" },
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-request-id": "EXAMPLE123456789",
            "x-amz-id-2": "EXAMPLE123/5678abcdefghijklambdaisawesome/mnopqrstuvwxyzABCDEFGH",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "testConfigRule",
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "EXAMPLE"},
                "arn": format!("arn:aws:s3:::{bucket}"),
            },
            "object": object,
        },
    }]})
}

/// The request the HTTP flags describe.
fn front_request(a: &EventArgs) -> Result<FrontRequest> {
    let target = a.path.clone().unwrap_or_else(|| "/".into());
    if !target.starts_with('/') {
        bail!("--path `{target}` must start with `/`, e.g. --path '/items/1?debug=true'");
    }
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target, None),
    };
    let mut headers = Vec::new();
    for h in &a.headers {
        let (k, v) = h
            .split_once(':')
            .with_context(|| format!("--header `{h}` is not `NAME: VALUE`"))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    Ok(FrontRequest {
        method: a
            .method
            .clone()
            .unwrap_or_else(|| "GET".into())
            .to_ascii_uppercase(),
        path,
        query,
        headers,
        body: a.body.clone().unwrap_or_default().into_bytes(),
        source_ip: "127.0.0.1".into(),
        protocol: "HTTP/1.1".into(),
    })
}

fn http_event(a: &EventArgs, payload: Payload) -> Result<Value> {
    let req = front_request(a)?;
    let ctx = EventContext::new("function", payload, &a.region, &a.account);
    Ok(front::event(payload, &req, None, &ctx))
}

/// An ALB target's event: lower-case single-value headers, `{}` for no query, a body string.
fn alb(a: &EventArgs) -> Result<Value> {
    let req = front_request(a)?;
    let mut headers = serde_json::Map::new();
    for (k, v) in &req.headers {
        headers.insert(k.clone(), json!(v));
    }
    let query: serde_json::Map<String, Value> = req
        .query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    let binary = !front::is_text(req.header("content-type"), &req.body);
    Ok(json!({
        "requestContext": {"elb": {"targetGroupArn": format!(
            "arn:aws:elasticloadbalancing:{}:{}:targetgroup/lambda-target/0123456789abcdef", a.region, a.account
        )}},
        "httpMethod": req.method,
        "path": req.path,
        "queryStringParameters": query,
        "headers": headers,
        "body": if binary { b64(&req.body) } else { String::from_utf8_lossy(&req.body).into_owned() },
        "isBase64Encoded": binary,
    }))
}

/// CloudWatch Logs subscription data: the message batch as JSON, gzipped, base64 in
/// `awslogs.data` (what a subscription filter delivers).
fn cloudwatch_logs(a: &EventArgs, account: &str) -> Result<Value> {
    let group = a.resource.as_deref().unwrap_or("/aws/lambda/example");
    let message = a
        .body
        .clone()
        .unwrap_or_else(|| "Hello from CloudWatch Logs!".into());
    let now = epoch_ms();
    let batch = json!({
        "messageType": "DATA_MESSAGE",
        "owner": account,
        "logGroup": group,
        "logStream": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "subscriptionFilters": ["example-filter"],
        "logEvents": message.lines().enumerate().map(|(i, m)| json!({
            "id": format!("{:056}", now as u128 * 1000 + i as u128),
            "timestamp": now,
            "message": m,
        })).collect::<Vec<_>>(),
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    serde_json::to_writer(&mut gz, &batch)?;
    let data = gz.finish()?;
    Ok(json!({"awslogs": {"data": b64(&data)}}))
}
