//! The router's routes as the source declares them: every
//! `.route("…", get(…).post(…))` call under `server/src/web/` (axum cannot list
//! a router's routes). Used by the authorization matrix and the CSRF sweep.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `(METHOD, path)` of every `.route(…)` call under `server/src/web/`.
pub fn source_routes() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web"),
        &mut files,
    );
    assert!(!files.is_empty(), "no sources found under server/src/web");
    let mut routes = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests at the bottom of a file may build throwaway routers.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !code.contains(".nest("),
            "{}: write routes with full paths (no .nest) so the route table can see them",
            file.display()
        );
        let mut rest = code.as_str();
        while let Some(at) = rest.find(".route(") {
            let args = balanced(&rest[at + ".route(".len()..]);
            let (path, methods) = route_call(args)
                .unwrap_or_else(|| panic!("{}: unreadable .route({args})", file.display()));
            for method in methods {
                routes.insert((method, path.clone()));
            }
            rest = &rest[at + ".route(".len() + args.len()..];
        }
    }
    routes
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The text up to the `)` closing the call whose `(` was just before `s`.
pub fn balanced(s: &str) -> &str {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_string => escaped = true,
            '"' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string && depth == 0 => return &s[..i],
            ')' if !in_string => depth -= 1,
            _ => {}
        }
    }
    s
}

/// The path literal and the HTTP methods of one `.route(` call's arguments.
pub fn route_call(args: &str) -> Option<(String, Vec<String>)> {
    let start = args.find('"')? + 1;
    let end = start + args[start..].find('"')?;
    let path = args[start..end].to_owned();
    let handlers = &args[end + 1..];
    let mut methods = Vec::new();
    for method in ["get", "post", "put", "patch", "delete", "any"] {
        let needle = format!("{method}(");
        let mut from = 0;
        while let Some(at) = handlers[from..].find(&needle) {
            let at = from + at;
            let before = handlers[..at].chars().next_back();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                methods.push(method.to_uppercase());
            }
            from = at + needle.len();
        }
    }
    (!methods.is_empty()).then_some((path, methods))
}

/// A concrete path for a route: `{team}` → shop, `{service}` → web, any other parameter → 1.
pub fn concrete(route: &str) -> String {
    route
        .split('/')
        .map(|segment| match segment {
            "{team}" => "shop",
            "{service}" => "web",
            s if s.starts_with('{') => "1",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}
