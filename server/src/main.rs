//! The `slipway` binary: parses the command line and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slipway::config::{Config, SecretString};
use slipway::render::checklist::Rules;
use slipway::{cli, cli_spec, telemetry};

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
    /// Serve the portal with configuration from the environment.
    Serve(Box<Config>),
    /// Embedded default: private PostgreSQL, migrations, demo team, local cluster, serve.
    Run(Box<Config>),
    /// Apply pending migrations and exit.
    Migrate {
        /// PostgreSQL URL (else the private instance of `slipway run` here).
        #[arg(long, env = "SLIPWAY_DATABASE_URL")]
        database_url: Option<SecretString>,
    },
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
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password comes from SLIPWAY_ADMIN_PASSWORD or stdin.
    CreateUser {
        #[arg(long)]
        email: String,
        /// Make the user a global administrator.
        #[arg(long)]
        admin: bool,
        /// Add the user to this team.
        #[arg(long)]
        team: Option<String>,
        #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
        database_url: Option<SecretString>,
        #[arg(
            long,
            env = "SLIPWAY_ADMIN_PASSWORD",
            hide_env_values = true,
            hide = true
        )]
        password: Option<SecretString>,
    },
    /// Create a team.
    CreateTeam {
        #[arg(long)]
        name: String,
        #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
        database_url: Option<SecretString>,
    },
    /// Create an API token for a user and print it once.
    Token {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long, env = "SLIPWAY_DATABASE_URL", hide_env_values = true)]
        database_url: Option<SecretString>,
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
            Command::Migrate { database_url } => cli::migrate(database_url).await,
            Command::Admin(AdminCommand::CreateUser {
                email,
                admin,
                team,
                database_url,
                password,
            }) => {
                cli::admin_create_user(database_url, &email, admin, team.as_deref(), password).await
            }
            Command::Admin(AdminCommand::CreateTeam { name, database_url }) => {
                cli::admin_create_team(database_url, &name).await
            }
            Command::Validate { .. }
            | Command::Render { .. }
            | Command::Check { .. }
            | Command::Schema => {
                unreachable!("handled before the runtime starts")
            }
            Command::Admin(AdminCommand::Token {
                email,
                name,
                database_url,
            }) => cli::admin_token(database_url, &email, &name).await,
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
