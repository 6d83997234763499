//! Cost of one gate decision as the policy grows with unrelated statements.
//!
//!     cargo bench -p tollgate-policy --bench gate
//!
//! Prints the time of the three requests a `cat` makes (open on the directory, open and read
//! on the file): for the same file (answered from the run's memory after the first time) and
//! for files never asked about before (each decided by Cedar).

use std::hint::black_box;
use std::time::Instant;

use tollgate_policy::{AbsPath, Action, Gate, Policies, Resource, Schema};

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
    Gate::new(schema, policies, "bench")
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
}
