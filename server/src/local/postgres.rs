//! A private PostgreSQL server for `slipway run`, kept under `.slipway/postgres`.
//!
//! PostgreSQL refuses to run as root. When Slipway runs as root (as on many build
//! machines and containers) it runs the server as the unprivileged system user
//! `slipway`, creating it when missing. A checkout often sits under a home folder
//! that user cannot enter (e.g. `/root`, mode 0700); then the data lives under
//! `/var/lib/slipway/<checkout hash>/` and `.slipway/postgres` is a symlink to it.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use super::state_dir::{StateDir, write_private};

/// The system user that runs PostgreSQL when Slipway is root.
pub const SERVICE_USER: &str = "slipway";
/// Database and role name of the private instance.
pub const DB_NAME: &str = "slipway";

/// A private PostgreSQL instance, stopped by [`LocalPostgres::stop`].
#[derive(Debug)]
pub struct LocalPostgres {
    bindir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    password: String,
    run_as: Option<String>,
}

/// Finds the PostgreSQL server binaries: `pg_config --bindir`, then the Debian layout.
pub fn find_bindir() -> anyhow::Result<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
            return Ok(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).context(
        "PostgreSQL server binaries not found (install the `postgresql` package; `make run` does)",
    )
}

fn is_root() -> bool {
    // SAFETY-free check: /proc/self/status carries the effective uid.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn ensure_service_user() -> anyhow::Result<()> {
    let exists = Command::new("id")
        .args(["-u", SERVICE_USER])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if exists {
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            SERVICE_USER,
        ])
        .status()
        .context("running useradd")?;
    if !status.success() {
        bail!(
            "could not create the system user `{SERVICE_USER}` to run PostgreSQL (useradd failed)"
        );
    }
    Ok(())
}

/// A command run as `user` (via runuser) or as ourselves.
fn command_as(user: Option<&str>, program: &Path) -> Command {
    match user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn user_can_write(user: &str, dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "test", "-w"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn chown(user: &str, path: &Path) -> anyhow::Result<()> {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(path)
        .status()
        .context("running chown")?;
    if !status.success() {
        bail!("chown {} failed", path.display());
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

impl LocalPostgres {
    /// Prepares the data folder (initdb on first use) without starting the server.
    pub fn prepare(state: &StateDir) -> anyhow::Result<Self> {
        let bindir = find_bindir()?;
        let run_as = if is_root() {
            ensure_service_user()?;
            Some(SERVICE_USER.to_owned())
        } else {
            None
        };
        let data_dir = Self::locate_data_dir(state, run_as.as_deref())?;
        let password_file = state.path("postgres-password");
        let initialised = data_dir.join("PG_VERSION").exists();
        let password = match fs::read_to_string(&password_file) {
            Ok(p) if initialised => p.trim().to_owned(),
            _ => {
                let mut bytes = [0u8; 18];
                rand::rng().fill_bytes(&mut bytes);
                hex::encode(bytes)
            }
        };
        let pg = Self {
            bindir,
            data_dir,
            port: 0,
            password,
            run_as,
        };
        if !initialised {
            pg.initdb()?;
            write_private(&password_file, &pg.password)?;
        }
        Ok(pg)
    }

    /// `.slipway/postgres`, or a symlink to a folder the service user can reach.
    fn locate_data_dir(state: &StateDir, run_as: Option<&str>) -> anyhow::Result<PathBuf> {
        let link = state.path("postgres");
        let Some(user) = run_as else {
            fs::create_dir_all(&link)?;
            fs::set_permissions(&link, fs::Permissions::from_mode(0o700))?;
            return Ok(link);
        };
        if link.is_symlink() || link.exists() {
            let target = fs::canonicalize(&link).unwrap_or_else(|_| link.clone());
            if target.exists() {
                return Ok(target);
            }
        }
        fs::create_dir_all(&link)?;
        fs::set_permissions(&link, fs::Permissions::from_mode(0o700))?;
        chown(user, &link)?;
        if user_can_write(user, &link) {
            return Ok(link);
        }
        // The checkout is not reachable by the service user: keep the data elsewhere.
        fs::remove_dir(&link)?;
        let digest = hex::encode(Sha256::digest(state.root().to_string_lossy().as_bytes()));
        let target = PathBuf::from("/var/lib/slipway")
            .join(&digest[..16])
            .join("postgres");
        fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
        fs::set_permissions(&target, fs::Permissions::from_mode(0o700))?;
        chown(user, &target)?;
        std::os::unix::fs::symlink(&target, &link)
            .with_context(|| format!("linking {} to {}", link.display(), target.display()))?;
        Ok(target)
    }

    fn initdb(&self) -> anyhow::Result<()> {
        eprintln!(
            "slipway: creating the private PostgreSQL cluster in {}",
            self.data_dir.display()
        );
        // initdb reads the superuser password from a file the service user can read.
        let pwfile = std::env::temp_dir().join(format!("slipway-pw-{}", std::process::id()));
        write_private(&pwfile, &self.password)?;
        if let Some(user) = &self.run_as {
            chown(user, &pwfile)?;
        }
        let output = command_as(self.run_as.as_deref(), &self.bindir.join("initdb"))
            .arg("-D")
            .arg(&self.data_dir)
            .args([
                "-U",
                DB_NAME,
                "-E",
                "UTF8",
                "--no-locale",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .context("running initdb");
        let _ = fs::remove_file(&pwfile);
        let output = output?;
        if !output.status.success() {
            bail!(
                "initdb failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }

    fn pg_ctl(&self) -> Command {
        let mut c = command_as(self.run_as.as_deref(), &self.bindir.join("pg_ctl"));
        c.arg("-D").arg(&self.data_dir);
        c
    }

    fn is_running(&self) -> bool {
        self.pg_ctl()
            .arg("status")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Starts the server on a free port bound to 127.0.0.1, with its socket in the data folder
    /// when the path is short enough for a Unix socket.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.is_running() {
            // Left over from a run that was killed; the run lock proves it is ours.
            eprintln!("slipway: stopping a PostgreSQL left running by an earlier run");
            self.stop();
        }
        // Keep the port across restarts so pools holding the URL reconnect by themselves.
        if self.port == 0 {
            self.port = free_port()?;
        }
        let socket_dir = if self.data_dir.as_os_str().len() < 80 {
            self.data_dir.display().to_string()
        } else {
            String::new()
        };
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='{}'",
            self.port, socket_dir
        );
        let output = self
            .pg_ctl()
            .args(["-w", "-t", "60", "-l"])
            .arg(self.data_dir.join("server.log"))
            .args(["-o", &options, "start"])
            .output()
            .context("running pg_ctl start")?;
        if !output.status.success() {
            let log = fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            bail!(
                "PostgreSQL did not start: {}\n{}",
                String::from_utf8_lossy(&output.stderr).trim(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// Stops the server cleanly (fast shutdown: sessions end, data is flushed).
    pub fn stop(&self) {
        let _ = self
            .pg_ctl()
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// URL of the `postgres` maintenance database (to create ours).
    pub fn maintenance_url(&self) -> String {
        format!(
            "postgres://{DB_NAME}:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// URL of Slipway's database.
    pub fn url(&self) -> String {
        format!(
            "postgres://{DB_NAME}:{}@127.0.0.1:{}/{DB_NAME}",
            self.password, self.port
        )
    }

    /// URL of Slipway's database as login role `user` (the serving role).
    pub fn url_as(&self, user: &str, password: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{DB_NAME}",
            self.port
        )
    }

    /// The port the server listens on (0 before the first start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}
