//! Tests of reading and validating specs: the table of invalid specs with the
//! exact field paths they must report, round trips and hashing.

use super::*;

/// A valid web service that each invalid case changes in one place.
const BASE: &str = "apiVersion: slipway.dev/v1
kind: Service
metadata: {name: api, team: shop}
spec:
  image: registry.example.com/api:1.0
  ports: [{name: http, port: 8000}]
  resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}
";

/// One invalid spec: what to replace in [`BASE`], what to append under
/// `spec:`, and the exact set of paths the errors must name.
struct Case {
    name: &'static str,
    replace: &'static [(&'static str, &'static str)],
    append: &'static str,
    paths: &'static [&'static str],
}

const RESOURCES: &str =
    "  resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 256Mi}}\n";
const PORTS: &str = "  ports: [{name: http, port: 8000}]\n";

const CASES: &[Case] = &[
    Case {
        name: "wrong api version",
        replace: &[("slipway.dev/v1", "slipway.dev/v2")],
        append: "",
        paths: &["apiVersion"],
    },
    Case {
        name: "links that are not web URLs, and an unknown link",
        replace: &[(
            "metadata: {name: api, team: shop}",
            "metadata: {name: api, team: shop, links: {docs: 'javascript:alert(1)', dashboard: /grafana, wiki: 'https://wiki.example'}}",
        )],
        append: "",
        paths: &[
            "metadata.links.docs",
            "metadata.links.dashboard",
            "metadata.links.wiki",
        ],
    },
    Case {
        name: "wrong kind",
        replace: &[("kind: Service", "kind: Deployment")],
        append: "",
        paths: &["kind"],
    },
    Case {
        name: "uppercase name",
        replace: &[("name: api,", "name: Api,")],
        append: "",
        paths: &["metadata.name"],
    },
    Case {
        name: "name too long for derived names",
        replace: &[(
            "name: api,",
            "name: a-very-long-service-name-that-is-still-a-dns-label,",
        )],
        append: "",
        paths: &["metadata.name"],
    },
    Case {
        name: "team is not a label",
        replace: &[("team: shop", "team: Shop_Team")],
        append: "",
        paths: &["metadata.team"],
    },
    Case {
        name: "misspelt field",
        replace: &[],
        append: "  replcas: 2\n",
        paths: &["spec.replcas"],
    },
    Case {
        name: "unknown metadata field",
        replace: &[("team: shop}", "team: shop, owner: me}")],
        append: "",
        paths: &["metadata.owner"],
    },
    Case {
        name: "replicas of the wrong type",
        replace: &[],
        append: "  replicas: three\n",
        paths: &["spec.replicas"],
    },
    Case {
        name: "negative replicas",
        replace: &[],
        append: "  replicas: -1\n",
        paths: &["spec.replicas"],
    },
    Case {
        name: "too many replicas",
        replace: &[],
        append: "  replicas: 5000\n",
        paths: &["spec.replicas"],
    },
    Case {
        name: "uppercase image",
        replace: &[(
            "registry.example.com/api:1.0",
            "registry.example.com/API:1.0",
        )],
        append: "",
        paths: &["spec.image"],
    },
    Case {
        name: "short digest",
        replace: &[("registry.example.com/api:1.0", "api@sha256:abc")],
        append: "",
        paths: &["spec.image"],
    },
    Case {
        name: "missing image",
        replace: &[("  image: registry.example.com/api:1.0\n", "")],
        append: "",
        paths: &["spec.image"],
    },
    Case {
        name: "port out of range",
        replace: &[(PORTS, "  ports: [{name: http, port: 70000}]\n")],
        append: "",
        paths: &["spec.ports[0].port"],
    },
    Case {
        name: "port zero",
        replace: &[(PORTS, "  ports: [{name: http, port: 0}]\n")],
        append: "",
        paths: &["spec.ports[0].port"],
    },
    Case {
        name: "uppercase port name",
        replace: &[(PORTS, "  ports: [{name: HTTP, port: 8000}]\n")],
        append: "",
        paths: &["spec.ports[0].name"],
    },
    Case {
        name: "port number clash",
        replace: &[(
            PORTS,
            "  ports: [{name: http, port: 8000}, {name: admin, port: 8000}]\n",
        )],
        append: "",
        paths: &["spec.ports[1].port"],
    },
    Case {
        name: "port name clash",
        replace: &[(
            PORTS,
            "  ports: [{name: http, port: 8000}, {name: http, port: 8001}]\n",
        )],
        append: "",
        paths: &["spec.ports[1].name"],
    },
    Case {
        name: "web without ports",
        replace: &[(PORTS, "")],
        append: "",
        paths: &["spec.ports"],
    },
    Case {
        name: "secret key missing",
        replace: &[],
        append: "  env: [{name: DB, secret: {name: db}}]\n",
        paths: &["spec.env[0].secret.key"],
    },
    Case {
        name: "secret key empty",
        replace: &[],
        append: "  env: [{name: DB, secret: {name: db, key: ''}}]\n",
        paths: &["spec.env[0].secret.key"],
    },
    Case {
        name: "value and secret",
        replace: &[],
        append: "  env: [{name: DB, value: x, secret: {name: db, key: url}}]\n",
        paths: &["spec.env[0]"],
    },
    Case {
        name: "no value source",
        replace: &[],
        append: "  env: [{name: DB}]\n",
        paths: &["spec.env[0]"],
    },
    Case {
        name: "variable name starts with a digit",
        replace: &[],
        append: "  env: [{name: 1DB, value: x}]\n",
        paths: &["spec.env[0].name"],
    },
    Case {
        name: "duplicate variable",
        replace: &[],
        append: "  env: [{name: A, value: x}, {name: B, value: y}, {name: A, value: z}]\n",
        paths: &["spec.env[2].name"],
    },
    Case {
        name: "unknown pod field",
        replace: &[],
        append: "  env: [{name: A, field: status.phase}]\n",
        paths: &["spec.env[0].field"],
    },
    Case {
        name: "envFrom without source",
        replace: &[],
        append: "  envFrom: [{prefix: X_}]\n",
        paths: &["spec.envFrom[0]"],
    },
    Case {
        name: "bad quantity",
        replace: &[(
            RESOURCES,
            "  resources: {requests: {cpu: lots, memory: 128Mi}}\n",
        )],
        append: "",
        paths: &["spec.resources.requests.cpu"],
    },
    Case {
        name: "zero quantity",
        replace: &[(
            RESOURCES,
            "  resources: {requests: {cpu: 0, memory: 128Mi}}\n",
        )],
        append: "",
        paths: &["spec.resources.requests.cpu"],
    },
    Case {
        name: "memory limit below request",
        replace: &[(
            RESOURCES,
            "  resources: {requests: {cpu: 100m, memory: 1Gi}, limits: {memory: 512Mi}}\n",
        )],
        append: "",
        paths: &["spec.resources.limits.memory"],
    },
    Case {
        name: "cpu limit below request",
        replace: &[(
            RESOURCES,
            "  resources: {requests: {cpu: '2', memory: 1Gi}, limits: {cpu: 500m}}\n",
        )],
        append: "",
        paths: &["spec.resources.limits.cpu"],
    },
    Case {
        name: "probe without a check",
        replace: &[],
        append: "  probes: {liveness: {periodSeconds: 5}}\n",
        paths: &["spec.probes.liveness"],
    },
    Case {
        name: "probe port not declared",
        replace: &[],
        append: "  probes: {readiness: {http: {path: /ready, port: admin}}}\n",
        paths: &["spec.probes.readiness.http.port"],
    },
    Case {
        name: "probe port number not declared",
        replace: &[],
        append: "  probes: {liveness: {tcp: {port: 9000}}}\n",
        paths: &["spec.probes.liveness.tcp.port"],
    },
    Case {
        name: "probe path without slash",
        replace: &[],
        append: "  probes: {liveness: {http: {path: health}}}\n",
        paths: &["spec.probes.liveness.http.path"],
    },
    Case {
        name: "probe with two checks",
        replace: &[],
        append: "  probes: {liveness: {http: {path: /h}, tcp: {}}}\n",
        paths: &["spec.probes.liveness"],
    },
    Case {
        name: "empty exec probe",
        replace: &[],
        append: "  probes: {liveness: {exec: {command: []}}}\n",
        paths: &["spec.probes.liveness.exec.command"],
    },
    Case {
        name: "probe period zero",
        replace: &[],
        append: "  probes: {liveness: {tcp: {}, periodSeconds: 0}}\n",
        paths: &["spec.probes.liveness.periodSeconds"],
    },
    Case {
        name: "autoscaling minimum above maximum",
        replace: &[],
        append: "  autoscaling: {minReplicas: 5, maxReplicas: 3, cpu: 70}\n",
        paths: &["spec.autoscaling.minReplicas"],
    },
    Case {
        name: "autoscaling on cpu without a cpu request",
        replace: &[(
            RESOURCES,
            "  resources: {requests: {memory: 128Mi}, limits: {memory: 256Mi}}\n",
        )],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, cpu: 70}\n",
        paths: &["spec.resources.requests.cpu"],
    },
    Case {
        name: "autoscaling on memory without any requests",
        replace: &[(RESOURCES, "")],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, memory: 80}\n",
        paths: &["spec.resources.requests.memory"],
    },
    Case {
        name: "autoscaling on cpu with a sidecar that requests none",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, cpu: 70}\n  sidecars: [{name: proxy, image: envoyproxy/envoy:v1.31.0}]\n",
        paths: &["spec.sidecars[0].resources.requests.cpu"],
    },
    Case {
        name: "autoscaling without a target",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3}\n",
        paths: &["spec.autoscaling"],
    },
    Case {
        name: "a pods metric with a bad name and a quantity that is not one",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, pods: [{metric: \"requests per second\", averageValue: lots}]}\n",
        paths: &[
            "spec.autoscaling.pods[0].metric",
            "spec.autoscaling.pods[0].averageValue",
        ],
    },
    Case {
        name: "an external metric with both targets and a bad selector",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, external: [{metric: celery_queue_length, value: \"10\", averageValue: \"2\", selector: {\"bad key!\": x}}]}\n",
        paths: &[
            "spec.autoscaling.external[0]",
            "spec.autoscaling.external[0].selector.bad key!",
        ],
    },
    Case {
        name: "an external metric without a target",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, external: [{metric: celery_queue_length}]}\n",
        paths: &["spec.autoscaling.external[0]"],
    },
    Case {
        name: "autoscaling target above a hundred",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 3, cpu: 150}\n",
        paths: &["spec.autoscaling.cpu"],
    },
    Case {
        name: "replicas beside autoscaling",
        replace: &[],
        append: "  replicas: 3\n  autoscaling: {minReplicas: 2, maxReplicas: 4, cpu: 70}\n",
        paths: &["spec.replicas"],
    },
    Case {
        name: "autoscaling without the maximum",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, cpu: 70}\n",
        paths: &["spec.autoscaling.maxReplicas"],
    },
    Case {
        name: "tls host not among the ingress hosts",
        replace: &[],
        append: "  ingress: {hosts: [api.example.com], tls: {secretName: api-tls, hosts: [www.example.com]}}\n",
        paths: &["spec.ingress.tls.hosts[0]"],
    },
    Case {
        name: "ingress host not qualified",
        replace: &[],
        append: "  ingress: {hosts: [api]}\n",
        paths: &["spec.ingress.hosts[0]"],
    },
    Case {
        name: "ingress without hosts",
        replace: &[],
        append: "  ingress: {hosts: []}\n",
        paths: &["spec.ingress.hosts"],
    },
    Case {
        name: "ingress path without slash",
        replace: &[],
        append: "  ingress: {hosts: [api.example.com], paths: [{path: api}]}\n",
        paths: &["spec.ingress.paths[0].path"],
    },
    Case {
        name: "ingress path type unknown",
        replace: &[],
        append: "  ingress: {hosts: [api.example.com], paths: [{path: /, pathType: Prefx}]}\n",
        paths: &["spec.ingress.paths[0].pathType"],
    },
    Case {
        name: "two certificate issuers",
        replace: &[],
        append: "  ingress: {hosts: [api.example.com], tls: {secretName: t, clusterIssuer: a, issuer: b}}\n",
        paths: &["spec.ingress.tls"],
    },
    Case {
        name: "ingress on a worker",
        replace: &[(PORTS, "  kind: worker\n")],
        append: "  ingress: {hosts: [api.example.com]}\n",
        paths: &["spec.ingress"],
    },
    Case {
        name: "service on a worker",
        replace: &[(PORTS, "  kind: worker\n")],
        append: "  service: {}\n",
        paths: &["spec.service"],
    },
    Case {
        name: "service target port not declared",
        replace: &[],
        append: "  service: {ports: [{port: 80, targetPort: web}]}\n",
        paths: &["spec.service.ports[0].targetPort"],
    },
    Case {
        name: "service port clash",
        replace: &[],
        append: "  service: {ports: [{name: a, port: 80}, {name: b, port: 80}]}\n",
        paths: &["spec.service.ports[1].port"],
    },
    Case {
        name: "node port on a cluster ip service",
        replace: &[],
        append: "  service: {ports: [{port: 80, nodePort: 30080}]}\n",
        paths: &["spec.service.ports[0].nodePort"],
    },
    Case {
        name: "unknown environment",
        replace: &[],
        append: "  environments: {prod: {replicas: 3}}\n",
        paths: &["spec.environments.prod"],
    },
    Case {
        name: "environment hosts without an ingress",
        replace: &[],
        append: "  environments: {staging: {hosts: [api.staging.example.com]}}\n",
        paths: &["spec.environments.staging.hosts"],
    },
    Case {
        name: "environment overriding a secret with a literal",
        replace: &[],
        append: "  env: [{name: DB, secret: {name: db, key: url}}]\n  environments: {production: {env: {DB: postgres://x}}}\n",
        paths: &["spec.environments.production.env.DB"],
    },
    Case {
        name: "environment limit below the base request",
        replace: &[],
        append: "  environments: {production: {resources: {limits: {memory: 64Mi}}}}\n",
        paths: &["spec.environments.production.resources.limits.memory"],
    },
    Case {
        name: "environment autoscaling without base autoscaling",
        replace: &[],
        append: "  environments: {production: {autoscaling: {maxReplicas: 4}}}\n",
        paths: &["spec.environments.production.autoscaling"],
    },
    Case {
        name: "environment autoscaling minimum above maximum",
        replace: &[],
        append: "  autoscaling: {minReplicas: 2, maxReplicas: 4, cpu: 70}\n  environments: {staging: {autoscaling: {minReplicas: 6}}}\n",
        paths: &["spec.environments.staging.autoscaling.minReplicas"],
    },
    Case {
        name: "cron without a schedule",
        replace: &[(PORTS, "  kind: cron\n")],
        append: "",
        paths: &["spec.cron"],
    },
    Case {
        name: "cron schedule with four fields",
        replace: &[(PORTS, "  kind: cron\n")],
        append: "  cron: {schedule: '0 3 * *'}\n",
        paths: &["spec.cron.schedule"],
    },
    Case {
        name: "cron schedule hour out of range",
        replace: &[(PORTS, "  kind: cron\n")],
        append: "  cron: {schedule: '0 25 * * *'}\n",
        paths: &["spec.cron.schedule"],
    },
    Case {
        name: "cron with replicas",
        replace: &[(PORTS, "  kind: cron\n")],
        append: "  cron: {schedule: '@daily'}\n  replicas: 2\n",
        paths: &["spec.replicas"],
    },
    Case {
        name: "cron time zone invalid",
        replace: &[(PORTS, "  kind: cron\n")],
        append: "  cron: {schedule: '@daily', timeZone: 'Europe Berlin'}\n",
        paths: &["spec.cron.timeZone"],
    },
    Case {
        name: "schedule on a web service",
        replace: &[],
        append: "  cron: {schedule: '@daily'}\n",
        paths: &["spec.cron"],
    },
    Case {
        name: "budget with both fields",
        replace: &[],
        append: "  disruptionBudget: {minAvailable: 1, maxUnavailable: 1}\n",
        paths: &["spec.disruptionBudget"],
    },
    Case {
        name: "budget that blocks every drain",
        replace: &[],
        append: "  disruptionBudget: {minAvailable: 2}\n",
        paths: &["spec.disruptionBudget.minAvailable"],
    },
    Case {
        name: "budget percentage above a hundred",
        replace: &[],
        append: "  disruptionBudget: {maxUnavailable: 150%}\n",
        paths: &["spec.disruptionBudget.maxUnavailable"],
    },
    Case {
        name: "rollout that can never start",
        replace: &[],
        append: "  strategy: {maxSurge: 0, maxUnavailable: 0}\n",
        paths: &["spec.strategy"],
    },
    Case {
        name: "blue green on a worker",
        replace: &[(PORTS, "  kind: worker\n")],
        append: "  strategy: {blueGreen: {active: blue}}\n",
        paths: &["spec.strategy.blueGreen"],
    },
    Case {
        name: "blue green colour unknown",
        replace: &[],
        append: "  strategy: {blueGreen: {active: red}}\n",
        paths: &["spec.strategy.blueGreen.active"],
    },
    Case {
        name: "root user",
        replace: &[],
        append: "  security: {runAsUser: 0}\n",
        paths: &["spec.security.runAsUser"],
    },
    Case {
        name: "metrics port not declared",
        replace: &[],
        append: "  metrics: {port: 9100}\n",
        paths: &["spec.metrics.port"],
    },
    Case {
        name: "sidecar mounting an unknown volume",
        replace: &[],
        append: "  sidecars: [{name: shipper, image: fluent/fluent-bit:3.1.9, volumeMounts: [{name: logs, mountPath: /logs}]}]\n",
        paths: &["spec.sidecars[0].volumeMounts[0].name"],
    },
    Case {
        name: "sidecar without an image",
        replace: &[],
        append: "  sidecars: [{name: shipper}]\n",
        paths: &["spec.sidecars[0].image"],
    },
    Case {
        name: "init container named like the app",
        replace: &[],
        append: "  initContainers: [{name: app, command: [python, manage.py, migrate]}]\n",
        paths: &["spec.initContainers[0].name"],
    },
    Case {
        name: "two extra containers with one name",
        replace: &[],
        append: "  initContainers: [{name: setup}]\n  sidecars: [{name: setup, image: busybox:1.36}]\n",
        paths: &["spec.sidecars[0].name"],
    },
    Case {
        name: "volume nobody mounts",
        replace: &[],
        append: "  volumes: [{name: cache}]\n",
        paths: &["spec.volumes[0]"],
    },
    Case {
        name: "volume with a reserved name",
        replace: &[],
        append: "  volumes: [{name: tmp, mountPath: /scratch}]\n",
        paths: &["spec.volumes[0].name"],
    },
    Case {
        name: "volume mounted over tmp",
        replace: &[],
        append: "  volumes: [{name: scratch, mountPath: /tmp}]\n",
        paths: &["spec.volumes[0].mountPath"],
    },
    Case {
        name: "config files without files",
        replace: &[],
        append: "  configFiles: {files: {}}\n",
        paths: &["spec.configFiles.files"],
    },
    Case {
        name: "config file name with a space",
        replace: &[],
        append: "  configFiles: {files: {'my settings.py': x}}\n",
        paths: &["spec.configFiles.files[\"my settings.py\"]"],
    },
    Case {
        name: "config files at a relative path",
        replace: &[],
        append: "  configFiles: {mountPath: config, files: {a.toml: x}}\n",
        paths: &["spec.configFiles.mountPath"],
    },
    Case {
        name: "config files and a volume at one path",
        replace: &[],
        append: "  configFiles: {files: {a.toml: x}}\n  volumes: [{name: data, mountPath: /app/config}]\n",
        paths: &["spec.volumes[0].mountPath"],
    },
    Case {
        name: "external service by ip address",
        replace: &[],
        append: "  externalServices: [{name: db, externalName: 10.0.0.5}]\n",
        paths: &["spec.externalServices[0].externalName"],
    },
    Case {
        name: "network policy with a bad cidr",
        replace: &[],
        append: "  networkPolicy: {egressCidrs: [{cidr: 10.0.0.0/40}]}\n",
        paths: &["spec.networkPolicy.egressCidrs[0].cidr"],
    },
    Case {
        name: "network policy source is not a name",
        replace: &[],
        append: "  networkPolicy: {allowFrom: [Shop_Web]}\n",
        paths: &["spec.networkPolicy.allowFrom[0]"],
    },
    Case {
        name: "claim with a bad size",
        replace: &[(
            PORTS,
            "  kind: stateful\n  ports: [{name: pg, port: 5432}]\n",
        )],
        append: "  stateful: {volumeClaims: [{name: data, mountPath: /data, size: ten}]}\n",
        paths: &["spec.stateful.volumeClaims[0].size"],
    },
    Case {
        name: "stateful block on a web service",
        replace: &[],
        append: "  stateful: {volumeClaims: [{name: data, mountPath: /data, size: 1Gi}]}\n",
        paths: &["spec.stateful"],
    },
    Case {
        name: "prestop pause longer than the grace period",
        replace: &[],
        append: "  preStopSleepSeconds: 40\n",
        paths: &["spec.preStopSleepSeconds"],
    },
    Case {
        name: "unknown log level",
        replace: &[],
        append: "  logging: {format: json, level: LOUD}\n",
        paths: &["spec.logging.level"],
    },
    Case {
        name: "unknown log format",
        replace: &[],
        append: "  logging: {format: xml}\n",
        paths: &["spec.logging.format"],
    },
    Case {
        name: "unknown workload kind",
        replace: &[],
        append: "  kind: webapp\n",
        paths: &["spec.kind"],
    },
    Case {
        name: "unknown framework",
        replace: &[],
        append: "  framework: djangoo\n",
        paths: &["spec.framework"],
    },
    Case {
        name: "app module with spaces",
        replace: &[],
        append: "  framework: django\n  appModule: my app\n",
        paths: &["spec.appModule"],
    },
    Case {
        name: "root group and root fs group",
        replace: &[],
        append: "  security: {runAsGroup: 0, fsGroup: 0}\n",
        paths: &["spec.security.runAsGroup", "spec.security.fsGroup"],
    },
    Case {
        name: "a slipway.dev annotation on the service account",
        replace: &[],
        append: "  serviceAccount: {annotations: {slipway.dev/revision: '1'}}\n",
        paths: &["spec.serviceAccount.annotations[\"slipway.dev/revision\"]"],
    },
    Case {
        name: "a snippet annotation on the ingress",
        replace: &[],
        append: "  ingress: {hosts: [a.example.com], annotations: {nginx.ingress.kubernetes.io/server-snippet: x}}\n",
        paths: &["spec.ingress.annotations[\"nginx.ingress.kubernetes.io/server-snippet\"]"],
    },
    Case {
        name: "a TLS secret that is also a normal secret",
        replace: &[],
        append: "  env: [{name: K, secret: {name: web-tls, key: k}}]\n  ingress: {hosts: [a.example.com], tls: {secretName: web-tls}}\n",
        paths: &["spec.ingress.tls.secretName"],
    },
    Case {
        name: "an external name inside the cloud's metadata zone",
        replace: &[],
        append: "  externalServices: [{name: meta, externalName: metadata.google.internal}]\n",
        paths: &["spec.externalServices[0].externalName"],
    },
    Case {
        name: "a toleration without a key",
        replace: &[],
        append: "  placement: {tolerations: [{operator: Exists}]}\n",
        paths: &["spec.placement.tolerations[0].key"],
    },
    Case {
        name: "an Exists toleration with a value, seconds without NoExecute",
        replace: &[],
        append: "  placement: {tolerations: [{key: dedicated, operator: Exists, value: gpu, effect: NoSchedule, tolerationSeconds: 30}]}\n",
        paths: &[
            "spec.placement.tolerations[0].value",
            "spec.placement.tolerations[0].tolerationSeconds",
        ],
    },
    Case {
        name: "a toleration with a bad key, value and effect name",
        replace: &[],
        append: "  placement: {tolerations: [{key: 'bad key', value: 'no spaces'}, {key: ok, effect: NoSchedul}]}\n",
        paths: &[
            "spec.placement.tolerations[0].key",
            "spec.placement.tolerations[0].value",
            "spec.placement.tolerations[1].effect",
        ],
    },
    Case {
        name: "too many ingress paths",
        replace: &[],
        append: "  ingress:\n    hosts: [a.example.com]\n    paths: [{path: /1}, {path: /2}, {path: /3}, {path: /4}, {path: /5}, {path: /6}, {path: /7}, {path: /8}, {path: /9}, {path: /10}, {path: /11}, {path: /12}, {path: /13}, {path: /14}, {path: /15}, {path: /16}, {path: /17}, {path: /18}, {path: /19}, {path: /20}, {path: /21}]\n",
        paths: &["spec.ingress.paths"],
    },
];

