//! `make bench`: renders per second of the Django example, beside baselines
//! measured in the same run on the same machine. Prints a table; never
//! asserts on time, since CI machines vary.
//!
//! Each row runs a warm-up, then repeats its operation until about a second
//! has passed or an iteration cap is reached, whichever comes first. Besides
//! wall-clock rates it prints rates per second of this thread's CPU time (from
//! Linux's `/proc/thread-self/schedstat`), which stay meaningful when other
//! work shares the machine; the column is blank where that file is missing.

use std::hint::black_box;
use std::time::{Duration, Instant};

use slipway::render::{self, RenderContext};
use slipway::spec;

/// The server binary's allocator (see `src/main.rs`), so these figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Time spent measuring each row.
const BUDGET: Duration = Duration::from_secs(1);
/// Upper bound on iterations per row, so a fast row cannot run away.
const MAX_ITERATIONS: u64 = 1_000_000;
const WARM_UP: u64 = 50;

struct Row {
    name: &'static str,
    iterations: u64,
    elapsed: Duration,
    cpu: Option<Duration>,
}

/// CPU time this thread has run, if the kernel reports it.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn measure(name: &'static str, mut op: impl FnMut()) -> Row {
    for _ in 0..WARM_UP {
        op();
    }
    let cpu_start = thread_cpu_time();
    let start = Instant::now();
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS && start.elapsed() < BUDGET {
        op();
        iterations += 1;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_start
        .zip(thread_cpu_time())
        .map(|(a, b)| b.saturating_sub(a));
    Row {
        name,
        iterations,
        elapsed,
        cpu,
    }
}

/// [`measure`] when `name` matches one of `filter`'s words, or `filter` is empty.
fn measure_if(filter: &[String], name: &'static str, op: impl FnMut()) -> Option<Row> {
    let selected = filter.is_empty() || filter.iter().any(|word| name.contains(word.as_str()));
    selected.then(|| measure(name, op))
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

    // `cargo bench --bench render -- <word>` measures only rows whose name
    // contains the word (handy under a profiler); cargo itself passes `--bench`.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let rows = [
        measure_if(
            &filter,
            "baseline: serde_json of the rendered objects",
            || {
                black_box(
                    serde_json::to_vec(&manifests.objects())
                        .map(|v| v.len())
                        .unwrap_or_default(),
                );
            },
        ),
        measure_if(&filter, "parse + validate spec (YAML)", || {
            black_box(spec::parse(black_box(&text)).is_ok());
        }),
        measure_if(&filter, "validate spec", || {
            black_box(spec::validate(black_box(&spec)).len());
        }),
        measure_if(&filter, "render (typed objects)", || {
            black_box(
                render::render(black_box(&spec), &ctx)
                    .map(|m| m.len())
                    .unwrap_or_default(),
            );
        }),
        measure_if(&filter, "render + multi-document YAML", || {
            black_box(
                render::render(black_box(&spec), &ctx)
                    .map(|m| m.to_yaml().len())
                    .unwrap_or_default(),
            );
        }),
        measure_if(&filter, "production checklist", || {
            black_box(
                render::checklist::check(
                    black_box(&spec),
                    &ctx,
                    render::checklist::Rules::Production,
                )
                .score,
            );
        }),
    ];

    println!(
        "Django example ({} objects, {} bytes of YAML), one thread",
        manifests.len(),
        manifests.to_yaml().len()
    );
    println!(
        "{:<46} {:>10} {:>12} {:>10} {:>14}",
        "operation", "iterations", "per second", "µs each", "per CPU second"
    );
    for row in rows.iter().flatten() {
        let seconds = row.elapsed.as_secs_f64().max(f64::EPSILON);
        let per_second = row.iterations as f64 / seconds;
        let micros = seconds * 1e6 / row.iterations.max(1) as f64;
        let per_cpu_second = row
            .cpu
            .map(|cpu| {
                format!(
                    "{:.0}",
                    row.iterations as f64 / cpu.as_secs_f64().max(f64::EPSILON)
                )
            })
            .unwrap_or_default();
        println!(
            "{:<46} {:>10} {:>12.0} {:>10.1} {:>14}",
            row.name, row.iterations, per_second, micros, per_cpu_second
        );
    }
}
