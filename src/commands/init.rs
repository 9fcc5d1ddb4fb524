//! `lamina init`: a working function folder from a template that ships inside the binary
//! (`templates/`): the handler, a `lamina.toml`, a test event and a `.gitignore`. It never
//! overwrites: when any file it would write exists, it writes none and names them.

use std::path::Path;

use anyhow::{bail, Context, Result};
use lamina_runtime_api::function::{FunctionName, Runtime};
use serde_json::json;

use super::Globals;
use crate::cli::{InitArgs, Template};

/// One file a template writes: its path in the folder, its text, and whether it runs.
struct File {
    path: &'static str,
    text: String,
    executable: bool,
}

/// The handler file of `template` for `runtime`, with its handler string; `None` where the
/// runtime has no such template (and why).
fn handler_of(runtime: Runtime, template: Template) -> Result<(File, &'static str)> {
    let file = |path, text: &str, executable| File {
        path,
        text: text.to_owned(),
        executable,
    };
    Ok(match (runtime, template) {
        (Runtime::Python313 | Runtime::Python314, Template::Hello) => (
            file("app.py", include_str!("../../templates/python/hello/app.py"), false),
            "app.handler",
        ),
        (Runtime::Python313 | Runtime::Python314, Template::Api) => (
            file("app.py", include_str!("../../templates/python/api/app.py"), false),
            "app.handler",
        ),
        (Runtime::Python313 | Runtime::Python314, Template::Extension) => (
            file("app.py", include_str!("../../templates/python/extension/app.py"), false),
            "app.handler",
        ),
        (Runtime::Nodejs24, Template::Extension) => (
            file("index.mjs", include_str!("../../templates/node/extension/index.mjs"), false),
            "index.handler",
        ),
        (Runtime::Provided, Template::Extension) => bail!(
            "the extension template writes its extension in the runtime's language, and the provided base has no interpreter: use --runtime python3.13 or nodejs24 (on provided, ship an extension as a static binary, e.g. built with the lambda-extension crate, in a layer)"
        ),
        (Runtime::Python313 | Runtime::Python314, Template::Stream) => bail!(
            "the stream template needs a runtime that streams responses: AWS's Python runtime does not; use --runtime nodejs24, or provided (a plain executable)"
        ),
        (Runtime::Nodejs24, Template::Hello) => (
            file("index.mjs", include_str!("../../templates/node/hello/index.mjs"), false),
            "index.handler",
        ),
        (Runtime::Nodejs24, Template::Api) => (
            file("index.mjs", include_str!("../../templates/node/api/index.mjs"), false),
            "index.handler",
        ),
        (Runtime::Nodejs24, Template::Stream) => (
            file("index.mjs", include_str!("../../templates/node/stream/index.mjs"), false),
            "index.handler",
        ),
        (Runtime::Provided, Template::Hello) => (
            file("handler.sh", include_str!("../../templates/provided/hello/handler.sh"), true),
            "handler.sh",
        ),
        (Runtime::Provided, Template::Api) => (
            file("handler.sh", include_str!("../../templates/provided/api/handler.sh"), true),
            "handler.sh",
        ),
        (Runtime::Provided, Template::Stream) => (
            file("handler.sh", include_str!("../../templates/provided/stream/handler.sh"), true),
            "handler.sh",
        ),
    })
}