fn case_text(case: &Case) -> String {
    let mut text = BASE.to_owned();
    for (from, to) in case.replace {
        assert!(
            text.contains(from),
            "case `{}` replaces `{from}`, which BASE lacks",
            case.name
        );
        text = text.replacen(from, to, 1);
    }
    text.push_str(case.append);
    text
}

#[test]
fn the_base_of_the_invalid_table_is_valid() {
    if let Err(errors) = parse(BASE) {
        panic!("{errors:?}");
    }
}

#[test]
fn every_invalid_spec_reports_exactly_the_expected_paths() {
    assert!(CASES.len() >= 40, "the table keeps at least 40 cases");
    let mut failures = Vec::new();
    for case in CASES {
        let text = case_text(case);
        let mut got: Vec<String> = match parse(&text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.path).collect(),
        };
        got.sort();
        got.dedup();
        let mut want: Vec<String> = case.paths.iter().map(|p| (*p).to_owned()).collect();
        want.sort();
        if got != want {
            let detail = match parse(&text) {
                Err(errors) => errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n    "),
                Ok(_) => "(valid)".to_owned(),
            };
            failures.push(format!(
                "{}: want {want:?}, got {got:?}\n    {detail}",
                case.name
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn a_misspelt_field_suggests_the_right_name() {
    let errors = parse(&format!("{BASE}  replcas: 2\n")).expect_err("invalid");
    assert_eq!(
        errors[0].to_string(),
        "spec.replcas: unknown field; did you mean `replicas`?"
    );
}

#[test]
fn a_missing_field_does_not_hide_the_other_rules() {
    // The image is missing and a key misspelt: the name's rule still runs.
    let errors = parse(
        "apiVersion: slipway.dev/v1\nkind: Service\nmetadata: {name: Bad_Name, team: shop}\nspec: {replicaz: 2}\n",
    )
    .expect_err("invalid");
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    for want in [
        "spec.replicaz: unknown field; did you mean `replicas`?",
        "spec.image: missing",
    ] {
        assert!(shown.iter().any(|e| e == want), "{want}: {shown:#?}");
    }
    assert!(
        shown.iter().any(|e| e.starts_with("metadata.name: ")),
        "{shown:#?}"
    );
    // Nothing is said about the stand-in that let the rest be read.
    assert_eq!(
        shown.iter().filter(|e| e.starts_with("spec.image")).count(),
        1,
        "{shown:#?}"
    );
}

#[test]
fn a_missing_mapping_is_stood_in_for_with_its_own_required_fields() {
    // No metadata at all, and a bad port: the port's rule still runs.
    let errors = parse(
        "apiVersion: slipway.dev/v1\nkind: Service\nspec:\n  image: registry.example.com/api:1.0\n  ports: [{name: http, port: 0}]\n",
    )
    .expect_err("invalid");
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert!(paths.contains(&"metadata"), "{errors:#?}");
    assert!(
        paths.iter().any(|p| p.starts_with("spec.ports[0]")),
        "{errors:#?}"
    );
    assert!(
        !paths.iter().any(|p| p.starts_with("metadata.")),
        "{errors:#?}"
    );
}

#[test]
fn a_field_written_at_the_wrong_depth_is_found_where_it_belongs() {
    let errors = parse(&format!("{BASE}  volumeClaims: []\n")).expect_err("invalid");
    assert_eq!(
        errors[0].to_string(),
        "spec.volumeClaims: unknown field here; did you mean `spec.stateful.volumeClaims`? (docs/spec.md lists the fields)"
    );
    // A near spelling at another depth too.
    let errors = parse(&format!("{BASE}  schedule: '0 3 * * *'\n")).expect_err("invalid");
    assert!(
        errors[0]
            .message
            .contains("did you mean `spec.cron.schedule`?"),
        "{errors:#?}"
    );
}

#[test]
fn a_misspelt_enum_value_suggests_the_right_value() {
    let errors = parse(&format!("{BASE}  framework: djangoo\n")).expect_err("invalid");
    assert_eq!(
        errors[0].to_string(),
        "spec.framework: `djangoo` is not allowed; did you mean `django`?"
    );
}

#[test]
fn a_missing_secret_key_reads_missing() {
    let errors = parse(&format!("{BASE}  env:\n    - {{name: A, value: x}}\n    - {{name: B, value: y}}\n    - {{name: C, value: z}}\n    - {{name: DB, secret: {{name: db}}}}\n")).expect_err("invalid");
    assert_eq!(errors[0].to_string(), "spec.env[3].secret.key: missing");
}

#[test]
fn yaml_syntax_errors_are_reported_for_the_document() {
    let errors = parse("spec: [unclosed").expect_err("invalid");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].path.is_empty());
    assert!(
        errors[0].message.starts_with("not valid YAML"),
        "{}",
        errors[0].message
    );
}

#[test]
fn an_empty_document_is_reported_not_panicked_on() {
    for text in ["", "   \n", "~", "42", "[1, 2]", "{}"] {
        assert!(parse(text).is_err(), "{text:?} should be invalid");
    }
}

#[test]
fn json_input_is_read_like_yaml() {
    let yaml = parse(BASE).expect("valid");
    let json = parse(&serde_json::to_string(&yaml).expect("serialise")).expect("valid JSON spec");
    assert_eq!(yaml, json);
    let value = serde_json::to_value(&yaml).expect("serialise");
    assert_eq!(from_json_value(value).expect("valid"), yaml);
}

fn examples() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .expect("examples folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, std::fs::read_to_string(&p).expect("readable example"))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_example_is_valid() {
    let examples = examples();
    assert!(examples.len() >= 8);
    for (name, text) in examples {
        if let Err(errors) = parse(&text) {
            panic!("{name}: {errors:#?}");
        }
    }
}

#[test]
fn canonical_yaml_reads_back_to_the_same_spec() {
    for (name, text) in examples() {
        let spec = parse(&text).expect("valid example");
        let again = parse(&spec.to_yaml()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(spec, again, "{name}");
        assert_eq!(spec.to_yaml(), again.to_yaml(), "{name}");
    }
}

#[test]
fn the_content_hash_ignores_comments_and_key_order() {
    let a = parse(BASE).expect("valid");
    let reordered = "# a comment\nkind: Service\napiVersion: slipway.dev/v1\nspec:\n  resources: {limits: {memory: 256Mi}, requests: {memory: 128Mi, cpu: 100m}}\n  ports: [{port: 8000, name: http}]\n  image: registry.example.com/api:1.0\nmetadata: {team: shop, name: api}\n";
    let b = parse(reordered).expect("valid");
    assert_eq!(a.content_hash(), b.content_hash());
    assert_eq!(a.content_hash().len(), 64);
    let c = parse(&format!("{BASE}  replicas: 3\n")).expect("valid");
    assert_ne!(a.content_hash(), c.content_hash());
}

#[test]
fn the_schema_rejects_unknown_fields_and_describes_fields() {
    let schema = json_schema();
    assert_eq!(schema["additionalProperties"], false);
    let spec = &schema["$defs"]["Spec"];
    assert_eq!(spec["additionalProperties"], false);
    assert!(
        spec["properties"]["image"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("image"))
    );
}

#[test]
fn field_errors_display_as_path_colon_message() {
    assert_eq!(
        FieldError::new("spec.env[3].secret.key", "missing").to_string(),
        "spec.env[3].secret.key: missing"
    );
}

#[test]
fn an_environment_override_replaces_replicas_and_turns_autoscaling_off() {
    let spec = parse(&format!("{BASE}  autoscaling: {{minReplicas: 2, maxReplicas: 4, cpu: 70}}\n  environments: {{development: {{replicas: 1}}}}\n")).expect("valid");
    let dev = spec.for_environment("development");
    assert_eq!(dev.spec.replicas, Some(1));
    assert!(dev.spec.autoscaling.is_none());
    assert!(dev.spec.environments.is_empty());
    let prod = spec.for_environment("production");
    assert!(prod.spec.autoscaling.is_some());
}

#[test]
fn custom_environments_may_be_allowed() {
    let spec: ServiceSpec =
        serde_saphyr::from_str(&format!("{BASE}  environments: {{qa: {{replicas: 1}}}}\n"))
            .expect("reads");
    assert_eq!(validate(&spec).len(), 1);
    assert!(validate_with_environments(&spec, &["qa", "production"]).is_empty());
}
