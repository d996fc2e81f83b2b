//! A push, read from each provider's documented payload into one shape.

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::Provider;

/// Longest commit message kept (the first line is what pages show).
const MAX_MESSAGE: usize = 2000;

/// One pushed commit: who wrote it and which paths it touched.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Commit {
    /// Full sha.
    pub id: String,
    /// Commit message (cut at 2000 characters).
    pub message: String,
    /// Author's name.
    pub author: String,
    /// Paths added, modified or removed.
    pub paths: Vec<String>,
}

/// A push as Slipway reads it, whichever provider sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Push {
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2.0`.
    pub git_ref: String,
    /// The sha the ref pointed to before.
    pub before: String,
    /// The sha it points to now; all zeros when the ref was deleted.
    pub after: String,
    /// Who pushed (a login or name).
    pub pusher: String,
    /// The pusher's email, when the provider sends one.
    pub pusher_email: String,
    /// A link comparing before and after, when the provider gives one.
    pub compare_url: String,
    /// The pushed commits, oldest first (providers cap the list; GitHub at 20).
    pub commits: Vec<Commit>,
    /// The commit the ref now points to, when the payload names it.
    pub head: Option<Commit>,
}

impl Push {
    /// True when the push deleted the ref.
    pub fn is_deletion(&self) -> bool {
        !self.after.is_empty() && self.after.bytes().all(|b| b == b'0')
    }

    /// The head commit: the payload's, else the last listed.
    pub fn head_commit(&self) -> Option<&Commit> {
        self.head.as_ref().or(self.commits.last())
    }
}

/// Why a body is not a push.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("the body is not a {provider} push: {detail}")]
pub struct NotAPush {
    /// The provider whose format was expected.
    pub provider: &'static str,
    /// What the JSON parser said.
    pub detail: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAuthor {
    name: String,
    username: String,
    email: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawCommit {
    id: String,
    message: String,
    author: RawAuthor,
    added: Vec<String>,
    modified: Vec<String>,
    removed: Vec<String>,
}

impl From<RawCommit> for Commit {
    fn from(c: RawCommit) -> Self {
        let author = if c.author.name.is_empty() {
            c.author.username
        } else {
            c.author.name
        };
        let mut paths = c.added;
        paths.extend(c.modified);
        paths.extend(c.removed);
        Commit {
            id: c.id,
            message: c.message.chars().take(MAX_MESSAGE).collect(),
            author,
            paths,
        }
    }
}

/// GitHub's push (docs: "Webhook events and payloads", `push`).
#[derive(Deserialize)]
struct GitHubPush {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    compare: String,
    #[serde(default)]
    pusher: RawAuthor,
    #[serde(default)]
    commits: Vec<RawCommit>,
    #[serde(default)]
    head_commit: Option<RawCommit>,
}

/// GitLab's push and tag push ("Webhook events": push events, tag events).
#[derive(Deserialize)]
struct GitLabPush {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    checkout_sha: Option<String>,
    #[serde(default)]
    user_username: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    user_email: String,
    #[serde(default)]
    project: GitLabProject,
    #[serde(default)]
    commits: Vec<RawCommit>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GitLabProject {
    web_url: String,
}

/// Gitea's and Forgejo's push ("Webhooks": push event payload).
#[derive(Deserialize)]
struct GiteaPush {
    #[serde(rename = "ref")]
    git_ref: String,
    #[serde(default)]
    before: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    compare_url: String,
    #[serde(default)]
    pusher: GiteaUser,
    #[serde(default)]
    commits: Vec<RawCommit>,
    #[serde(default)]
    head_commit: Option<RawCommit>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct GiteaUser {
    login: String,
    username: String,
    email: String,
}

fn read<T: DeserializeOwned>(provider: Provider, body: &[u8]) -> Result<T, NotAPush> {
    serde_json::from_slice(body).map_err(|e| NotAPush {
        provider: provider.as_str(),
        detail: e.to_string(),
    })
}

/// Reads a push of `provider` from its raw body (already verified).
pub fn parse(provider: Provider, body: &[u8]) -> Result<Push, NotAPush> {
    let push = match provider {
        Provider::GitHub => {
            let p: GitHubPush = read(provider, body)?;
            Push {
                git_ref: p.git_ref,
                before: p.before,
                after: p.after,
                pusher: if p.pusher.name.is_empty() {
                    p.pusher.username
                } else {
                    p.pusher.name
                },
                pusher_email: p.pusher.email,
                compare_url: p.compare,
                commits: p.commits.into_iter().map(Commit::from).collect(),
                head: p.head_commit.map(Commit::from),
            }
        }
        Provider::GitLab => {
            let p: GitLabPush = read(provider, body)?;
            let compare_url = if p.project.web_url.is_empty() || p.before.is_empty() {
                String::new()
            } else {
                format!("{}/-/compare/{}...{}", p.project.web_url, p.before, p.after)
            };
            let commits: Vec<Commit> = p.commits.into_iter().map(Commit::from).collect();
            let checkout = p.checkout_sha.unwrap_or_default();
            let head = commits.iter().find(|c| c.id == checkout).cloned();
            Push {
                git_ref: p.git_ref,
                before: p.before,
                after: p.after,
                pusher: if p.user_username.is_empty() {
                    p.user_name
                } else {
                    p.user_username
                },
                pusher_email: p.user_email,
                compare_url,
                commits,
                head,
            }
        }
        Provider::Gitea => {
            let p: GiteaPush = read(provider, body)?;
            Push {
                git_ref: p.git_ref,
                before: p.before,
                after: p.after,
                pusher: if p.pusher.login.is_empty() {
                    p.pusher.username
                } else {
                    p.pusher.login
                },
                pusher_email: p.pusher.email,
                compare_url: p.compare_url,
                commits: p.commits.into_iter().map(Commit::from).collect(),
                head: p.head_commit.map(Commit::from),
            }
        }
    };
    Ok(push)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_github_push_names_its_ref_head_and_paths() {
        let body = br#"{"ref":"refs/heads/main","before":"a1","after":"b2",
            "compare":"https://github.com/o/r/compare/a1...b2","pusher":{"name":"ann","email":"a@x.io"},
            "commits":[{"id":"b2","message":"Fix login\n\nlong","author":{"name":"Ann","username":"ann"},
                        "added":["web/a.py"],"modified":["README.md"],"removed":[]}],
            "head_commit":{"id":"b2","message":"Fix login\n\nlong","author":{"name":"Ann"}}}"#;
        let push = parse(Provider::GitHub, body).unwrap();
        assert_eq!(push.git_ref, "refs/heads/main");
        assert_eq!(push.pusher, "ann");
        assert_eq!(push.pusher_email, "a@x.io");
        assert_eq!(push.commits[0].paths, ["web/a.py", "README.md"]);
        assert_eq!(push.head_commit().unwrap().author, "Ann");
        assert!(!push.is_deletion());
    }

    #[test]
    fn a_gitlab_push_builds_its_compare_link() {
        let body = br#"{"object_kind":"push","ref":"refs/heads/main","before":"a1","after":"b2",
            "checkout_sha":"b2","user_username":"ann","project":{"web_url":"https://gitlab.example/o/r"},
            "commits":[{"id":"b2","message":"m","author":{"name":"Ann"},"added":[],"modified":["x"],"removed":[]}]}"#;
        let push = parse(Provider::GitLab, body).unwrap();
        assert_eq!(
            push.compare_url,
            "https://gitlab.example/o/r/-/compare/a1...b2"
        );
        assert_eq!(push.head_commit().unwrap().id, "b2");
    }

    #[test]
    fn a_deleted_branch_has_an_all_zero_after() {
        let body = br#"{"ref":"refs/heads/old","before":"a1","after":"0000000000000000000000000000000000000000","pusher":{"login":"ann"}}"#;
        let push = parse(Provider::Gitea, body).unwrap();
        assert!(push.is_deletion());
        assert_eq!(push.pusher, "ann");
        assert!(push.head_commit().is_none());
    }

    #[test]
    fn a_body_without_a_ref_is_not_a_push() {
        let err = parse(Provider::GitHub, br#"{"zen":"hi"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `ref`"), "{err}");
        assert!(parse(Provider::GitLab, b"not json").is_err());
    }
}
