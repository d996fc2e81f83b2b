//! The `slipway` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use slipway::config::{self, Config, SecretString};
use slipway::render::checklist::Rules;
use slipway::{cli, cli_client, cli_spec, telemetry};

/// mimalloc rather than glibc's malloc: rendering and serving build many small
/// strings and maps, and glibc's allocator spent over half the renderer's time
/// in malloc and free (measured with `perf` on `make bench`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Slipway: a self-service deployment portal for Python services on Kubernetes.
#[derive(Parser)]
#[command(name = "slipway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the portal with configuration from the environment. Secrets come
    /// only from variables or files, never flags: SLIPWAY_DATABASE_URL,
    /// SLIPWAY_MIGRATION_DATABASE_URL, SLIPWAY_SECRET_KEY (each also NAME_FILE).
    Serve(Box<Config>),
    /// Embedded default: private PostgreSQL, migrations, demo team, local cluster, serve.
    /// SLIPWAY_ADMIN_PASSWORD (or its _FILE) chooses the seeded admin's password.
    Run(Box<Config>),
    /// Apply pending migrations and exit. The URL comes from
    /// SLIPWAY_MIGRATION_DATABASE_URL, else SLIPWAY_DATABASE_URL (each also
    /// as a `_FILE` variable), else the private instance of `slipway run` here.
    Migrate,
    /// Check service spec files; exit 2 with `FILE: field.path: message` lines when invalid.
    Validate {
        /// Spec files (YAML or JSON).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the Kubernetes objects of a spec as multi-document YAML.
    Render {
        /// Spec file.
        file: PathBuf,
        /// Environment name (development, staging, production, …).
        #[arg(long)]
        env: String,
        /// Image reference to deploy instead of the spec's.
        #[arg(long)]
        image: Option<String>,
    },
    /// The production-readiness checklist: PASS/WARN/FAIL per check; exit 1 on any FAIL.
    Check {
        /// Spec file.
        file: PathBuf,
        /// Environment name.
        #[arg(long)]
        env: String,
        /// Rules to apply: `production` or `standard` (default: production for an
        /// environment named `production`, standard otherwise).
        #[arg(long, value_parser = parse_rules)]
        rules: Option<Rules>,
    },
    /// Print the JSON Schema of the service spec.
    Schema,
    /// Administration.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Request a deploy through a Slipway server; with --wait, follow it:
    /// exit 0 when it succeeded, 1 when it failed, 2 when refused or still
    /// awaiting approval at the timeout.
    Deploy {
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        team: String,
        #[arg(long)]
        service: String,
        /// Environment name.
        #[arg(long)]
        env: String,
        /// Image reference to deploy.
        #[arg(long)]
        image: String,
        /// Wait until the rollout finished.
        #[arg(long)]
        wait: bool,
        /// How long --wait waits, e.g. 300s, 10m.
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        timeout: Duration,
    },
    /// Create the service or add a revision from a spec file (none when unchanged);
    /// exit 2 with `FILE: field.path: message` lines when invalid.
    Apply {
        #[command(flatten)]
        remote: RemoteArgs,
        /// The spec file (its metadata.team names the team).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// The live scaling status of a service in an environment.
    Status {
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        team: String,
        #[arg(long)]
        service: String,
        #[arg(long)]
        env: String,
    },
    /// A service's recent deploys.
    History {
        #[command(flatten)]
        remote: RemoteArgs,
        #[arg(long)]
        team: String,
        #[arg(long)]
        service: String,
        #[arg(long)]
        env: Option<String>,
    },
}

/// The server and token of the CI client's commands.
#[derive(clap::Args)]
struct RemoteArgs {
    /// The Slipway server, e.g. https://slipway.example.com.
    #[arg(long, env = "SLIPWAY_SERVER")]
    server: String,
    /// A personal API token (from the account page or `slipway admin token`).
    /// Prefer SLIPWAY_TOKEN or SLIPWAY_TOKEN_FILE: a flag is visible in `ps`.
    #[arg(long, env = "SLIPWAY_TOKEN", hide_env_values = true)]
    token: Option<SecretString>,
}

impl RemoteArgs {
    /// The server and the token: `--token` or `SLIPWAY_TOKEN`, else the file
    /// `SLIPWAY_TOKEN_FILE` names. `--token` stays (the README documents it)
    /// but warns, since every local user can read argv.
    fn remote(&self) -> anyhow::Result<cli_client::Remote> {
        if std::env::args().any(|a| a == "--token" || a.starts_with("--token=")) {
            eprintln!(
                "slipway: warning: --token is visible to other users of this machine (ps); \
                 use SLIPWAY_TOKEN or SLIPWAY_TOKEN_FILE"
            );
        }
        let token = match &self.token {
            Some(token) => token.clone(),
            None => config::secret_from_env("SLIPWAY_TOKEN")?.ok_or_else(|| {
                anyhow::anyhow!("no token: set SLIPWAY_TOKEN or SLIPWAY_TOKEN_FILE (or --token)")
            })?,
        };
        Ok(cli_client::Remote {
            server: self.server.clone(),
            token,
        })
    }
}

/// `90s`, `10m`, `1h`, or plain seconds.
fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => value.split_at(at),
        None => (value, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| "must be a number with s, m or h, e.g. 300s".to_owned())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err("must end in s, m or h".into()),
    };
    Ok(Duration::from_secs(secs))
}

