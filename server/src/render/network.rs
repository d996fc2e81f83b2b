//! Services (the service's own and ExternalName ones), the Ingress and the NetworkPolicy.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IPBlock, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{Input, meta, workload};
use crate::spec::{PathType, PortRef, ServiceType, WorkloadKind, defaults};

/// The label every namespace carries with its own name (Kubernetes ≥ 1.22).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The service's Service (web: typed; stateful: headless) and its ExternalName Services.
pub fn services(input: &Input<'_>) -> Vec<Service> {
    let mut out = Vec::new();
    if matches!(input.kind, WorkloadKind::Web | WorkloadKind::Stateful) {
        let stateful = input.kind == WorkloadKind::Stateful;
        let type_ = input
            .spec
            .service
            .as_ref()
            .and_then(|s| s.type_)
            .unwrap_or(ServiceType::ClusterIP);
        out.push(Service {
            metadata: meta::object_meta(input, input.name()),
            spec: Some(ServiceSpec {
                type_: Some(type_.as_str().to_owned()),
                // A StatefulSet's governing Service is headless: each pod gets its own DNS name.
                cluster_ip: stateful.then(|| "None".to_owned()),
                selector: Some(meta::color_selector_labels(
                    input,
                    workload::active_color(input),
                )),
                ports: Some(service_ports(input)),
                ..ServiceSpec::default()
            }),
            status: None,
        });
    }
    for external in &input.spec.external_services {
        out.push(Service {
            metadata: meta::object_meta(input, &external.name),
            spec: Some(ServiceSpec {
                type_: Some("ExternalName".to_owned()),
                external_name: Some(external.external_name.clone()),
                ports: (!external.ports.is_empty()).then(|| {
                    external
                        .ports
                        .iter()
                        .map(|port| ServicePort {
                            name: Some(format!("tcp-{port}")),
                            port: i32::from(*port),
                            protocol: Some("TCP".to_owned()),
                            ..ServicePort::default()
                        })
                        .collect()
                }),
                ..ServiceSpec::default()
            }),
            status: None,
        });
    }
    out
}

/// The Service's ports: as declared, or port 80 to the first container port
/// (web) or every container port as itself (stateful).
fn service_ports(input: &Input<'_>) -> Vec<ServicePort> {
    let spec = input.spec;
    let declared = spec
        .service
        .as_ref()
        .map(|s| s.ports.clone())
        .unwrap_or_default();
    if declared.is_empty() {
        let ports: Vec<&crate::spec::Port> = match input.kind {
            WorkloadKind::Stateful => spec.ports.iter().collect(),
            _ => spec.ports.first().into_iter().collect(),
        };
        return ports
            .into_iter()
            .map(|p| ServicePort {
                name: Some(p.name.clone()),
                port: if input.kind == WorkloadKind::Stateful {
                    i32::from(p.port)
                } else {
                    i32::from(defaults::SERVICE_PORT)
                },
                target_port: Some(IntOrString::String(p.name.clone())),
                protocol: Some(p.protocol.map_or("TCP", |p| p.as_str()).to_owned()),
                ..ServicePort::default()
            })
            .collect();
    }
    declared
        .iter()
        .map(|sp| {
            let target = match &sp.target_port {
                Some(PortRef::Name(name)) => spec.ports.iter().find(|p| &p.name == name),
                Some(PortRef::Number(n)) => spec.ports.iter().find(|p| p.port == *n),
                None => spec.ports.first(),
            };
            ServicePort {
                name: sp.name.clone().or_else(|| target.map(|p| p.name.clone())),
                port: i32::from(sp.port),
                target_port: target.map(|p| IntOrString::String(p.name.clone())),
                protocol: Some(
                    target
                        .and_then(|p| p.protocol)
                        .map_or("TCP", |p| p.as_str())
                        .to_owned(),
                ),
                node_port: sp.node_port.map(i32::from),
                ..ServicePort::default()
            }
        })
        .collect()
}

/// The Ingress of a `web` service with `spec.ingress`.
pub fn ingress(input: &Input<'_>) -> Option<Ingress> {
    let config = input.spec.ingress.as_ref()?;
    if input.kind != WorkloadKind::Web {
        return None;
    }
    let ports = service_ports(input);
    let port = match &config.service_port {
        Some(PortRef::Number(n)) => ServiceBackendPort {
            number: Some(i32::from(*n)),
            name: None,
        },
        Some(PortRef::Name(name)) => ServiceBackendPort {
            name: Some(name.clone()),
            number: None,
        },
        None => match ports.first() {
            Some(ServicePort {
                name: Some(name), ..
            }) => ServiceBackendPort {
                name: Some(name.clone()),
                number: None,
            },
            first => ServiceBackendPort {
                number: Some(first.map_or(i32::from(defaults::SERVICE_PORT), |p| p.port)),
                name: None,
            },
        },
    };
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: input.name().to_owned(),
            port: Some(port),
        }),
        resource: None,
    };
    let paths: Vec<HTTPIngressPath> = if config.paths.is_empty() {
        vec![HTTPIngressPath {
            path: Some("/".to_owned()),
            path_type: PathType::Prefix.as_str().to_owned(),
            backend: backend.clone(),
        }]
    } else {
        config
            .paths
            .iter()
            .map(|p| HTTPIngressPath {
                path: Some(p.path.clone()),
                path_type: p.path_type.unwrap_or(PathType::Prefix).as_str().to_owned(),
                backend: backend.clone(),
            })
            .collect()
    };
    let mut annotations: BTreeMap<String, String> = config.annotations.clone();
    let tls = config.tls.as_ref().map(|tls| {
        if let Some(issuer) = &tls.cluster_issuer {
            annotations.insert("cert-manager.io/cluster-issuer".to_owned(), issuer.clone());
        }
        if let Some(issuer) = &tls.issuer {
            annotations.insert("cert-manager.io/issuer".to_owned(), issuer.clone());
        }
        let hosts = if tls.hosts.is_empty() {
            config.hosts.clone()
        } else {
            tls.hosts.clone()
        };
        vec![IngressTLS {
            hosts: Some(hosts),
            secret_name: Some(tls.secret_name.clone()),
        }]
    });
    Some(Ingress {
        metadata: meta::object_meta_annotated(input, input.name(), annotations),
        spec: Some(IngressSpec {
            ingress_class_name: config.class_name.clone(),
            rules: Some(
                config
                    .hosts
                    .iter()
                    .map(|host| IngressRule {
                        host: Some(host.clone()),
                        http: Some(HTTPIngressRuleValue {
                            paths: paths.clone(),
                        }),
                    })
                    .collect(),
            ),
            tls,
            default_backend: None,
        }),
        status: None,
    })
}

