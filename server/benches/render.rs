//! `make bench`: renders per second of the Django example, beside baselines
//! measured in the same run on the same machine. Prints a table; never
//! asserts on time, since CI machines vary.
//!
//! Each row runs a warm-up, then repeats its operation until about a second
//! has passed or an iteration cap is reached, whichever comes first.

use std::hint::black_box;
use std::time::{Duration, Instant};

use slipway::render::{self, RenderContext};
use slipway::spec;

/// Time spent measuring each row.
const BUDGET: Duration = Duration::from_secs(1);
/// Upper bound on iterations per row, so a fast row cannot run away.
const MAX_ITERATIONS: u64 = 1_000_000;
const WARM_UP: u64 = 50;

struct Row {
    name: &'static str,
    iterations: u64,
    elapsed: Duration,
}

fn measure(name: &'static str, mut op: impl FnMut()) -> Row {
    for _ in 0..WARM_UP {
        op();
    }
    let start = Instant::now();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS && start.elapsed() < BUDGET {
        op();
        iterations += 1;
    }
    Row {
        name,
        iterations,
        elapsed: start.elapsed(),
    }
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/django.yaml");
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => {
            eprintln!("bench render: cannot read {path}: {error}");
            std::process::exit(2);
        }
    };
    let spec = match spec::parse(&text) {
        Ok(spec) => spec,
        Err(errors) => {
            eprintln!("bench render: the Django example is invalid: {errors:?}");
            std::process::exit(2);
        }
    };
    let ctx = RenderContext {
        revision: Some(42),
        deploy_id: Some("bench".into()),
        ..RenderContext::for_cli(
            &spec,
            "production",
            Some("registry.example.com/shop/web:1.4.2".into()),
        )
    };
    let manifests = match render::render(&spec, &ctx) {
        Ok(manifests) => manifests,
        Err(error) => {
            eprintln!("bench render: {error}");
            std::process::exit(2);
        }
    };

    let rows = [
        measure("baseline: serde_json of the rendered objects", || {
            black_box(
                serde_json::to_vec(&manifests.objects())
                    .map(|v| v.len())
                    .unwrap_or_default(),
            );
        }),
        measure("parse + validate spec (YAML)", || {
            black_box(spec::parse(black_box(&text)).is_ok());
        }),
        measure("validate spec", || {
            black_box(spec::validate(black_box(&spec)).len());
        }),
        measure("render (typed objects)", || {
            black_box(
                render::render(black_box(&spec), &ctx)
                    .map(|m| m.len())
                    .unwrap_or_default(),
            );
        }),
        measure("render + multi-document YAML", || {
            black_box(
                render::render(black_box(&spec), &ctx)
                    .map(|m| m.to_yaml().len())
                    .unwrap_or_default(),
            );
        }),
        measure("production checklist", || {
            black_box(render::checklist::check(black_box(&spec), &ctx).score);
        }),
    ];

    println!(
        "Django example ({} objects, {} bytes of YAML), one thread",
        manifests.len(),
        manifests.to_yaml().len()
    );
    println!(
        "{:<46} {:>10} {:>12} {:>10}",
        "operation", "iterations", "per second", "µs each"
    );
    for row in &rows {
        let seconds = row.elapsed.as_secs_f64().max(f64::EPSILON);
        let per_second = row.iterations as f64 / seconds;
        let micros = seconds * 1e6 / row.iterations.max(1) as f64;
        println!(
            "{:<46} {:>10} {:>12.0} {:>10.1}",
            row.name, row.iterations, per_second, micros
        );
    }
}
