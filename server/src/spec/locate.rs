//! Where a field path (`spec.env[3].secret.key`) is in the YAML text the team
//! wrote, as a line and column, so the editor, the CLI and the API can point
//! at it. Pure and forgiving: block-style YAML is followed key by key and item
//! by item; where the text stops following the path (a flow mapping
//! `{name: api}`, a field that is missing, a value on one line) the deepest
//! place found is given, which is the parent a missing field belongs under.

/// One step of a field path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `spec.env[3].secret.key` or `spec.configFiles.files["a.py"]` as steps.
fn steps(path: &str) -> Vec<Step> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            if let Some(quoted) = after.strip_prefix('"') {
                // A quoted key: up to the closing `"]`, with JSON escapes.
                let Some(end) = quoted.find("\"]") else { break };
                let raw = format!("\"{}\"", &quoted[..end]);
                out.push(Step::Key(
                    serde_json::from_str::<String>(&raw).unwrap_or_else(|_| quoted[..end].into()),
                ));
                rest = &quoted[end + 2..];
            } else {
                let Some(end) = after.find(']') else { break };
                match after[..end].parse() {
                    Ok(i) => out.push(Step::Index(i)),
                    Err(_) => break,
                }
                rest = &after[end + 1..];
            }
        } else {
            let rest_trimmed = rest.strip_prefix('.').unwrap_or(rest);
            let end = rest_trimmed.find(['.', '[']).unwrap_or(rest_trimmed.len());
            out.push(Step::Key(rest_trimmed[..end].to_owned()));
            rest = &rest_trimmed[end..];
        }
    }
    out
}

/// A line of the text as the walk sees it.
struct Line {
    /// Spaces before its content.
    indent: usize,
    /// Whether it starts a sequence item (`- …`).
    dash: bool,
    /// Where its key starts (after `- ` for an item), when it has one.
    key_col: usize,
    /// The key, when the line is `key:` or `key: value` (quotes removed).
    key: Option<String>,
}

fn read_line(text: &str) -> Option<Line> {
    let content = text.trim_start_matches(' ');
    if content.is_empty() || content.starts_with('#') {
        return None;
    }
    let indent = text.len() - content.len();
    let (dash, after_dash, key_col) = match content.strip_prefix('-') {
        Some(rest) if rest.is_empty() || rest.starts_with(' ') => {
            let item = rest.trim_start_matches(' ');
            (true, item, indent + 1 + (rest.len() - item.len()))
        }
        _ => (false, content, indent),
    };
    Some(Line {
        indent,
        dash,
        key_col,
        key: key_of(after_dash),
    })
}

/// The key of `key: value` / `"key": value` / `key:`; none for a plain value.
fn key_of(content: &str) -> Option<String> {
    if content.starts_with('{') || content.starts_with('[') {
        return None;
    }
    if let Some(quoted) = content.strip_prefix('"') {
        let end = quoted.find('"')?;
        return quoted[end + 1..]
            .starts_with(':')
            .then(|| quoted[..end].to_owned());
    }
    if let Some(quoted) = content.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        return quoted[end + 1..]
            .starts_with(':')
            .then(|| quoted[..end].to_owned());
    }
    let colon = content
        .find(": ")
        .or_else(|| content.strip_suffix(':').map(str::len))?;
    let key = &content[..colon];
    (!key.contains(['#', '{', '[', '"'])).then(|| key.trim_end().to_owned())
}

