//! Property tests: arbitrary input never panics the parser, the validator,
//! the renderer or the checklist, and every spec that parses also renders.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::{RenderContext, checklist, render};
use crate::spec::{self, DEFAULT_ENVIRONMENTS, ServiceSpec};

/// Arbitrary JSON: scalars of every kind, nested lists and mappings, with keys
/// drawn partly from real field names so the walk gets deep.
fn any_json() -> impl Strategy<Value = Value> {
    let keys = prop_oneof![
        Just("apiVersion".to_owned()),
        Just("kind".to_owned()),
        Just("metadata".to_owned()),
        Just("spec".to_owned()),
        Just("name".to_owned()),
        Just("image".to_owned()),
        Just("ports".to_owned()),
        Just("env".to_owned()),
        Just("secret".to_owned()),
        "[a-zA-Z]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u16>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from("slipway.dev/v1")),
        Just(Value::from("Service")),
        Just(Value::from("web")),
        Just(Value::from("cron")),
        Just(Value::from("250m")),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// The examples as JSON values, to mutate (read once per test binary).
fn example_values() -> &'static [Value] {
    static EXAMPLES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    EXAMPLES.get_or_init(read_examples)
}

fn read_examples() -> Vec<Value> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("examples folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let spec =
                spec::parse(&std::fs::read_to_string(p).expect("readable")).expect("valid example");
            serde_json::to_value(spec).expect("serialises")
        })
        .collect()
}

/// Walk `value` by `choices` and replace (or, for mapping members, sometimes
/// remove) what is found there with `replacement`.
fn mutate(value: &mut Value, choices: &[usize], replacement: Value, remove: bool) {
    let Some((&choice, rest)) = choices.split_first() else {
        *value = replacement;
        return;
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map
                .keys()
                .nth(choice % map.len())
                .cloned()
                .unwrap_or_default();
            if rest.is_empty() && remove {
                map.remove(&key);
            } else if let Some(next) = map.get_mut(&key) {
                mutate(next, rest, replacement, remove);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            mutate(&mut items[choice % len], rest, replacement, remove);
        }
        other => *other = replacement,
    }
}

/// Everything downstream of a parsed spec, which must never panic, and must
/// render in every default environment because it passed validation.
fn exercise(spec: &ServiceSpec) {
    for environment in DEFAULT_ENVIRONMENTS {
        let ctx = RenderContext::for_cli(spec, environment, None);
        let manifests = render(spec, &ctx);
        assert!(
            manifests.is_ok(),
            "a valid spec failed to render in {environment}: {manifests:?}\n{}",
            spec.to_yaml()
        );
        let _ = manifests.map(|m| m.to_yaml());
        let _ = checklist::check(spec, &ctx, checklist::Rules::Production);
        let _ = spec::secret_refs(spec, environment);
    }
    assert_eq!(
        spec::parse(&spec.to_yaml()).as_ref().ok(),
        Some(spec),
        "canonical YAML must read back"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_the_parser(text in "(?s).{0,400}") {
        if let Ok(spec) = spec::parse(&text) {
            exercise(&spec);
        }
    }

    #[test]
    fn arbitrary_json_never_panics_the_parser(value in any_json()) {
        if let Ok(spec) = spec::from_json_value(value) {
            exercise(&spec);
        }
    }

    #[test]
    fn a_mutated_example_is_either_rejected_or_renders(
        which in 0usize..8,
        choices in prop::collection::vec(any::<usize>(), 1..7),
        replacement in any_json(),
        remove in any::<bool>(),
    ) {
        let examples = example_values();
        let mut value = examples[which % examples.len()].clone();
        mutate(&mut value, &choices, replacement, remove);
        if let Ok(spec) = spec::from_json_value(value.clone()) {
            exercise(&spec);
        }
        // A spec built in code skips parse: render must refuse bad ones, not panic.
        if let Ok(unchecked) = serde_json::from_value::<ServiceSpec>(value) {
            let _ = spec::validate(&unchecked);
            for environment in ["production", "qa", "Bad Env"] {
                let _ = render(&unchecked, &RenderContext::new(environment, "ns", "team"));
                let _ = checklist::check(
                    &unchecked,
                    &RenderContext::new(environment, "ns", "team"),
                    checklist::Rules::Production,
                );
            }
        }
    }

    #[test]
    fn mangled_example_text_never_panics_the_parser(
        which in 0usize..8,
        cuts in prop::collection::vec((any::<usize>(), ".{0,3}"), 1..5),
    ) {
        let examples = example_values();
        let mut text = crate::spec::ServiceSpec::to_yaml(
            &serde_json::from_value(examples[which % examples.len()].clone()).expect("example reads"),
        );
        for (at, insert) in cuts {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            text.insert_str(at, &insert);
        }
        if let Ok(spec) = spec::parse(&text) {
            exercise(&spec);
        }
    }
}