/// The NetworkPolicy: both directions denied except DNS, the Ingress
/// controller (when there is an Ingress) and what the spec lists.
pub fn network_policy(input: &Input<'_>) -> Option<NetworkPolicy> {
    let config = input.spec.network_policy.clone().unwrap_or_default();
    if config.enabled == Some(false) {
        return None;
    }
    let app_ports: Option<Vec<NetworkPolicyPort>> = (!input.spec.ports.is_empty()).then(|| {
        input
            .spec
            .ports
            .iter()
            .map(|p| NetworkPolicyPort {
                port: Some(IntOrString::Int(i32::from(p.port))),
                protocol: Some(p.protocol.map_or("TCP", |p| p.as_str()).to_owned()),
                end_port: None,
            })
            .collect()
    });
    let namespace = |name: &str| NetworkPolicyPeer {
        namespace_selector: Some(meta::selector(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_owned(),
            name.to_owned(),
        )]))),
        ..NetworkPolicyPeer::default()
    };
    let service = |name: &str| NetworkPolicyPeer {
        pod_selector: Some(meta::selector(BTreeMap::from([(
            "app.kubernetes.io/name".to_owned(),
            name.to_owned(),
        )]))),
        ..NetworkPolicyPeer::default()
    };
    let mut from: Vec<NetworkPolicyPeer> = Vec::new();
    if input.kind == WorkloadKind::Web && input.spec.ingress.is_some() {
        from.push(namespace(
            config
                .ingress_controller_namespace
                .as_deref()
                .unwrap_or(defaults::INGRESS_CONTROLLER_NAMESPACE),
        ));
    }
    if input.kind == WorkloadKind::Stateful {
        // Members of a stateful set talk to each other (replication, clustering).
        from.push(service(input.name()));
    }
    from.extend(config.allow_from.iter().map(|s| service(s)));
    from.extend(config.allow_from_namespaces.iter().map(|n| namespace(n)));
    let ingress_rules = if from.is_empty() || app_ports.is_none() {
        Vec::new()
    } else {
        vec![NetworkPolicyIngressRule {
            from: Some(from),
            ports: app_ports,
        }]
    };
    let egress_rules = if config.allow_all_egress == Some(true) {
        vec![NetworkPolicyEgressRule::default()]
    } else {
        let mut rules = vec![dns_rule()];
        if !config.egress_to.is_empty() {
            rules.push(NetworkPolicyEgressRule {
                to: Some(config.egress_to.iter().map(|s| service(s)).collect()),
                ports: None,
            });
        }
        for cidr in &config.egress_cidrs {
            rules.push(NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    ip_block: Some(IPBlock {
                        cidr: cidr.cidr.clone(),
                        except: None,
                    }),
                    ..NetworkPolicyPeer::default()
                }]),
                ports: (!cidr.ports.is_empty()).then(|| {
                    cidr.ports
                        .iter()
                        .map(|p| NetworkPolicyPort {
                            port: Some(IntOrString::Int(i32::from(*p))),
                            protocol: Some("TCP".to_owned()),
                            end_port: None,
                        })
                        .collect()
                }),
            });
        }
        rules
    };
    Some(NetworkPolicy {
        metadata: meta::object_meta(input, input.name()),
        spec: Some(NetworkPolicySpec {
            // Both colours of a blue-green service share one policy.
            pod_selector: Some(meta::selector(meta::selector_labels(input))),
            policy_types: Some(vec!["Ingress".to_owned(), "Egress".to_owned()]),
            ingress: Some(ingress_rules),
            egress: Some(egress_rules),
        }),
    })
}

/// DNS to the cluster's resolver in kube-system, over UDP and TCP.
fn dns_rule() -> NetworkPolicyEgressRule {
    let port = |protocol: &str| NetworkPolicyPort {
        port: Some(IntOrString::Int(53)),
        protocol: Some(protocol.to_owned()),
        end_port: None,
    };
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(meta::selector(BTreeMap::from([(
                NAMESPACE_NAME_LABEL.to_owned(),
                "kube-system".to_owned(),
            )]))),
            pod_selector: Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "k8s-app".to_owned(),
                    "kube-dns".to_owned(),
                )])),
                match_expressions: None,
            }),
            ip_block: None,
        }]),
        ports: Some(vec![port("UDP"), port("TCP")]),
    }
}
