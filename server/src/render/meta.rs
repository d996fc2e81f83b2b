//! Labels, selectors and object metadata shared by every rendered object.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::{Input, RenderContext};
use crate::spec::Color;

/// `app.kubernetes.io/managed-by` value on everything Slipway renders; prune selects by it.
pub const MANAGED_BY: &str = "slipway";
/// Label naming the owning team.
pub const LABEL_TEAM: &str = "slipway.dev/team";
/// Label naming the environment.
pub const LABEL_ENVIRONMENT: &str = "slipway.dev/environment";
/// Label telling blue-green Deployments (and their pods) apart.
pub const LABEL_COLOR: &str = "slipway.dev/color";
/// Annotation recording the service revision.
pub const ANNOTATION_REVISION: &str = "slipway.dev/revision";
/// Annotation recording the deploy id.
pub const ANNOTATION_DEPLOY_ID: &str = "slipway.dev/deploy-id";

/// Labels that select this service's pods; stable for the life of a service
/// because Deployment selectors are immutable.
pub fn selector_labels(input: &Input<'_>) -> BTreeMap<String, String> {
    input.labels.selector.clone()
}

/// Selector labels plus the colour, for one blue-green half.
pub fn color_selector_labels(input: &Input<'_>, color: Option<Color>) -> BTreeMap<String, String> {
    let mut labels = selector_labels(input);
    if let Some(color) = color {
        labels.insert(LABEL_COLOR.to_owned(), color.as_str().to_owned());
    }
    labels
}

/// Every label an object carries.
pub fn labels(input: &Input<'_>) -> BTreeMap<String, String> {
    input.labels.all.clone()
}

/// The label maps of one render, built once: every object carries them, and
/// building them per object (formatting the instance name, inserting seven
/// keys) was a tenth of the renderer's time.
pub(crate) struct RenderLabels {
    /// [`selector_labels`].
    selector: BTreeMap<String, String>,
    /// [`labels`].
    all: BTreeMap<String, String>,
}

impl RenderLabels {
    pub(crate) fn new(name: &str, kind: crate::spec::WorkloadKind, ctx: &RenderContext) -> Self {
        let selector = BTreeMap::from([
            ("app.kubernetes.io/name".to_owned(), name.to_owned()),
            (
                "app.kubernetes.io/instance".to_owned(),
                format!("{name}-{}", ctx.environment),
            ),
        ]);
        let mut all = selector.clone();
        all.extend([
            ("app.kubernetes.io/part-of".to_owned(), ctx.team.clone()),
            (
                "app.kubernetes.io/managed-by".to_owned(),
                MANAGED_BY.to_owned(),
            ),
            (
                "app.kubernetes.io/component".to_owned(),
                kind.as_str().to_owned(),
            ),
            (LABEL_TEAM.to_owned(), ctx.team.clone()),
            (LABEL_ENVIRONMENT.to_owned(), ctx.environment.clone()),
        ]);
        RenderLabels { selector, all }
    }
}

/// Labels of a pod (template): every label plus the colour for blue-green.
pub fn pod_labels(input: &Input<'_>, color: Option<Color>) -> BTreeMap<String, String> {
    let mut labels = labels(input);
    if let Some(color) = color {
        labels.insert(LABEL_COLOR.to_owned(), color.as_str().to_owned());
    }
    labels
}

/// Metadata of a top-level object named `name`, with the deploy annotations.
pub fn object_meta(input: &Input<'_>, name: &str) -> ObjectMeta {
    let mut annotations = BTreeMap::new();
    if let Some(revision) = input.ctx.revision {
        annotations.insert(ANNOTATION_REVISION.to_owned(), revision.to_string());
    }
    if let Some(deploy_id) = &input.ctx.deploy_id {
        annotations.insert(ANNOTATION_DEPLOY_ID.to_owned(), deploy_id.clone());
    }
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(input.ctx.namespace.clone()),
        labels: Some(labels(input)),
        annotations: (!annotations.is_empty()).then_some(annotations),
        ..ObjectMeta::default()
    }
}

/// `object_meta` with extra annotations merged in. The managed annotations
/// (`slipway.dev/revision`, `slipway.dev/deploy-id`) are inserted last, so an
/// extra one of the same key (which validation refuses anyway) can never
/// forge the provenance shown on live objects (security review #18).
pub fn object_meta_annotated(
    input: &Input<'_>,
    name: &str,
    extra: BTreeMap<String, String>,
) -> ObjectMeta {
    let mut meta = object_meta(input, name);
    if !extra.is_empty() {
        let mut annotations = extra;
        annotations.extend(meta.annotations.take().unwrap_or_default());
        meta.annotations = Some(annotations);
    }
    meta
}

/// A selector matching `labels` exactly.
pub fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RenderContext;

    #[test]
    fn managed_annotations_win_over_extra_ones_of_the_same_key() {
        let doc = crate::spec::parse(
            "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: api, team: shop}\nspec:\n  image: registry.example.com/api:1.0\n  ports: [{name: http, port: 8000}]\n",
        )
        .expect("valid spec");
        let ctx = RenderContext {
            revision: Some(7),
            deploy_id: Some("42".into()),
            ..RenderContext::new("staging", "shop-staging", "shop")
        };
        let input = Input::new(&doc, &ctx);
        let extra = BTreeMap::from([
            (ANNOTATION_REVISION.to_owned(), "999".to_owned()),
            (ANNOTATION_DEPLOY_ID.to_owned(), "forged".to_owned()),
            ("example.com/own".to_owned(), "kept".to_owned()),
        ]);
        let annotations = object_meta_annotated(&input, "api", extra)
            .annotations
            .expect("annotations");
        assert_eq!(annotations[ANNOTATION_REVISION], "7");
        assert_eq!(annotations[ANNOTATION_DEPLOY_ID], "42");
        assert_eq!(annotations["example.com/own"], "kept");
    }
}
