//! The fuzz target of the webhook parsers, bounded so `make test` runs it:
//! arbitrary bytes, headers and patterns never panic the provider detection,
//! the signature check, the three push parsers or the rules.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Headers, Provider, envelope, push, rules, verify};

/// Push-shaped JSON with arbitrary values in the fields the parsers read.
fn push_like() -> impl Strategy<Value = Vec<u8>> {
    let text = prop_oneof![
        ".{0,40}",
        Just("0".repeat(40)),
        Just("refs/heads/main".to_owned())
    ];
    let value = prop_oneof![
        text.clone().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        Just(json!([])),
        Just(json!({})),
    ];
    (
        text.clone(),
        value.clone(),
        value.clone(),
        prop::collection::vec(value.clone(), 0..4),
        value,
    )
        .prop_map(|(git_ref, after, pusher, commits, head)| {
            serde_json::to_vec(&json!({
                "ref": git_ref, "after": after, "before": "x", "pusher": pusher,
                "user_username": pusher, "commits": commits, "head_commit": head,
                "project": {"web_url": git_ref}, "checkout_sha": after,
            }))
            .unwrap_or_default()
        })
}

fn every_provider(body: &[u8]) {
    for provider in [Provider::GitHub, Provider::GitLab, Provider::Gitea] {
        if let Ok(push) = push::parse(provider, body) {
            let _ = push.is_deletion();
            let _ = push.head_commit();
            let values = rules::TemplateValues::of(&push);
            let _ = rules::image_for("registry.example/x:{branch}-{short_sha}-{tag}", &values);
            let _ = rules::touches(&push, &["web/".to_owned()]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(body in prop::collection::vec(any::<u8>(), 0..600)) {
        every_provider(&body);
    }

    #[test]
    fn push_shaped_json_never_panics_the_parsers(body in push_like()) {
        every_provider(&body);
    }

    #[test]
    fn arbitrary_headers_never_panic_detection_or_verification(
        event in proptest::option::of(".{0,20}"),
        signature in proptest::option::of(".{0,80}"),
        token in proptest::option::of(".{0,40}"),
        which in 0u8..3,
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut headers = Headers::default();
        match which {
            0 => { headers.github_event = event; headers.github_signature = signature; }
            1 => { headers.gitea_event = event; headers.gitea_signature = signature; }
            _ => { headers.gitlab_event = event; headers.gitlab_token = token; }
        }
        if let Some(envelope) = envelope(&headers, &body) {
            let _ = envelope.kind();
            prop_assert!(!verify(envelope.provider, &headers, b"whsec_the_real_secret", &body)
                || headers.gitlab_token.as_deref() == Some("whsec_the_real_secret"));
        }
    }

    #[test]
    fn arbitrary_patterns_and_templates_never_panic(
        pattern in "[a-z/*?]{0,40}",
        git_ref in "[a-z/]{0,60}",
        template in ".{0,60}",
    ) {
        let _ = rules::ref_matches(&pattern, &git_ref);
        let _ = rules::check_pattern(&pattern);
        let _ = rules::check_template(&template);
    }
}