/// The line and column (both from 1) of `path` in `text`, or of the deepest
/// part of it the text shows; none when not even its first step is found.
pub fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let lines: Vec<(usize, Line)> = text
        .lines()
        .enumerate()
        .filter_map(|(n, l)| read_line(l).map(|line| (n, line)))
        .collect();
    // The block being searched: lines[from..to], whose keys start at `col`.
    let (mut from, mut to) = (0, lines.len());
    let mut col = lines.first().map_or(0, |(_, l)| l.key_col);
    let mut found: Option<(usize, usize)> = None;
    for step in steps(path) {
        if from >= to {
            break;
        }
        match step {
            Step::Key(key) => {
                let Some(at) = (from..to).find(|&i| {
                    let l = &lines[i].1;
                    l.key_col == col && l.key.as_deref() == Some(key.as_str())
                }) else {
                    break;
                };
                let (n, line) = &lines[at];
                found = Some((n + 1, line.key_col + 1));
                // Its value: the lines below, deeper than the key (or a
                // sequence at the key's own indent, which YAML allows).
                let key_col = line.key_col;
                let end = (at + 1..to)
                    .find(|&i| {
                        let l = &lines[i].1;
                        l.indent < key_col || (l.indent == key_col && !l.dash)
                    })
                    .unwrap_or(to);
                from = at + 1;
                to = end;
                col = lines
                    .get(from)
                    .filter(|_| from < to)
                    .map_or(0, |(_, l)| if l.dash { l.indent } else { l.key_col });
            }
            Step::Index(index) => {
                // Items are the lines starting `- ` at the block's indent.
                let items: Vec<usize> = (from..to)
                    .filter(|&i| lines[i].1.dash && lines[i].1.indent == col)
                    .collect();
                let Some(&at) = items.get(index) else { break };
                let (n, line) = &lines[at];
                found = Some((n + 1, line.indent + 1));
                let end = items.get(index + 1).copied().unwrap_or(to);
                // The item's first key is on its dash line.
                col = line.key_col;
                from = at;
                to = end;
                // Make the dash line's key findable like the others.
                if from < to && lines[from].1.key.is_none() {
                    from += 1;
                    col = lines
                        .get(from)
                        .filter(|_| from < to)
                        .map_or(col, |(_, l)| if l.dash { l.indent } else { l.key_col });
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "apiVersion: slipway.dev/v1
kind: Service
metadata: {name: api, team: shop}
spec:
  image: registry.example.com/api:1.0
  # the settings
  env:
    - name: A
      value: x
    - name: DB
      secret:
        name: db
        key: url
  ports:
  - name: http
    port: 8000
  configFiles:
    files:
      \"settings.py\": |
        DEBUG = False
";

    #[test]
    fn paths_read_as_steps() {
        assert_eq!(
            steps(r#"spec.env[3].secret.key"#),
            [
                Step::Key("spec".into()),
                Step::Key("env".into()),
                Step::Index(3),
                Step::Key("secret".into()),
                Step::Key("key".into())
            ]
        );
        assert_eq!(
            steps(r#"spec.configFiles.files["my settings.py"]"#)[3],
            Step::Key("my settings.py".into())
        );
    }

    #[test]
    fn keys_items_and_quoted_keys_are_found_where_they_are_written() {
        assert_eq!(locate(SPEC, "spec"), Some((4, 1)));
        assert_eq!(locate(SPEC, "spec.image"), Some((5, 3)));
        assert_eq!(locate(SPEC, "spec.env"), Some((7, 3)));
        assert_eq!(locate(SPEC, "spec.env[0]"), Some((8, 5)));
        assert_eq!(locate(SPEC, "spec.env[0].name"), Some((8, 7)));
        assert_eq!(locate(SPEC, "spec.env[0].value"), Some((9, 7)));
        assert_eq!(locate(SPEC, "spec.env[1].secret.key"), Some((13, 9)));
        // A sequence at its key's own indent.
        assert_eq!(locate(SPEC, "spec.ports[0].port"), Some((16, 5)));
        assert_eq!(
            locate(SPEC, r#"spec.configFiles.files["settings.py"]"#),
            Some((19, 7))
        );
    }

    #[test]
    fn what_the_text_does_not_show_points_at_its_deepest_parent() {
        // A flow mapping: the line of `metadata`.
        assert_eq!(locate(SPEC, "metadata.name"), Some((3, 1)));
        // A missing field: where it belongs.
        assert_eq!(locate(SPEC, "spec.replicas"), Some((4, 1)));
        assert_eq!(locate(SPEC, "spec.env[5].name"), Some((7, 3)));
        assert_eq!(locate(SPEC, "spec.env[1].secret.optional"), Some((11, 7)));
        // Not even the first step.
        assert_eq!(locate(SPEC, "status"), None);
        assert_eq!(locate("{}", "spec"), None);
    }

    #[test]
    fn a_key_on_an_item_line_with_more_keys_below() {
        let text = "spec:\n  env:\n  - name: A\n    secret: {name: a, key: k}\n  - name: B\n    value: b\n";
        assert_eq!(locate(text, "spec.env[1].value"), Some((6, 5)));
        assert_eq!(locate(text, "spec.env[0].secret.key"), Some((4, 5)));
    }
}