/// Every file of the folder `lamina init` writes.
fn files(name: &FunctionName, runtime: Runtime, template: Template) -> Result<Vec<File>> {
    let (handler, handler_name) = handler_of(runtime, template)?;
    let mut toml = format!(
        "# Made by `lamina init --runtime {runtime} --template {template}`; every key is described in\n# lamina's README (lamina.toml).\nname = \"{name}\"\nruntime = \"{runtime}\"\nhandler = \"{handler_name}\"\nmemory = 128\ntimeout = {timeout}\n",
        runtime = runtime.name(),
        template = template.name(),
        timeout = if template == Template::Stream { 30 } else { 3 },
    );
    match template {
        Template::Hello => {}
        Template::Extension => toml.push_str(
            "# The folder `layer` is a Lambda layer: its files land in /opt, extensions/ among them.\nlayers = [\"layer\"]\n",
        ),
        Template::Api => toml.push_str("\n[http]\npayload = \"apigw-http\"\n"),
        Template::Stream if runtime == Runtime::Provided => toml.push_str(
            "\n[env]\nLAMINA_RESPONSE_MODE = \"streaming\"\nLAMINA_RESPONSE_CONTENT_TYPE = \"text/plain\"\n",
        ),
        Template::Stream => {
            toml.push_str("\n[http]\npayload = \"function-url\"\ninvoke_mode = \"RESPONSE_STREAM\"\n")
        }
    }
    let event = match template {
        Template::Hello | Template::Extension => include_str!("../../templates/common/event.json"),
        Template::Api => include_str!("../../templates/common/apigw-http-event.json"),
        Template::Stream => include_str!("../../templates/common/stream-event.json"),
    };
    let ignore = match runtime {
        Runtime::Python313 | Runtime::Python314 => "__pycache__/\n*.pyc\n.venv/\nbuild/\n",
        Runtime::Nodejs24 => "build/\n",
        Runtime::Provided => "build/\n",
    };
    let text = |path, text: &str| File {
        path,
        text: text.to_owned(),
        executable: false,
    };
    let mut files = vec![
        handler,
        text("lamina.toml", &toml),
        text("events/event.json", event),
        text(".gitignore", ignore),
    ];
    if template == Template::Extension {
        let script = match runtime {
            Runtime::Nodejs24 => {
                include_str!("../../templates/node/extension/layer/extensions/hello-extension")
            }
            _ => include_str!("../../templates/python/extension/layer/extensions/hello-extension"),
        };
        files.push(File {
            path: "layer/extensions/hello-extension",
            text: script.to_owned(),
            executable: true,
        });
    }
    Ok(files)
}

/// Write the folder, or say which files are in the way (writing none).
pub fn run(globals: &Globals, args: &InitArgs) -> Result<()> {
    let dir = &args.dir;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => folder_name(dir)?,
    };
    let files = files(&name, args.runtime, args.template)?;
    let taken: Vec<String> = files
        .iter()
        .filter(|f| dir.join(f.path).symlink_metadata().is_ok())
        .map(|f| dir.join(f.path).display().to_string())
        .collect();
    if !taken.is_empty() {
        bail!(
            "lamina init writes nothing over existing files, and these exist: {}; choose an empty folder (lamina init NEW-FOLDER) or move them",
            taken.join(", ")
        );
    }
    for f in &files {
        let path = dir.join(f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        // `create_new`: a file that appeared since the check is still never overwritten.
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        std::io::Write::write_all(&mut out, f.text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        if f.executable {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make {} executable", path.display()))?;
        }
    }
    let written: Vec<&str> = files.iter().map(|f| f.path).collect();
    if globals.json {
        println!(
            "{}",
            json!({"dir": dir, "name": name.as_str(), "runtime": args.runtime.name(),
                   "template": args.template.name(), "files": written})
        );
    } else {
        eprintln!(
            "wrote {} in {}: {}",
            args.template.name(),
            dir.display(),
            written.join(", ")
        );
        eprintln!(
            "next: lamina rie {} (then, in another terminal: lamina invoke{} --event {}/events/event.json)",
            dir.display(),
            if args.template == Template::Stream { " --stream" } else { "" },
            dir.display()
        );
    }
    Ok(())
}

/// The function name a folder gives (its last component, made a valid name).
fn folder_name(dir: &Path) -> Result<FunctionName> {
    let absolute = std::path::absolute(dir)
        .with_context(|| format!("cannot resolve the folder {}", dir.display()))?;
    let base = absolute
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "function".to_owned());
    Ok(FunctionName::sanitised(&base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_has_every_template_but_pythons_stream_and_provideds_extension() {
        let name: FunctionName = "f".parse().unwrap();
        for runtime in Runtime::ALL {
            for template in Template::ALL {
                let made = files(&name, runtime, template);
                let python = matches!(runtime, Runtime::Python313 | Runtime::Python314);
                let refused = (python && template == Template::Stream)
                    || (runtime == Runtime::Provided && template == Template::Extension);
                if refused {
                    let e = made.err().expect("refused").to_string();
                    assert!(e.contains("nodejs24"), "{e}");
                    continue;
                }
                let made = made.unwrap();
                let toml = &made[1].text;
                assert!(toml.contains(&format!("runtime = \"{}\"", runtime.name())));
                assert!(made.iter().any(|f| f.path == ".gitignore"));
            }
        }
    }
}