/// The admin subcommands read the database from SLIPWAY_DATABASE_URL (or
/// SLIPWAY_DATABASE_URL_FILE), never from a flag: argv is visible in `ps`.
#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password comes from SLIPWAY_ADMIN_PASSWORD (or
    /// SLIPWAY_ADMIN_PASSWORD_FILE) or stdin.
    CreateUser {
        #[arg(long)]
        email: String,
        /// Make the user a global administrator.
        #[arg(long)]
        admin: bool,
        /// Add the user to this team.
        #[arg(long)]
        team: Option<String>,
    },
    /// Create a team.
    CreateTeam {
        #[arg(long)]
        name: String,
    },
    /// Create an API token for a user and print it once (audited, `via: cli`).
    Token {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// Days until it expires, 1 to 365 (default 90).
        #[arg(long)]
        expires_in_days: Option<i64>,
        /// Scopes beyond `read`, comma-separated or repeated: `deploy`,
        /// `approve` (default: read, deploy, approve).
        #[arg(long = "scope", value_delimiter = ',')]
        scopes: Vec<String>,
    },
}

fn parse_rules(value: &str) -> Result<Rules, String> {
    match value {
        "production" => Ok(Rules::Production),
        "standard" => Ok(Rules::Standard),
        _ => Err("must be `production` or `standard`".into()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The spec tools are pure and synchronous: no runtime, no database.
    let spec_tool = match &cli.command {
        Command::Validate { files } => Some(cli_spec::validate(files)),
        Command::Render { file, env, image } => Some(cli_spec::render(file, env, image.clone())),
        Command::Check { file, env, rules } => Some(cli_spec::check(file, env, *rules)),
        Command::Schema => Some(cli_spec::schema()),
        _ => None,
    };
    if let Some(code) = spec_tool {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("slipway: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let client = runtime.block_on(async {
        let (out, err) = (&mut std::io::stdout(), &mut std::io::stderr());
        match &cli.command {
            Command::Deploy {
                remote,
                team,
                service,
                env,
                image,
                wait,
                timeout,
            } => {
                let args = cli_client::DeployArgs {
                    team: team.clone(),
                    service: service.clone(),
                    environment: env.clone(),
                    image: image.clone(),
                    wait: *wait,
                    timeout: *timeout,
                    poll: Duration::from_secs(2),
                };
                match remote.remote() {
                    Ok(r) => Some(cli_client::deploy(&r, &args, out, err).await),
                    Err(e) => Some(Err(e)),
                }
            }
            Command::Apply { remote, file } => match remote.remote() {
                Ok(r) => Some(cli_client::apply(&r, file, out, err).await),
                Err(e) => Some(Err(e)),
            },
            Command::Status {
                remote,
                team,
                service,
                env,
            } => match remote.remote() {
                Ok(r) => Some(cli_client::status(&r, team, service, env, out, err).await),
                Err(e) => Some(Err(e)),
            },
            Command::History {
                remote,
                team,
                service,
                env,
            } => match remote.remote() {
                Ok(r) => {
                    Some(cli_client::history(&r, team, service, env.as_deref(), out, err).await)
                }
                Err(e) => Some(Err(e)),
            },
            _ => None,
        }
    });
    match client {
        Some(Ok(code)) => return ExitCode::from(code),
        Some(Err(err)) => {
            eprintln!("slipway: {err:#}");
            return ExitCode::from(cli_client::EXIT_FAILED);
        }
        None => {}
    }
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(config) => {
                telemetry::init(&config.log, config.log_format);
                cli::serve(*config).await
            }
            Command::Run(config) => {
                telemetry::init(&config.log, config.log_format);
                cli::run(*config).await
            }
            Command::Migrate => match config::migration_database_url_from_env() {
                Ok(url) => cli::migrate(url).await,
                Err(err) => Err(err),
            },
            Command::Admin(AdminCommand::CreateUser { email, admin, team }) => {
                match (
                    config::database_url_from_env(),
                    config::secret_from_env("SLIPWAY_ADMIN_PASSWORD"),
                ) {
                    (Ok(url), Ok(password)) => {
                        cli::admin_create_user(url, &email, admin, team.as_deref(), password).await
                    }
                    (Err(err), _) | (_, Err(err)) => Err(err),
                }
            }
            Command::Admin(AdminCommand::CreateTeam { name }) => {
                match config::database_url_from_env() {
                    Ok(url) => cli::admin_create_team(url, &name).await,
                    Err(err) => Err(err),
                }
            }
            Command::Validate { .. }
            | Command::Render { .. }
            | Command::Check { .. }
            | Command::Schema => {
                unreachable!("handled before the runtime starts")
            }
            Command::Deploy { .. }
            | Command::Apply { .. }
            | Command::Status { .. }
            | Command::History { .. } => unreachable!("the CI client is handled above"),
            Command::Admin(AdminCommand::Token {
                email,
                name,
                expires_in_days,
                scopes,
            }) => match config::database_url_from_env() {
                Ok(url) => cli::admin_token(url, &email, &name, expires_in_days, &scopes).await,
                Err(err) => Err(err),
            },
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("slipway: {err:#}");
            ExitCode::FAILURE
        }
    }
}
