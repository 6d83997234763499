//! Cost of one gate decision as the policy grows with unrelated statements.
//!
//!     cargo bench -p tollgate-policy --bench gate
//!
//! Prints the time of the three requests a `cat` makes (open on the directory, open and read
//! on the file): for the same file (answered from the run's memory after the first time) and
//! for files never asked about before (each decided by Cedar). Then the same new-file checks
//! with a 10,000-glob labels file that labels the files, against none, side by side.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use tollgate_policy::{AbsPath, Action, Gate, LabelRules, Policies, Recorder, Resource, Schema};

fn gate(unrelated: usize) -> Gate {
    let mut text = String::from(
        "permit(principal, action in [file_system::Action::\"open\", file_system::Action::\"read\"], resource in file_system::Dir::\"/data\");\n",
    );
    for i in 0..unrelated {
        text.push_str(&format!(
            "permit(principal, action == file_system::Action::\"read\", resource in file_system::Dir::\"/srv/unrelated/d{i}\");\n"
        ));
    }
    let schema = Schema::tollgate().expect("schema");
    let policies = Policies::parse("bench.cedar", &text, &schema).expect("policy");
    // Unaudited and never frozen: the cost measured is the decision's, not the record's.
    Gate::new(
        schema,
        policies,
        "bench",
        Recorder::Unaudited,
        Arc::default(),
    )
}

/// A labels file of 10,000 globs: one labels /data, and of the others one in ten has
/// wildcards.
fn labels_file() -> String {
    let mut rules = vec![
        serde_json::json!({"paths": ["/data"], "classification": "confidential", "categories": ["pii"]}),
    ];
    for i in 1..10_000 {
        let path = if i % 10 == 0 {
            format!("/srv/tenants/t{i}/**/*.key")
        } else {
            format!("/srv/tenants/t{i}/data")
        };
        rules.push(serde_json::json!({"paths": [path], "classification": "internal"}));
    }
    serde_json::json!({ "rules": rules }).to_string()
}

/// Seconds per cat's checks on `files`, each new to the gate.
fn per_cat(g: &Gate, dir: &Resource, files: &[Resource]) -> f64 {
    let start = Instant::now();
    for file in files {
        black_box(g.authorize(&[Action::FsOpen], dir).is_ok());
        black_box(g.authorize(&[Action::FsOpen, Action::FsRead], file).is_ok());
    }
    start.elapsed().as_secs_f64() / files.len() as f64
}

fn main() {
    let dir = Resource::Dir(AbsPath::parse("/data").expect("path"));
    let n = 30_000;
    let files: Vec<Resource> = (0..n)
        .map(|i| Resource::File(AbsPath::parse(&format!("/data/f{i}.txt")).expect("path")))
        .collect();
    println!("| statements | same file | a new file each time |");
    println!("|---|---|---|");
    for unrelated in [0, 100, 1000] {
        let g = gate(unrelated);
        let mut results = Vec::new();
        for distinct in [false, true] {
            let start = Instant::now();
            for i in 0..n {
                let file = &files[if distinct { i } else { 0 }];
                black_box(g.authorize(&[Action::FsOpen], &dir).is_ok());
                black_box(g.authorize(&[Action::FsOpen, Action::FsRead], file).is_ok());
            }
            results.push(start.elapsed().as_secs_f64() / n as f64 * 1e6);
        }
        println!(
            "| {} | {:.2} µs per cat's checks | {:.2} µs per cat's checks |",
            unrelated + 1,
            results[0],
            results[1]
        );
    }
    let text = labels_file();
    let load = Instant::now();
    let rules = Arc::new(LabelRules::parse(&text).expect("labels"));
    let loaded = load.elapsed();
    println!();
    println!(
        "10,000-glob labels file parsed and indexed in {:.1} ms",
        loaded.as_secs_f64() * 1e3
    );
    println!("| round | no labels | 10,000-glob labels | ratio |");
    println!("|---|---|---|---|");
    for round in 0..3 {
        // Fresh gates each round, so every file is a new question to both.
        let plain = gate(0);
        let labelled = gate(0).with_labels(rules.clone());
        let a = per_cat(&plain, &dir, &files);
        let b = per_cat(&labelled, &dir, &files);
        println!(
            "| {} | {:.2} µs | {:.2} µs | {:.2}× |",
            round + 1,
            a * 1e6,
            b * 1e6,
            b / a
        );
    }
}
