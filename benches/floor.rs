//! The parse floor: read and parse each file once, as the plan's inputs, with the parsers
//! promote builds on and nothing of promote's own (no inventory, no tree, no strings kept).
//!
//! The bench runs it as a whole process, like `promote plan`:
//! `bench --floor KIND PATH...` with KIND `yaml` (saphyr-parser events), `hcl` (hcl-edit body
//! parse) or `dotenv` (lines split at `=`); a PATH that is a folder stands for every
//! `*/helmrelease.yaml` below it (listed once, as a plan lists an environment's apps).

use std::path::{Path, PathBuf};

use saphyr_parser::{Event, Parser};

/// Every file `paths` names: files as they are, folders as their `*/helmrelease.yaml`.
fn files(paths: &[String]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let p = Path::new(p);
        if p.is_dir() {
            for app in std::fs::read_dir(p).expect("read_dir") {
                let file = app.expect("entry").path().join("helmrelease.yaml");
                if file.is_file() {
                    out.push(file);
                }
            }
        } else {
            out.push(p.to_path_buf());
        }
    }
    out
}

/// Parse `text` once; returns a count so the work cannot be optimised away.
fn parse(kind: &str, text: &str) -> usize {
    match kind {
        "yaml" => {
            let mut scalars = 0;
            for next in Parser::new_from_str(text) {
                let (event, _) = next.expect("valid YAML");
                scalars += usize::from(matches!(event, Event::Scalar(..)));
            }
            scalars
        }
        "hcl" => {
            let body = hcl_edit::parser::parse_body(text).expect("valid HCL");
            body.len()
        }
        "dotenv" => text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .count(),
        other => panic!("unknown floor kind `{other}`"),
    }
}

/// `--floor KIND PATH...`: parse every file once and print how many items were seen.
pub fn run(args: &[String]) {
    let (kind, paths) = args.split_first().expect("--floor KIND PATH...");
    let mut seen = 0;
    for file in files(paths) {
        let bytes = std::fs::read(&file).expect("read");
        seen += parse(kind, std::str::from_utf8(&bytes).expect("utf-8"));
    }
    println!("{seen}");
}
