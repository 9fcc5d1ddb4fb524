//! Time `write_layer` on a host directory: `cargo run --release -p lamina-image --example layer_bench -- DIR`.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: layer_bench DIR")?;
    let store_dir = tempfile::tempdir()?;
    let store = lamina_image::Store::open(store_dir.path())?;
    let mut plan = lamina_image::LayerPlan::new();
    plan.add_tree(std::path::Path::new(&dir), "var/task", &|_, _| false)?;
    let start = Instant::now();
    let (desc, _) =
        lamina_image::write_layer(&store, &plan, &lamina_image::LayerSettings::default())?;
    let secs = start.elapsed().as_secs_f64();
    let mib = desc.uncompressed_size as f64 / (1 << 20) as f64;
    println!(
        "{mib:.0} MiB -> {} bytes in {secs:.2}s = {:.0} MiB/s",
        desc.size,
        mib / secs
    );
    let start = Instant::now();
    let (_, hit) =
        lamina_image::write_layer(&store, &plan, &lamina_image::LayerSettings::default())?;
    println!(
        "cache lookup (hit={hit}) {:.2}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
