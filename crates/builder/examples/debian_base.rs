//! Locks and builds the Debian-based recipes in `base-images/` until `lamina base` does.
//!
//! ```text
//! cargo run -p lamina-build --example debian_base -- lock python3.13 provided
//! cargo run -p lamina-build --example debian_base -- rootfs python3.13 amd64
//! ```
//! The cache is `$LAMINA_CACHE`, else `~/.cache/lamina`.

use std::path::PathBuf;
use std::process::ExitCode;

use lamina_build::debian;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    let base_images = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../base-images");
    let cache = match std::env::var_os("LAMINA_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").ok_or("HOME is not set")?).join(".cache/lamina")
        }
    };
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["lock", names @ ..] if !names.is_empty() => {
            for name in names {
                let dir = base_images.join(name);
                let recipe = debian::load_recipe(&dir)?;
                let lock = debian::lock(&recipe, &cache)?;
                debian::write_lock(&lock, &dir.join("lamina.lock"))?;
                for (arch, pins) in &lock.arches {
                    let bytes: u64 = pins.packages.iter().map(|p| p.size).sum();
                    println!(
                        "{name} {arch}: {} packages, {bytes} bytes of .deb",
                        pins.packages.len()
                    );
                }
            }
            Ok(())
        }
        ["rootfs", name, arch] => {
            let dir = base_images.join(name);
            let recipe = debian::load_recipe(&dir)?;
            let lock = debian::load_lock(&dir)?;
            let info = debian::ensure_rootfs(
                &recipe,
                &lock,
                arch,
                &cache,
                &debian::UnpackOptions::default(),
            )?;
            println!("{}", info.path.display());
            eprintln!(
                "{} packages, {} bytes, id {}",
                info.packages, info.bytes, info.lock_hash
            );
            Ok(())
        }
        _ => Err("usage: debian_base lock NAME... | rootfs NAME ARCH".into()),
    }
}
