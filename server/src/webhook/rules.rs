//! What turns a push into a deploy: a hook's ref pattern, its image template
//! and its path filter, and an environment's allow-list of refs.

use crate::spec::names;

use super::Push;

/// Longest ref pattern.
pub const MAX_PATTERN: usize = 255;
/// Most path prefixes a hook filters on.
pub const MAX_PATHS: usize = 20;

/// Whether `pattern` (full refs; `*` any run of characters, `?` one) matches `git_ref`.
pub fn ref_matches(pattern: &str, git_ref: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && go(p, &s[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    // Bounded: patterns are at most 255 bytes and refs come from a 1 MiB body,
    // but collapse runs of `*` so the backtracking stays linear in practice.
    let mut collapsed = Vec::with_capacity(pattern.len());
    for b in pattern.bytes() {
        if !(b == b'*' && collapsed.last() == Some(&b'*')) {
            collapsed.push(b);
        }
    }
    git_ref.len() <= 1024 && go(&collapsed, git_ref.as_bytes())
}

/// Checks a ref pattern a person types.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    let pattern = pattern.trim();
    if !(pattern.starts_with("refs/heads/") || pattern.starts_with("refs/tags/")) {
        return Err("must start with `refs/heads/` or `refs/tags/`".into());
    }
    if pattern.len() > MAX_PATTERN {
        return Err(format!("must be at most {MAX_PATTERN} characters"));
    }
    if pattern.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    Ok(())
}

/// The values an image template may use, from one push.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateValues {
    /// The full sha.
    pub sha: String,
    /// Its first 7 characters.
    pub short_sha: String,
    /// The tag name for a tag push.
    pub tag: Option<String>,
    /// The branch name for a branch push, `/` written as `-` (image tags have no `/`).
    pub branch: Option<String>,
}

impl TemplateValues {
    /// The values of a push.
    pub fn of(push: &Push) -> Self {
        let sha = push.after.clone();
        TemplateValues {
            short_sha: sha.chars().take(7).collect(),
            sha,
            tag: push.git_ref.strip_prefix("refs/tags/").map(str::to_owned),
            branch: push
                .git_ref
                .strip_prefix("refs/heads/")
                .map(|b| b.replace('/', "-")),
        }
    }

    /// Values that show what a template gives, for checking one as it is typed.
    pub fn example() -> Self {
        TemplateValues {
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            short_sha: "0123456".into(),
            tag: Some("v1.2.3".into()),
            branch: Some("main".into()),
        }
    }
}

/// The image a template gives for `values`, checked as an image reference.
pub fn image_for(template: &str, values: &TemplateValues) -> Result<String, String> {
    let mut image = template.trim().to_owned();
    for (placeholder, value, missing) in [
        ("{sha}", Some(values.sha.as_str()), ""),
        ("{short_sha}", Some(values.short_sha.as_str()), ""),
        (
            "{tag}",
            values.tag.as_deref(),
            "uses {tag}, but the push is not a tag",
        ),
        (
            "{branch}",
            values.branch.as_deref(),
            "uses {branch}, but the push is not a branch",
        ),
    ] {
        if image.contains(placeholder) {
            let value = value.ok_or_else(|| missing.to_owned())?;
            image = image.replace(placeholder, value);
        }
    }
    if image.contains(['{', '}']) {
        return Err("has an unknown placeholder; use {sha}, {short_sha}, {tag}, {branch}".into());
    }
    names::image(&image).map_err(|why| format!("gives `{image}`, which {why}"))?;
    Ok(image)
}

/// Checks a template a person types: it must give a valid image for a branch
/// or a tag push (whichever its placeholders need).
pub fn check_template(template: &str) -> Result<(), String> {
    if template.trim().is_empty() {
        return Err("required".into());
    }
    let mut example = TemplateValues::example();
    if !template.contains("{tag}") {
        example.tag = None;
    }
    image_for(template, &example).map(|_| ())
}

