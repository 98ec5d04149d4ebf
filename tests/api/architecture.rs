//! The shape of the code: the layers of [`LAYERS`], each importing only from itself and
//! the layers below, no import cycle between modules (except a parent and its own
//! child), and the whole shared state named only by the composition root and the HTTP
//! handlers. `cargo test architecture -- --nocapture` prints the module graph (each module
//! and what it imports) for anyone who wants to see it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of the library, by its path (`flow::engine`), with its source.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>, root: &Path) {
        for entry in std::fs::read_dir(dir).expect("src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out, root);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(root)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Vec<String> = rel
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                if parts.is_empty() {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source");
                out.insert(parts.join("::"), text);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    walk(&root, &mut out, &root);
    out
}

/// The `crate::` paths a source names outside comments, braces expanded
/// (`use crate::{a, b::c}` names `a` and `b::c`).
fn crate_paths(text: &str) -> Vec<String> {
    paths_after(text, "crate::")
}

/// The paths a source names after `prefix` (`crate::`, `super::`), braces expanded.
fn paths_after(text: &str, prefix: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|l| {
            // A `//` right after a `:` is a URL in a string ("postgres://"), not a comment.
            let cut = l
                .match_indices("//")
                .find(|(i, _)| !l[..*i].ends_with(':'))
                .map(|(i, _)| i);
            match cut {
                Some(i) => &l[..i],
                None => l,
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut rest = code.as_str();
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + prefix.len()..];
        // `super::super::x` is read once, from its first `super::`.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':').to_string();
        if !path.is_empty() {
            out.push(path.clone());
        }
        if rest[end..].starts_with('{') {
            let group = &rest[end + 1..];
            let mut depth = 1;
            let close = group
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '{' => 1,
                        '}' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            for item in group[..close].split(|c: char| !ident(c)) {
                let item = item.trim_matches(':');
                if item.starts_with(|c: char| c.is_ascii_lowercase()) && item != "self" {
                    out.push(if path.is_empty() {
                        item.to_string()
                    } else {
                        format!("{path}::{item}")
                    });
                }
            }
        }
    }
    out
}

/// The module graph: each module and the modules it imports (a path resolves to the
/// longest module that prefixes it).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mods = modules();
    // `pub use child::Item` in a module: a path through the module to `Item` leads to
    // the child (so a parent's re-exports cannot hide an edge).
    let mut reexports: BTreeMap<(String, String), String> = BTreeMap::new();
    for (m, text) in &mods {
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("pub use "))
        {
            let body = line.trim_start_matches("pub use ").trim_end_matches(';');
            let (path, items) = match body.split_once("::{") {
                Some((p, rest)) => (p.to_string(), rest.trim_end_matches('}').to_string()),
                None => match body.rsplit_once("::") {
                    Some((p, item)) => (p.to_string(), item.to_string()),
                    None => continue,
                },
            };
            let target = match path.strip_prefix("crate::") {
                Some(abs) => abs.to_string(),
                None => format!("{m}::{}", path.trim_start_matches("self::")),
            };
            for item in items.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                reexports.insert((m.clone(), item.to_string()), target.clone());
            }
        }
    }
    let resolve = |path: &str| -> Option<String> {
        let parts: Vec<&str> = path.split("::").collect();
        let n = (1..=parts.len())
            .rev()
            .find(|n| mods.contains_key(&parts[..*n].join("::")))?;
        let module = parts[..n].join("::");
        match parts
            .get(n)
            .and_then(|item| reexports.get(&(module.clone(), item.to_string())))
        {
            Some(target) => {
                let tparts: Vec<&str> = target.split("::").collect();
                (1..=tparts.len())
                    .rev()
                    .map(|k| tparts[..k].join("::"))
                    .find(|t| mods.contains_key(t))
                    .or(Some(module))
            }
            None => Some(module),
        }
    };
    mods.iter()
        .map(|(m, text)| {
            // `super::x` from `a::b` is `a::x` (a file's own inline test module reads
            // its parent as the file's parent: close enough, and parent edges are free).
            let parent = m.rsplit_once("::").map_or("", |(p, _)| p);
            let relative = paths_after(text, "super::").into_iter().map(|p| {
                if parent.is_empty() {
                    p
                } else {
                    format!("{parent}::{p}")
                }
            });
            let deps = crate_paths(text)
                .into_iter()
                .chain(relative)
                .filter_map(|p| resolve(&p))
                .filter(|d| d != m)
                .collect();
            (m.clone(), deps)
        })
        .collect()
}

fn parent_or_child(a: &str, b: &str) -> bool {
    a.starts_with(&format!("{b}::")) || b.starts_with(&format!("{a}::"))
}

