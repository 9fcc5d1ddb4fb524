//! How lamina talks to its user: a spinner on a terminal, silence when piped, JSON on `--json`;
//! and sizes for people, both ways (printed, and read from a flag such as `--keep-storage`).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Progress for one long piece of work.
pub struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
}

impl Progress {
    /// A spinner when stderr is a terminal and JSON was not asked for; otherwise nothing.
    pub fn new(json: bool, what: &str) -> Self {
        if json || !std::io::stderr().is_terminal() {
            return Self { bar: None, json };
        }
        let bar = ProgressBar::new_spinner();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {prefix}: {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_prefix(what.to_owned());
        bar.enable_steady_tick(Duration::from_millis(100));
        Self {
            bar: Some(bar),
            json,
        }
    }

    /// Say what is happening now.
    pub fn stage(&self, msg: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg.to_owned());
        }
        tracing::debug!("{msg}");
    }

    /// Say how far a layer is: `function code: 12.3 MB of 40.1 MB`.
    pub fn bytes(&self, layer: &str, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{layer}: {} of {}",
                human_size(done),
                human_size(total)
            ));
        }
    }

    /// Pass a tool's own output (an installer's) to the user: on stderr, above the spinner;
    /// nothing with `--json`, where it would mix with the machine's output.
    pub fn output(&self, bytes: &[u8]) {
        use std::io::Write;
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                let _ = std::io::stderr().write_all(bytes);
            }),
            None if !self.json => {
                let _ = std::io::stderr().write_all(bytes);
            }
            None => {}
        }
    }

    /// Remove the spinner.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Short form of a digest for people: `sha256:0123456789ab`.
pub fn short(digest: &str) -> &str {
    let end = digest
        .find(':')
        .map(|i| i + 13)
        .unwrap_or(12)
        .min(digest.len());
    &digest[..end]
}

/// A size for `--keep-storage`: bytes, or with a unit (`500MB`, `10g`, `1GiB`; as Docker's,
/// every unit is a power of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size: write bytes, or e.g. 500MB or 10GB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "`{other}` in `{text}` is not a unit: use B, KB, MB, GB or TB"
            ))
        }
    };
    Ok((value * scale as f64) as u64)
}

/// Sizes for people: `12.3 MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_dockers_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("2KB"), Ok(2048));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5 parsecs").unwrap_err().contains("parsecs"));
    }
}
