//! `lamina invoke`: one call of the Invoke API (`lamina rie`'s, AWS's emulator's, any
//! endpoint), the payload printed on stdout, the decoded log tail on stderr with `--tail`, and
//! the exit code non-zero on a function error, so scripts can test a function the way
//! `aws lambda invoke` does without an AWS account. `--stream` calls
//! `InvokeWithResponseStream` and prints the chunks as they come.

use std::io::{Read, Write};

use anyhow::{bail, Context, Result};
use base64::Engine as _;
use lamina_runtime_api::eventstream::{Decoder, Event};
use lamina_runtime_api::headers as h;
use serde_json::json;

use super::Globals;
use crate::cli::InvokeArgs;

/// `lamina invoke`. Returns false when the function answered with an error.
pub async fn run(globals: &Globals, args: &InvokeArgs) -> Result<bool> {
    let event = match &args.event {
        None => b"{}".to_vec(),
        Some(p) if p.as_os_str() == "-" => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("cannot read the event from standard input")?;
            buf
        }
        Some(p) => std::fs::read(p)
            .with_context(|| format!("cannot read the event file {}", p.display()))?,
    };
    let mut url = reqwest::Url::parse(&args.endpoint).with_context(|| {
        format!(
            "--endpoint {} is not a URL (e.g. http://127.0.0.1:9000)",
            args.endpoint
        )
    })?;
    let route = if args.stream {
        [
            "2021-11-15",
            "functions",
            &args.name,
            "response-streaming-invocations",
        ]
    } else {
        ["2015-03-31", "functions", &args.name, "invocations"]
    };
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("--endpoint {} cannot take a path", args.endpoint))?
        .pop_if_empty()
        .extend(route);
    let kind = if args.r#async {
        "Event"
    } else if args.dry_run {
        "DryRun"
    } else {
        "RequestResponse"
    };
    let mut req = reqwest::Client::new()
        .post(url.clone())
        .header(h::INVOCATION_TYPE, kind)
        .body(event);
    if args.tail {
        req = req.header(h::LOG_TYPE, "Tail");
    }
    if let Some(tenant) = &args.tenant_id {
        let value = reqwest::header::HeaderValue::from_str(tenant).map_err(|_| {
            anyhow::anyhow!("--tenant-id {tenant:?} cannot travel in a header: use letters, digits and ._:/=+-@ or spaces")
        })?;
        req = req.header(h::AMZ_TENANT_ID, value);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach {url}; is `lamina rie` running there?"))?;
    let status = resp.status();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let function_error = header(h::FUNCTION_ERROR);
    let tail = header(h::LOG_RESULT)
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .map(|t| String::from_utf8_lossy(&t).into_owned());
    let error_type = header(h::ERROR_TYPE);
    if args.stream && status.is_success() {
        return print_stream(globals, resp).await;
    }
    let body = resp.bytes().await.context("the answer was cut off")?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["message"]
                    .as_str()
                    .or(v["Message"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        bail!(
            "{} ({status}): {message}",
            error_type.as_deref().unwrap_or("the invoke was refused")
        );
    }
    if let Some(t) = &tail {
        eprint!("{t}");
    }
    if globals.json {
        let payload = serde_json::from_slice::<serde_json::Value>(&body)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&body)));
        println!(
            "{}",
            json!({"statusCode": status.as_u16(), "functionError": function_error,
                   "payload": if body.is_empty() { serde_json::Value::Null } else { payload }})
        );
    } else if !body.is_empty() {
        let mut out = std::io::stdout().lock();
        out.write_all(&body)?;
        if !body.ends_with(b"\n") {
            out.write_all(b"\n")?;
        }
    } else {
        eprintln!("{status}: {kind} invoke accepted");
    }
    Ok(function_error.is_none())
}

/// Print a response stream's chunks as they arrive; the end's error (and log tail) on stderr.
async fn print_stream(globals: &Globals, mut resp: reqwest::Response) -> Result<bool> {
    let mut decoder = Decoder::new();
    let mut out = std::io::stdout().lock();
    let mut complete = None;
    while let Some(bytes) = resp
        .chunk()
        .await
        .context("the response stream was cut off")?
    {
        for event in decoder
            .push(&bytes)
            .context("the endpoint's answer is not an AWS event stream")?
        {
            match event {
                Event::PayloadChunk(chunk) if globals.json => {
                    writeln!(out, "{}", json!({"chunk": String::from_utf8_lossy(&chunk)}))?;
                }
                Event::PayloadChunk(chunk) => out.write_all(&chunk)?,
                Event::InvokeComplete(c) => complete = Some(c),
            }
            out.flush()?;
        }
    }
    let Some(done) = complete else {
        bail!("the response stream ended without InvokeComplete (cut off by the endpoint)");
    };
    if let Some(t) = done
        .log_result
        .as_deref()
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
    {
        eprint!("{}", String::from_utf8_lossy(&t));
    }
    if globals.json {
        writeln!(out, "{}", json!({"complete": done}))?;
    } else if let Some(code) = &done.error_code {
        eprintln!(
            "the function failed mid-stream: {code}: {}",
            done.error_details.as_deref().unwrap_or_default()
        );
    }
    Ok(done.error_code.is_none())
}
