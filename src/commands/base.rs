//! `lamina base`: list the bases, refresh a lock file, or unpack a base into the cache.

use anyhow::{Context, Result};
use lamina_build::debian;
use lamina_build::pipeline::{bases, Runtime};
use serde_json::json;

use super::Globals;
use crate::cli::BaseCommand;

/// `lamina base …`.
pub fn run(globals: &Globals, cmd: &BaseCommand) -> Result<()> {
    match cmd {
        BaseCommand::List => {
            let names: Vec<&str> = Runtime::ALL.iter().map(|r| r.name()).collect();
            if globals.json {
                println!("{}", json!({ "bases": names }));
            } else {
                for name in names {
                    println!("{name}");
                }
            }
        }
        BaseCommand::Lock { name, dir } => {
            let recipe_dir = dir.join(name);
            let recipe = debian::load_recipe(&recipe_dir)
                .with_context(|| format!("cannot read the recipe in {}", recipe_dir.display()))?;
            let lock = debian::lock(&recipe, &globals.cache)?;
            let path = recipe_dir.join("lamina.lock");
            debian::write_lock(&lock, &path)?;
            println!("wrote {}", path.display());
        }
        BaseCommand::Build { name, arch } => {
            let runtime: Runtime = name.parse()?;
            let arch: lamina_build::pipeline::Arch = arch.parse()?;
            let (recipe_text, lock_text) = bases::embedded(runtime);
            let recipe = debian::parse_recipe(recipe_text)?;
            let lock = debian::parse_lock(lock_text)?;
            let info = debian::ensure_rootfs(
                &recipe,
                &lock,
                arch.name(),
                &globals.cache,
                &Default::default(),
            )?;
            if globals.json {
                println!("{}", json!({ "base": name, "rootfs": info.path }));
            } else {
                println!(
                    "{name} ({}) unpacked in {}",
                    arch.name(),
                    info.path.display()
                );
            }
        }
    }
    Ok(())
}
