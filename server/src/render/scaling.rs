//! The HorizontalPodAutoscaler and the PodDisruptionBudget.

use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, ExternalMetricSource, HPAScalingPolicy, HPAScalingRules,
    HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec,
    MetricIdentifier, MetricSpec, MetricTarget, PodsMetricSource, ResourceMetricSource,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Input, meta, workload};
use crate::spec::{IntOrPercent, WorkloadKind, defaults};

/// The autoscaler, when `spec.autoscaling` is set (and not turned off by the environment).
pub fn autoscaler(input: &Input<'_>) -> Option<HorizontalPodAutoscaler> {
    let autoscaling = input.spec.autoscaling.as_ref()?;
    let (kind, target) = match input.kind {
        WorkloadKind::Web | WorkloadKind::Worker => {
            ("Deployment", workload::scaled_deployment_name(input))
        }
        WorkloadKind::Stateful => ("StatefulSet", input.name().to_owned()),
        WorkloadKind::Cron => return None,
    };
    let metric = |name: &str, percent: u32| MetricSpec {
        type_: "Resource".to_owned(),
        resource: Some(ResourceMetricSource {
            name: name.to_owned(),
            target: MetricTarget {
                type_: "Utilization".to_owned(),
                average_utilization: Some(to_i32(percent)),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    };
    let mut metrics = Vec::new();
    if let Some(cpu) = autoscaling.cpu {
        metrics.push(metric("cpu", cpu));
    }
    if let Some(memory) = autoscaling.memory {
        metrics.push(metric("memory", memory));
    }
    for m in &autoscaling.pods {
        metrics.push(MetricSpec {
            type_: "Pods".to_owned(),
            pods: Some(PodsMetricSource {
                metric: MetricIdentifier {
                    name: m.metric.clone(),
                    selector: None,
                },
                target: MetricTarget {
                    type_: "AverageValue".to_owned(),
                    average_value: Some(Quantity(m.average_value.as_str().to_owned())),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        });
    }
    for m in &autoscaling.external {
        let target = match (&m.value, &m.average_value) {
            (Some(v), _) => MetricTarget {
                type_: "Value".to_owned(),
                value: Some(Quantity(v.as_str().to_owned())),
                ..MetricTarget::default()
            },
            (None, v) => MetricTarget {
                type_: "AverageValue".to_owned(),
                average_value: v.as_ref().map(|v| Quantity(v.as_str().to_owned())),
                ..MetricTarget::default()
            },
        };
        metrics.push(MetricSpec {
            type_: "External".to_owned(),
            external: Some(ExternalMetricSource {
                metric: MetricIdentifier {
                    name: m.metric.clone(),
                    selector: (!m.selector.is_empty()).then(|| LabelSelector {
                        match_labels: Some(m.selector.clone()),
                        ..LabelSelector::default()
                    }),
                },
                target,
            }),
            ..MetricSpec::default()
        });
    }
    let down = autoscaling.scale_down.clone().unwrap_or_default();
    Some(HorizontalPodAutoscaler {
        metadata: meta::object_meta(input, input.name()),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_owned()),
                kind: kind.to_owned(),
                name: target,
            },
            min_replicas: Some(to_i32(autoscaling.min_replicas)),
            max_replicas: to_i32(autoscaling.max_replicas),
            metrics: Some(metrics),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(to_i32(
                        down.stabilization_window_seconds
                            .unwrap_or(defaults::SCALE_DOWN_WINDOW_SECONDS),
                    )),
                    policies: Some(vec![HPAScalingPolicy {
                        type_: "Percent".to_owned(),
                        value: to_i32(down.max_percent.unwrap_or(defaults::SCALE_DOWN_PERCENT)),
                        period_seconds: to_i32(
                            down.period_seconds
                                .unwrap_or(defaults::SCALE_DOWN_PERIOD_SECONDS),
                        ),
                    }]),
                    ..HPAScalingRules::default()
                }),
                scale_up: None,
            }),
        },
        status: None,
    })
}

/// The disruption budgets, each rendered only where at least two pods run:
/// with one pod a budget can only block node drains, never protect
/// availability. Blue-green has one for the serving colour (the spec's budget)
/// and `{name}-idle` for the standby one (one pod at a time), so a drain never
/// takes every warm standby pod at once.
pub fn disruption_budgets(input: &Input<'_>) -> Vec<PodDisruptionBudget> {
    if !input.kind.is_long_running() {
        return Vec::new();
    }
    let mut out = Vec::new();
    if input.min_replicas() >= 2 {
        let budget = input.spec.disruption_budget.clone().unwrap_or_default();
        let (min_available, max_unavailable) = match (budget.min_available, budget.max_unavailable)
        {
            (Some(min), _) => (Some(int_or_string(&min)), None),
            (None, Some(max)) => (None, Some(int_or_string(&max))),
            (None, None) => (None, Some(IntOrString::Int(1))),
        };
        out.push(budget_over(
            input,
            input.name(),
            workload::active_color(input),
            min_available,
            max_unavailable,
        ));
    }
    if let Some((idle, count)) = workload::idle_color(input)
        && count >= 2
    {
        out.push(budget_over(
            input,
            &format!("{}-idle", input.name()),
            Some(idle),
            None,
            Some(IntOrString::Int(1)),
        ));
    }
    out
}

fn budget_over(
    input: &Input<'_>,
    name: &str,
    color: Option<crate::spec::Color>,
    min_available: Option<IntOrString>,
    max_unavailable: Option<IntOrString>,
) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta::object_meta(input, name),
        spec: Some(PodDisruptionBudgetSpec {
            selector: Some(meta::selector(meta::color_selector_labels(input, color))),
            min_available,
            max_unavailable,
            // Crash-looping pods must not block a drain; they serve nothing anyway.
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
        }),
        status: None,
    }
}

/// The Kubernetes form of a count or percentage.
pub fn int_or_string(value: &IntOrPercent) -> IntOrString {
    match value {
        IntOrPercent::Int(n) => IntOrString::Int(to_i32(*n)),
        IntOrPercent::Percent(p) => IntOrString::String(p.clone()),
    }
}

/// Validated counts are far below `i32::MAX`; saturate rather than wrap if not.
pub fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}