/// Strongly connected groups of more than one module, ignoring parent <-> child edges.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let names: Vec<&String> = g.keys().collect();
    let index: BTreeMap<&String, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let edges: Vec<Vec<usize>> = names
        .iter()
        .map(|n| {
            g[*n]
                .iter()
                .filter(|d| !parent_or_child(n, d))
                .filter_map(|d| index.get(d).copied())
                .collect()
        })
        .collect();
    // Reachability by repeated search: a few dozen modules.
    let reach = |from: usize| {
        let mut seen = vec![false; names.len()];
        let mut stack = vec![from];
        while let Some(v) = stack.pop() {
            for &w in &edges[v] {
                if !seen[w] {
                    seen[w] = true;
                    stack.push(w);
                }
            }
        }
        seen
    };
    let reaches: Vec<Vec<bool>> = (0..names.len()).map(reach).collect();
    let mut done = vec![false; names.len()];
    let mut out = Vec::new();
    for a in 0..names.len() {
        if done[a] {
            continue;
        }
        let group: Vec<usize> = (0..names.len())
            .filter(|&b| b == a || (reaches[a][b] && reaches[b][a]))
            .collect();
        for &b in &group {
            done[b] = true;
        }
        if group.len() > 1 {
            out.push(group.iter().map(|&i| names[i].clone()).collect());
        }
    }
    out
}

#[test]
fn architecture_no_import_cycle_beyond_parent_and_child() {
    let g = graph();
    for (m, deps) in &g {
        let deps: Vec<&str> = deps.iter().map(String::as_str).collect();
        println!("{m} -> {}", deps.join(", "));
    }
    assert!(g.len() > 20, "the graph found {} modules", g.len());
    let found = cycles(&g);
    assert!(
        found.is_empty(),
        "modules that import each other round in a circle: {found:#?}"
    );
}

/// The layers, top to bottom, as module paths (a module belongs to the longest path
/// that prefixes it): a module imports from its own layer and the layers below, never
/// up the pipeline. The README's layout section draws the same tree.
const LAYERS: &[(&str, &[&str])] = &[
    ("the commands", &["cli"]),
    ("the composition root", &["app"]),
    (
        "what the provider and staff reach, and the load tester that plays the provider",
        &["http", "staff", "ops::loadtest"],
    ),
    ("the shared state", &["state"]),
    ("the call layer", &["call"]),
    ("actions", &["actions"]),
    ("the flow engine", &["flow"]),
    (
        "the domain, and the reports read from it",
        &["domain", "ops::analytics"],
    ),
    ("the store", &["store"]),
    ("a call's record", &["session"]),
    (
        "speech, the provider's vocabulary, the settings",
        &["words::speech", "telephony", "config"],
    ),
    ("opening hours", &["clock::hours"]),
    (
        "leaves: prompt catalogs, time, metrics, logs",
        &["words", "clock", "ops"],
    ),
];

/// The layer of a module: its place in [`LAYERS`] (0 is the top).
fn layer(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, (_, paths))| paths.iter().map(move |p| (i, *p)))
        .filter(|(_, p)| module == *p || module.starts_with(&format!("{p}::")))
        .max_by_key(|(_, p)| p.len())
        .map(|(i, _)| i)
}

/// A test module (`flow::compile::tests`) drives the layers above it on purpose.
fn is_test_module(module: &str) -> bool {
    module.split("::").any(|part| part == "tests")
}

#[test]
fn architecture_every_import_runs_down_the_layers() {
    let g = graph();
    let mut up = Vec::new();
    for (m, deps) in &g {
        let Some(from) = layer(m) else {
            panic!("module {m} is in no layer of LAYERS: give it one");
        };
        if is_test_module(m) {
            continue;
        }
        for d in deps {
            let to = layer(d).unwrap_or(usize::MAX);
            if to < from {
                up.push(format!(
                    "{m} ({}) imports {d} ({})",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
        }
    }
    assert!(
        up.is_empty(),
        "imports that run up the pipeline:\n{}",
        up.join("\n")
    );
}

#[test]
fn architecture_only_the_root_and_the_http_handlers_name_the_whole_state() {
    let allowed = ["app", "state", "cli", "http", "staff"];
    let naming: Vec<String> = modules()
        .into_iter()
        .filter(|(m, _)| {
            !allowed
                .iter()
                .any(|a| m == a || m.starts_with(&format!("{a}::")))
        })
        .filter(|(_, text)| {
            crate_paths(text)
                .iter()
                .any(|p| p == "state" || p.starts_with("state::"))
                || text.contains("Services")
                || text.contains("AppState")
        })
        .map(|(m, _)| m)
        .collect();
    assert!(
        naming.is_empty(),
        "modules below the HTTP handlers that name the whole state: {naming:?}"
    );
}

#[test]
fn architecture_layers_place_each_module_as_the_readme_says() {
    assert_eq!(layer("call::tty"), layer("call"));
    assert_eq!(layer("words::prompts"), layer("clock"));
    assert!(layer("words::speech") < layer("words::prompts"));
    assert!(layer("http::webhook") < layer("state"));
    assert!(layer("ops::loadtest") < layer("ops::analytics"));
    assert!(layer("ops::analytics") < layer("ops::metrics"));
    assert!(is_test_module("flow::compile::tests"));
}

#[test]
fn architecture_reader_sees_braces_and_skips_comments() {
    let paths = crate_paths(
        "use crate::{speech, flow::engine::{self, X}};\n// crate::ignored\n\
         use crate::prompts::{Lang};\nlet x = crate::store::Store::new();",
    );
    assert_eq!(
        paths,
        ["speech", "flow::engine", "prompts", "store::Store::new"]
    );
}