/// Checks a hook's path prefixes.
pub fn check_paths(paths: &[String]) -> Result<(), String> {
    if paths.len() > MAX_PATHS {
        return Err(format!("at most {MAX_PATHS} paths"));
    }
    for path in paths {
        if path.is_empty() || path.len() > 255 || path.chars().any(char::is_control) {
            return Err(format!("`{path}` is not a path prefix"));
        }
    }
    Ok(())
}

/// Whether a pushed commit touches one of `prefixes` (a prefix `web/` matches
/// `web/app.py`; empty prefixes: every push). A push that lists no paths at all
/// (a provider that omits them, or a tag) passes, so nothing is silently lost.
pub fn touches(push: &Push, prefixes: &[String]) -> bool {
    if prefixes.is_empty() {
        return true;
    }
    let paths: Vec<&str> = push
        .commits
        .iter()
        .chain(push.head.iter())
        .flat_map(|c| c.paths.iter().map(String::as_str))
        .collect();
    paths.is_empty()
        || paths.iter().any(|path| {
            prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::Commit;

    #[test]
    fn ref_patterns_match_branches_and_tags() {
        assert!(ref_matches("refs/heads/main", "refs/heads/main"));
        assert!(!ref_matches("refs/heads/main", "refs/heads/main2"));
        assert!(ref_matches(
            "refs/heads/release/*",
            "refs/heads/release/1.2"
        ));
        assert!(!ref_matches("refs/heads/release/*", "refs/heads/main"));
        assert!(ref_matches("refs/tags/v*", "refs/tags/v1.0.0"));
        assert!(!ref_matches("refs/tags/v*", "refs/heads/v1"));
        assert!(ref_matches("refs/heads/?", "refs/heads/x"));
        assert!(
            !ref_matches(&"*a".repeat(100), &"a".repeat(5000)),
            "bounded"
        );
    }

    fn push(git_ref: &str) -> Push {
        Push {
            git_ref: git_ref.into(),
            after: "89abcdef0123456789abcdef0123456789abcdef".into(),
            ..Push::default()
        }
    }

    #[test]
    fn templates_fill_in_the_push() {
        let values = TemplateValues::of(&push("refs/heads/feature/login"));
        assert_eq!(
            image_for("registry.example/shop/web:{branch}-{short_sha}", &values).unwrap(),
            "registry.example/shop/web:feature-login-89abcde"
        );
        let tag = TemplateValues::of(&push("refs/tags/v1.4.0"));
        assert_eq!(
            image_for("shop/web:{tag}", &tag).unwrap(),
            "shop/web:v1.4.0"
        );
        assert!(
            image_for("shop/web:{tag}", &values)
                .unwrap_err()
                .contains("not a tag")
        );
        assert!(
            image_for("shop/web:{commit}", &values)
                .unwrap_err()
                .contains("unknown placeholder")
        );
        assert!(image_for("Shop Web:{sha}", &values).is_err());
    }

    #[test]
    fn templates_are_checked_as_they_are_typed() {
        assert!(check_template("shop/web:{sha}").is_ok());
        assert!(check_template("shop/web:{tag}").is_ok());
        assert!(check_template("").is_err());
        assert!(check_pattern("main").is_err());
        assert!(check_pattern("refs/heads/main").is_ok());
    }

    #[test]
    fn a_path_filter_passes_pushes_that_touch_its_prefixes() {
        let mut p = push("refs/heads/main");
        p.commits = vec![Commit {
            paths: vec!["docs/readme.md".into()],
            ..Commit::default()
        }];
        assert!(!touches(&p, &["services/web/".into()]));
        assert!(touches(&p, &["docs/".into()]));
        assert!(touches(&p, &[]));
        assert!(
            touches(&push("refs/tags/v1"), &["services/web/".into()]),
            "no paths listed"
        );
    }
}
