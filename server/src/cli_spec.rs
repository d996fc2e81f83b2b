//! The spec subcommands (README, `docs/spec.md`): `slipway validate`, `render`,
//! `check` and `schema`. Each returns the process exit code; `main.rs` wires
//! them to clap. The `*_to` variants write to given streams, for tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::render::{self, RenderContext, checklist};
use crate::spec::{self, ServiceSpec};

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code when `check` finds a failing check.
pub const EXIT_CHECK_FAILED: i32 = 1;
/// Exit code for an invalid spec, an unreadable file or a bad argument.
pub const EXIT_INVALID: i32 = 2;

/// `slipway validate FILE…`: 0 when every file is valid, else 2 and one line
/// per problem, `FILE: field.path: message`, on stdout.
pub fn validate(files: &[PathBuf]) -> i32 {
    validate_to(files, &mut std::io::stdout().lock())
}

/// [`validate`] writing to `out`.
pub fn validate_to(files: &[PathBuf], out: &mut dyn Write) -> i32 {
    let mut code = EXIT_OK;
    if files.is_empty() {
        let _ = writeln!(out, "slipway validate: name at least one spec file");
        return EXIT_INVALID;
    }
    for file in files {
        if let Err(lines) = load(file) {
            code = EXIT_INVALID;
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    code
}

/// `slipway render FILE --env NAME [--image REF]`: the objects as
/// multi-document YAML on stdout; problems on stderr with exit 2.
///
/// The namespace is `{metadata.team or "default"}-{env}` and the team label
/// `metadata.team` (or `default`), so the output applies as it stands.
pub fn render(file: &Path, env: &str, image: Option<String>) -> i32 {
    render_to(
        file,
        env,
        image,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`render`] writing to `out` and `err`.
pub fn render_to(
    file: &Path,
    env: &str,
    image: Option<String>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let spec = match load(file) {
        Ok(spec) => spec,
        Err(lines) => return report(err, &lines),
    };
    let ctx = RenderContext::for_cli(&spec, env, image);
    match render::render(&spec, &ctx) {
        Ok(manifests) => {
            let _ = out.write_all(manifests.to_yaml().as_bytes());
            EXIT_OK
        }
        Err(error) => report(err, &[format!("{}: {error}", file.display())]),
    }
}

/// `slipway check FILE --env NAME`: one line per check, `PASS|WARN|FAIL id:
/// message`, then the score; exit 1 when any check fails, 2 for an invalid spec.
pub fn check(file: &Path, env: &str, rules: Option<checklist::Rules>) -> i32 {
    check_to(
        file,
        env,
        rules,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// The rules `slipway check` applies when `--rules` is not given. A spec file
/// has no environment registry to ask, so the CLI assumes production rules for
/// an environment named `production`, as the seeded one has; the portal reads
/// the environment's own `production_rules` setting instead.
pub fn default_rules(env: &str) -> checklist::Rules {
    checklist::Rules::production_if(env == "production")
}

/// [`check`] writing to `out` and `err`.
pub fn check_to(
    file: &Path,
    env: &str,
    rules: Option<checklist::Rules>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let spec = match load(file) {
        Ok(spec) => spec,
        Err(lines) => return report(err, &lines),
    };
    let ctx = RenderContext::for_cli(&spec, env, None);
    if let Err(error) = render::render(&spec, &ctx) {
        return report(err, &[format!("{}: {error}", file.display())]);
    }
    let result = checklist::check(&spec, &ctx, rules.unwrap_or_else(|| default_rules(env)));
    for item in &result.items {
        let _ = writeln!(out, "{} {}: {}", item.level, item.id, item.message);
    }
    let _ = writeln!(out, "score: {}/100", result.score);
    if result.has_failures() {
        EXIT_CHECK_FAILED
    } else {
        EXIT_OK
    }
}

/// `slipway schema`: the spec's JSON Schema, pretty-printed, on stdout.
pub fn schema() -> i32 {
    schema_to(&mut std::io::stdout().lock())
}

/// [`schema`] writing to `out`.
pub fn schema_to(out: &mut dyn Write) -> i32 {
    match serde_json::to_string_pretty(&spec::json_schema()) {
        Ok(text) => {
            let _ = writeln!(out, "{text}");
            EXIT_OK
        }
        Err(error) => {
            let _ = writeln!(out, "slipway schema: {error}");
            EXIT_INVALID
        }
    }
}

/// Read and validate one spec file; the error lines are `FILE: path: message`.
fn load(file: &Path) -> Result<ServiceSpec, Vec<String>> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| vec![format!("{}: cannot read: {e}", file.display())])?;
    spec::parse(&text).map_err(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {e}{}", file.display(), e.at()))
            .collect()
    })
}

fn report(err: &mut dyn Write, lines: &[String]) -> i32 {
    for line in lines {
        let _ = writeln!(err, "{line}");
    }
    EXIT_INVALID
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
    }

    fn run(f: impl FnOnce(&mut Vec<u8>, &mut Vec<u8>) -> i32) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = f(&mut out, &mut err);
        (
            code,
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
        )
    }

    #[test]
    fn validate_accepts_every_example() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(examples())
            .expect("examples folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 8);
        let (code, out, _) = run(|out, _| validate_to(&files, out));
        assert_eq!(code, EXIT_OK, "{out}");
        assert!(out.is_empty());
    }

    #[test]
    fn a_spec_with_five_mistakes_reports_all_five_with_file_and_path() {
        let dir = std::env::temp_dir().join(format!("slipway-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("broken.yaml");
        std::fs::write(
            &file,
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: Shop}\nspec:\n  image: 'web:'\n  replcas: 2\n  ports: [{name: http, port: 8000}]\n  env:\n    - {name: A, value: x}\n    - {name: A, value: y}\n  resources: {requests: {cpu: 2}, limits: {cpu: 1}}\n",
        )
        .expect("write spec");
        let (code, out, _) = run(|out, _| validate_to(std::slice::from_ref(&file), out));
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(code, EXIT_INVALID);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 5, "{out}");
        assert!(
            lines[2].ends_with(
                "broken.yaml: spec.replcas: unknown field; did you mean `replicas`? (line 6:3)"
            ),
            "{out}"
        );
        // In the order of the file, top to bottom.
        let at: Vec<usize> = lines
            .iter()
            .filter_map(|l| l.rsplit_once("(line ")?.1.split(':').next()?.parse().ok())
            .collect();
        assert_eq!(at, vec![3, 5, 6, 10, 11], "{out}");
        for path in [
            "metadata.name",
            "spec.image",
            "spec.env[1].name",
            "spec.resources.limits.cpu",
        ] {
            assert!(
                out.contains(&format!("broken.yaml: {path}: ")),
                "{path} missing from:\n{out}"
            );
        }
    }

    #[test]
    fn validate_reports_every_rule_violation_at_once() {
        let dir = std::env::temp_dir().join(format!("slipway-cli-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("broken.yaml");
        std::fs::write(
            &file,
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: Shop}\nspec:\n  image: 'web:'\n  ports: [{name: http, port: 8000}]\n  env:\n    - {name: A, value: x}\n    - {name: A, value: y}\n  cron: {schedule: '* * *'}\n  autoscaling: {minReplicas: 5, maxReplicas: 2, cpu: 70}\n",
        )
        .expect("write spec");
        let (code, out, _) = run(|out, _| validate_to(std::slice::from_ref(&file), out));
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(code, EXIT_INVALID);
        for path in [
            "metadata.name",
            "spec.image",
            "spec.env[1].name",
            "spec.cron",
            "spec.autoscaling.minReplicas",
            "spec.resources.requests.cpu",
        ] {
            assert!(
                out.contains(&format!("broken.yaml: {path}: ")),
                "{path} missing from:\n{out}"
            );
        }
    }

    #[test]
    fn render_prints_yaml_with_the_given_image() {
        let file = examples().join("django.yaml");
        let (code, out, err) = run(|out, err| {
            render_to(
                &file,
                "production",
                Some("registry.example.com/shop/web:1.4.2".into()),
                out,
                err,
            )
        });
        assert_eq!(code, EXIT_OK, "{err}");
        assert!(out.starts_with("---\napiVersion: v1\nkind: ServiceAccount\n"));
        assert!(out.contains("namespace: shop-production"));
        assert!(out.contains("image: registry.example.com/shop/web:1.4.2"));
    }

    #[test]
    fn render_rejects_a_bad_image_with_exit_two() {
        let file = examples().join("django.yaml");
        let (code, out, err) =
            run(|out, err| render_to(&file, "production", Some("Not An Image".into()), out, err));
        assert_eq!(code, EXIT_INVALID);
        assert!(out.is_empty());
        assert!(err.contains("image"), "{err}");
    }

    #[test]
    fn check_passes_the_django_example_in_production() {
        let file = examples().join("django.yaml");
        let (code, out, _) = run(|out, err| check_to(&file, "production", None, out, err));
        assert_eq!(code, EXIT_OK, "{out}");
        assert!(
            out.lines()
                .all(|l| l.starts_with("PASS ") || l.starts_with("score: ")),
            "{out}"
        );
        assert!(out.ends_with("score: 100/100\n"));
    }

    #[test]
    fn check_exits_one_when_a_check_fails() {
        let file = examples().join("django.yaml");
        let (code, out, _) = run(|out, err| check_to(&file, "development", None, out, err));
        assert_eq!(code, EXIT_CHECK_FAILED, "{out}");
        assert!(out.contains("FAIL disruption-budget: "));
    }

    #[test]
    fn schema_prints_the_json_schema() {
        let (code, out, _) = run(|out, _| schema_to(out));
        assert_eq!(code, EXIT_OK);
        let value: serde_json::Value = serde_json::from_str(&out).expect("schema is JSON");
        assert_eq!(value["title"], "Slipway Service");
    }
}
