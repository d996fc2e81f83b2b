//! The `.slipway/` folder of a checkout: the run lock, the generated secret key, the database URL.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use rand::RngCore as _;

use crate::secret::SecretKey;

/// The folder everything of `slipway run` lives in.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

/// Held while `slipway run` runs; a second run in the same folder cannot take it.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl StateDir {
    /// `.slipway/` under `base`, made absolute.
    pub fn new(base: &Path) -> anyhow::Result<Self> {
        let base = if base.is_absolute() {
            base.to_owned()
        } else {
            let cwd = std::env::current_dir().context("reading the current folder")?;
            // `./.slipway` would print as `/work/x/./.slipway`; keep paths clean.
            if base == Path::new(".") {
                cwd
            } else {
                cwd.join(base)
            }
        };
        let root = base.join(".slipway");
        fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        Ok(Self { root })
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A path inside the folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Takes the run lock, or says clearly that another `slipway run` holds it.
    pub fn lock_run(&self) -> anyhow::Result<RunLock> {
        let path = self.path("run.lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                writeln!(file, "{}", std::process::id())?;
                Ok(RunLock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&path).unwrap_or_default();
                anyhow::bail!(
                    "slipway run is already running in {} (pid {}); stop it first or use that one",
                    self.root.parent().unwrap_or(&self.root).display(),
                    pid.trim()
                )
            }
            Err(fs::TryLockError::Error(e)) => Err(e).context("locking .slipway/run.lock"),
        }
    }

    /// The secret key of this checkout, generated once (mode 0600).
    pub fn secret_key(&self) -> anyhow::Result<SecretKey> {
        let path = self.path("secret-key");
        if let Ok(text) = fs::read_to_string(&path) {
            return text
                .parse::<SecretKey>()
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()));
        }
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let text = base64::engine::general_purpose::STANDARD.encode(key);
        write_private(&path, &text)?;
        Ok(SecretKey(key))
    }

    /// The serving role's password of the private instance, generated once (mode 0600).
    pub fn serving_password(&self) -> anyhow::Result<String> {
        let path = self.path("serving-password");
        if let Ok(text) = fs::read_to_string(&path)
            && !text.trim().is_empty()
        {
            return Ok(text.trim().to_owned());
        }
        let mut bytes = [0u8; 18];
        rand::rng().fill_bytes(&mut bytes);
        let password = hex::encode(bytes);
        write_private(&path, &password)?;
        Ok(password)
    }

    /// Writes the schema owner's URL, which `slipway migrate` in this folder uses.
    pub fn write_migration_database_url(&self, url: &str) -> anyhow::Result<()> {
        write_private(&self.path("migration-database-url"), url)
    }

    /// The schema owner's URL `run` wrote, if any.
    pub fn migration_database_url(&self) -> Option<String> {
        fs::read_to_string(self.path("migration-database-url"))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    /// Writes the database URL for other subcommands (`migrate`, `admin`) to find.
    pub fn write_database_url(&self, url: &str) -> anyhow::Result<()> {
        write_private(&self.path("database-url"), url)
    }

    /// The database URL `run` wrote, if any.
    pub fn database_url(&self) -> Option<String> {
        fs::read_to_string(self.path("database-url"))
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    }
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())?;
    }
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_run_lock_in_same_folder_is_refused_with_a_clear_message() {
        let dir = std::env::temp_dir().join(format!("slipway-lock-{}", std::process::id()));
        let state = StateDir::new(&dir).unwrap();
        let _first = state.lock_run().unwrap();
        let err = state.lock_run().unwrap_err().to_string();
        assert!(err.contains("already running"), "{err}");
        drop(_first);
        assert!(state.lock_run().is_ok());
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn secret_key_is_generated_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("slipway-key-{}", std::process::id()));
        let state = StateDir::new(&dir).unwrap();
        let a = state.secret_key().unwrap();
        let b = state.secret_key().unwrap();
        assert_eq!(a.0, b.0);
        let _ = fs::remove_dir_all(dir);
    }
}
