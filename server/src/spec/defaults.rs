//! Every default the spec documents, in one place, so `docs/spec.md`, the
//! renderer and the checklist cannot disagree.

/// Replicas of `web` and `worker` when neither `replicas` nor autoscaling is set:
/// two, so one pod can be drained while the other serves.
pub const REPLICAS: u32 = 2;
/// Replicas of `stateful` when unset: one, because a database does not scale by copying pods.
pub const STATEFUL_REPLICAS: u32 = 1;
/// The name of the application container in every pod.
pub const APP_CONTAINER: &str = "app";
/// The writable emptyDir mounted at `/tmp`, because the root filesystem is read-only.
pub const TMP_VOLUME: &str = "tmp";
/// Size limit of the writable `/tmp` emptyDir.
pub const TMP_SIZE_LIMIT: &str = "256Mi";
/// Size limit of a `spec.volumes` emptyDir that names none.
pub const EMPTY_DIR_SIZE_LIMIT: &str = "1Gi";
/// The volume holding `spec.configFiles`.
pub const CONFIG_VOLUME: &str = "config";
/// Where config files are mounted when `configFiles.mountPath` is unset.
pub const CONFIG_MOUNT_PATH: &str = "/app/config";
/// Seconds between SIGTERM and SIGKILL when unset (Kubernetes' own default, made explicit).
pub const TERMINATION_GRACE_SECONDS: u32 = 30;
/// The Celery preset's grace period: two minutes for the tasks a worker holds
/// to finish on SIGTERM (Celery's warm shutdown) before it is killed.
pub const CELERY_TERMINATION_GRACE_SECONDS: u32 = 120;
/// Below this grace an autoscaled worker fails the `worker-shutdown` check (WARN).
pub const WORKER_SHUTDOWN_GRACE_SECONDS: u32 = 60;
/// Seconds a `web` pod sleeps in preStop so endpoint removal reaches every proxy
/// before the app stops accepting connections.
pub const PRE_STOP_SLEEP_SECONDS_WEB: u32 = 5;
/// User id of the non-root security context: above 10000, so it is no user of
/// the node (distributions hand out ids from 1000), which kube-score and Polaris
/// require; the article's 1000 is one of the node's first human users.
pub const RUN_AS_USER: i64 = 10001;
/// Group id of the security context (above 10000, like the user id).
pub const RUN_AS_GROUP: i64 = 10001;
/// Volume-owning group of the security context (above 10000, like the user id).
pub const FS_GROUP: i64 = 10001;
/// Ephemeral storage (writable layer, logs) the scheduler reserves for the
/// application container when `resources` names none.
pub const APP_EPHEMERAL_STORAGE_REQUEST: &str = "128Mi";
/// The application container's ephemeral-storage limit when `resources` names
/// none, before the pod's disk emptyDirs are added to it: the kubelet evicts a
/// pod whose containers and emptyDirs together use more than its containers'
/// limits, so each emptyDir's own size limit must fit under them.
pub const APP_EPHEMERAL_STORAGE_LIMIT: &str = "512Mi";
/// Ephemeral storage requested by a sidecar or init container that names none.
pub const EXTRA_EPHEMERAL_STORAGE_REQUEST: &str = "64Mi";
/// Ephemeral-storage limit of a sidecar or init container that names none.
pub const EXTRA_EPHEMERAL_STORAGE_LIMIT: &str = "256Mi";
/// The image pull policy when `imagePullPolicy` is unset: images are pinned
/// (tag or digest), so a node that has one need not ask the registry again.
pub const IMAGE_PULL_POLICY: &str = "IfNotPresent";
/// The namespace ingress-nginx installs into.
pub const INGRESS_CONTROLLER_NAMESPACE: &str = "ingress-nginx";
/// The Prometheus path when `metrics.path` is unset.
pub const METRICS_PATH: &str = "/metrics";
/// Rolling update surge when unset.
pub const MAX_SURGE: &str = "25%";
/// Rolling update unavailability when unset: zero, so capacity never drops during a rollout.
pub const MAX_UNAVAILABLE: u32 = 0;
/// The Service port of a `web` service when `service.ports` is unset.
pub const SERVICE_PORT: u16 = 80;
/// HPA scale-down stabilisation window when unset (Kubernetes' default, made explicit).
pub const SCALE_DOWN_WINDOW_SECONDS: u32 = 300;
/// HPA scale-down step when unset: at most half the pods per period.
pub const SCALE_DOWN_PERCENT: u32 = 50;
/// HPA scale-down period when unset.
pub const SCALE_DOWN_PERIOD_SECONDS: u32 = 60;
/// CronJob successful history when unset.
pub const CRON_SUCCESSFUL_HISTORY: u32 = 3;
/// CronJob failed history when unset.
pub const CRON_FAILED_HISTORY: u32 = 1;
/// Seconds a missed CronJob run may still start when unset. Without a deadline
/// the controller counts every missed run since the last one and, past 100,
/// stops scheduling the CronJob at all (after a long controller outage).
pub const CRON_STARTING_DEADLINE_SECONDS: u32 = 300;
/// Job retries when unset.
pub const CRON_BACKOFF_LIMIT: u32 = 2;
/// Seconds a finished Job is kept, so its logs can still be read.
pub const JOB_TTL_SECONDS: i32 = 86_400;
/// Longest service name: derived names (`-config`, `-green`, CronJob's Job suffix,
/// StatefulSet pod ordinals) must stay within Kubernetes' 63-character limits.
pub const MAX_SERVICE_NAME: usize = 45;
