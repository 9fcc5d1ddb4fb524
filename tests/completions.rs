//! `lamina completions SHELL`: a script each shell loads. The bash one is sourced in a real
//! bash and asked, as Tab would ask it, what follows `lamina ` and `lamina rie --`.

mod common;

use std::process::Command;

use common::*;

/// What bash's completion offers for the words `line` (the last one being completed).
fn complete(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words = line
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let probe = format!(
        "source '{}'\nCOMP_WORDS=({words})\nCOMP_CWORD={}\nCOMP_LINE='{}'\nCOMP_POINT=${{#COMP_LINE}}\n_lamina lamina '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        line.len() - 1,
        line.join(" "),
        line[line.len() - 1],
        line[line.len().saturating_sub(2)],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &probe])
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "bash could not load the script: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_bash_script_loads_and_completes_commands_and_flags() {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("lamina.bash");
    let text = run_ok(lamina().args(["completions", "bash"]));
    std::fs::write(&script, &text).expect("script");
    let commands = complete(&script, &["lamina", ""]);
    for c in ["build", "rie", "invoke", "push", "completions"] {
        assert!(commands.iter().any(|w| w == c), "no `{c}` in {commands:?}");
    }
    let flags = complete(&script, &["lamina", "rie", "--max-"]);
    assert!(flags.iter().any(|w| w == "--max-concurrency"), "{flags:?}");
    // The other shells' scripts are generated too.
    for shell in ["zsh", "fish", "powershell"] {
        let text = run_ok(lamina().args(["completions", shell]));
        assert!(text.contains("lamina"), "{shell}: {text}");
    }
    let bad = run(lamina().args(["completions", "tcsh"]));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("possible values"));
}
