//! Unified diffs as lines the templates can colour.

use similar::TextDiff;

/// One line of a unified diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffLine {
    /// `add`, `del`, `hunk` or `ctx`: the CSS class.
    pub class: &'static str,
    /// The line, with its `+`/`-`/` ` marker.
    pub text: String,
}

/// A unified diff of `old` → `new` with three lines of context; empty when equal.
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> Vec<DiffLine> {
    if old == new {
        return Vec::new();
    }
    let diff = TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    lines(&text)
}

/// The lines of a unified diff already in text form (a deploy's stored dry-run diff).
pub fn lines(text: &str) -> Vec<DiffLine> {
    text.lines()
        .map(|line| DiffLine {
            class: classify(line),
            text: line.to_owned(),
        })
        .collect()
}

fn classify(line: &str) -> &'static str {
    if line.starts_with("+++") || line.starts_with("---") || line.starts_with("@@") {
        "hunk"
    } else if line.starts_with('+') {
        "add"
    } else if line.starts_with('-') {
        "del"
    } else {
        "ctx"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_diff_lines_are_classified() {
        let classes: Vec<&str> = lines("--- live\n+++ desired\n@@ -1 +1 @@\n-a\n+b\n c\n")
            .iter()
            .map(|l| l.class)
            .collect();
        assert_eq!(classes, ["hunk", "hunk", "hunk", "del", "add", "ctx"]);
    }

    #[test]
    fn equal_texts_have_no_diff() {
        assert!(unified("a\n", "a\n", "x", "y").is_empty());
    }

    #[test]
    fn changed_line_shows_as_delete_then_add() {
        let lines = unified("a\nb\nc\n", "a\nB\nc\n", "rev 1", "rev 2");
        let classes: Vec<&str> = lines.iter().map(|l| l.class).collect();
        assert_eq!(
            classes,
            ["hunk", "hunk", "hunk", "ctx", "del", "add", "ctx"]
        );
        assert_eq!(lines[4].text, "-b");
        assert_eq!(lines[5].text, "+B");
    }
}
