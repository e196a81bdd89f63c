//! No import cycle between the files of `src/` (issue 16): a cycle means two files
//! that cannot be read, changed or tested one without the other.
//!
//! Each file is a module (`a/mod.rs`, `lib.rs` and `main.rs` are their directory's);
//! it depends on the files its `use crate::…`/`super::…`/`self::…` trees and its other
//! `crate::…`/`super::…` paths name, each resolved to the longest module path that is
//! a file. Comments and the unit tests at a file's end (`#[cfg(test)] mod tests {`)
//! do not count. A Rust port of `/work/notes/cycles.py`, with no dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Module = Vec<String>;

/// The module path of a file, given relative to `src/`: `a/b.rs` is `[a, b]`.
fn module_of(file: &str) -> Module {
    let mut parts: Module = file.trim_end_matches(".rs").split('/').map(str::to_owned).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without `//` comments, strings and the trailing unit tests, so
/// that only real paths remain.
fn code_of(source: &str) -> String {
    let source = source.split("#[cfg(test)]\nmod tests {").next().unwrap_or_default();
    let (chars, mut out, mut i) = (source.chars().collect::<Vec<_>>(), String::new(), 0);
    while i < chars.len() {
        let rest = &chars[i..];
        let raw_hashes = rest.iter().skip(1).take_while(|c| **c == '#').count();
        if rest.starts_with(&['/', '/']) {
            i += rest.iter().take_while(|c| **c != '\n').count();
        } else if rest[0] == 'r' && rest.get(1 + raw_hashes) == Some(&'"') && !ident_before(&chars, i) {
            let close: Vec<char> = std::iter::once('"').chain(std::iter::repeat_n('#', raw_hashes)).collect();
            let body = i + 2 + raw_hashes;
            i = (body..chars.len()).find(|j| chars[*j..].starts_with(&close)).map_or(chars.len(), |j| j + close.len());
            out.push_str("\"\"");
        } else if rest[0] == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if rest[0] == '\'' && rest.get(1) == Some(&'\\') {
            // An escaped char literal ('\'', '\n', '\u{1b}').
            i += rest.iter().skip(3).position(|c| *c == '\'').map_or(1, |p| p + 4);
        } else if rest[0] == '\'' && rest.get(2) == Some(&'\'') {
            // A char literal ('"'); a lifetime ('a) has no closing quote.
            i += 3;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// A use tree `a::{b, c::{d, e as f}, self}` as its paths: `a::b`, `a::c::d`, `a::c::e`, `a`.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find("::{").filter(|_| tree.ends_with('}')) else {
        return vec![tree.split(" as ").next().unwrap_or_default().replace(' ', "")];
    };
    let (prefix, inner) = (&tree[..open], &tree[open + 3..tree.len() - 1]);
    let (mut items, mut depth, mut current) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' | '}' => depth += if c == '{' { 1 } else { -1 },
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current);
    let items = items.iter().map(|item| item.trim()).filter(|item| !item.is_empty());
    items
        .flat_map(expand)
        .map(|path| if path == "self" { prefix.to_owned() } else { format!("{prefix}::{path}") })
        .collect()
}

/// Every path the code names that starts at `crate`, `super` or `self`: the paths of
/// its use trees, and the `crate::…`/`super::…` paths elsewhere.
fn paths_in(code: &str) -> Vec<Vec<String>> {
    let word_at = |i: usize, word: &str| {
        code[i..].starts_with(word) && !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
    };
    let mut paths = Vec::new();
    for (i, _) in code.char_indices() {
        if word_at(i, "use") && code[i + 3..].starts_with(char::is_whitespace) {
            let tree = &code[i + 3..code[i..].find(';').map_or(code.len(), |end| i + end)];
            paths.extend(expand(tree));
        } else if word_at(i, "crate::") || word_at(i, "super::") {
            let end =
                code[i..].find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).map_or(code.len(), |e| i + e);
            // `crate::{…}` outside a use tree names no module.
            let path = code[i..end].trim_end_matches(':');
            if path.contains("::") {
                paths.push(path.to_owned());
            }
        }
    }
    let segments = |path: String| path.split("::").map(|s| s.trim().to_owned()).collect::<Vec<_>>();
    paths.into_iter().map(segments).filter(|s| matches!(s[0].as_str(), "crate" | "super" | "self")).collect()
}

/// The file a path from `module` lands in: the longest module path that is a file.
fn resolve(module: &[String], path: &[String], modules: &BTreeSet<Module>) -> Module {
    let mut current: Module = if path[0] == "crate" { Vec::new() } else { module.to_vec() };
    let mut rest = if path[0] == "super" { path } else { &path[1..] };
    while rest.first().is_some_and(|s| s == "super") {
        current.pop();
        rest = &rest[1..];
    }
    for segment in rest {
        current.push(segment.clone());
        if !modules.contains(&current) {
            current.pop();
            break;
        }
    }
    current
}

/// Which files each file depends on, given every file's source by path under `src/`.
fn dependencies(sources: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut file_of: BTreeMap<Module, String> = BTreeMap::new();
    for file in sources.keys() {
        // `crate::` in the library means lib.rs, not main.rs.
        if file != "main.rs" || !sources.contains_key("lib.rs") {
            file_of.insert(module_of(file), file.clone());
        }
    }
    let modules: BTreeSet<Module> = file_of.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (file, source) in sources {
        let module = module_of(file);
        let paths = paths_in(&code_of(source));
        let targets = paths.iter().map(|path| resolve(&module, path, &modules));
        let targets = targets.filter_map(|target| file_of.get(&target)).filter(|target| *target != file);
        graph.insert(file.clone(), targets.cloned().collect());
    }
    graph
}

/// Every elementary cycle, as `a.rs -> b.rs -> a.rs`, each listed once from its
/// smallest file.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn walk(graph: &BTreeMap<String, BTreeSet<String>>, path: &mut Vec<String>, found: &mut Vec<String>) {
        for next in graph.get(path.last().unwrap()).into_iter().flatten() {
            if *next == path[0] {
                found.push(format!("{} -> {next}", path.join(" -> ")));
            } else if *next > path[0] && !path.contains(next) && reaches(graph, next, &path[0]) {
                path.push(next.clone());
                walk(graph, path, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    for start in graph.keys() {
        walk(graph, &mut vec![start.clone()], &mut found);
    }
    found
}

/// Whether `to` can be reached from `from`: only nodes on a way back to the start are
/// walked, which keeps the search to the cycles' own files.
fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let (mut seen, mut stack) = (BTreeSet::new(), vec![from.to_owned()]);
    while let Some(node) = stack.pop() {
        if node == to {
            return true;
        }
        if seen.insert(node.clone()) {
            stack.extend(graph.get(&node).into_iter().flatten().cloned());
        }
    }
    false
}

fn read_sources(dir: &Path, root: &Path, sources: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            read_sources(&path, root, sources);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let name = path.strip_prefix(root).expect("under src").to_string_lossy().into_owned();
            sources.insert(name, std::fs::read_to_string(&path).expect("a readable source file"));
        }
    }
}

#[test]
fn no_import_cycle_between_the_files_of_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut sources = BTreeMap::new();
    read_sources(&root, &root, &mut sources);
    let found = cycles(&dependencies(&sources));
    assert!(found.is_empty(), "import cycles between files of src/:\n{}", found.join("\n"));
}

fn fixture(files: &[(&str, &str)]) -> Vec<String> {
    cycles(&dependencies(&files.iter().map(|(f, s)| (f.to_string(), s.to_string())).collect()))
}

#[test]
fn the_checker_finds_every_cycle_and_only_cycles() {
    let cyclic = [
        ("lib.rs", "pub mod a;\npub mod b;\npub mod c;\npub use a::A;"),
        ("a.rs", "use crate::b::{self, B};\npub struct A;"),
        ("b.rs", "pub fn f() -> crate::c::C { make() }"),
        ("c/mod.rs", "use super::a::A;\nuse self::d::E;\n// use crate::b;\nmod d;"),
        ("c/d.rs", "use super::super::b::f;\npub struct E;"),
    ];
    let found = fixture(&cyclic);
    assert_eq!(found, ["a.rs -> b.rs -> c/mod.rs -> a.rs", "b.rs -> c/mod.rs -> c/d.rs -> b.rs"]);

    let acyclic = [
        ("lib.rs", "pub mod a;\npub mod b;"),
        ("main.rs", "use valkey::a;\nfn main() { crate::x(); }"),
        ("a.rs", "use crate::b::B;\nfn g() -> &'static str { \"crate::a::loop\" }"),
        ("b.rs", "pub struct B;\n#[cfg(test)]\nmod tests {\n    use crate::a;\n}\n"),
    ];
    assert_eq!(fixture(&acyclic), Vec::<String>::new());
}

#[test]
fn use_trees_expand_into_their_paths() {
    assert_eq!(
        expand(" crate::a::{b, c::{d, e as f}, self}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c::e", "crate::a"]
    );
    assert_eq!(expand("super::x as y"), ["super::x"]);
    assert_eq!(expand("crate::{\n    a,\n    b::C,\n}"), ["crate::a", "crate::b::C"]);
}

#[test]
fn code_loses_comments_strings_and_unit_tests() {
    let code = code_of(
        "let c = '\"'; // crate::a\nlet s = \"crate::b\"; let r = r#\"super::c\"#; x::<'a>\n#[cfg(test)]\nmod tests {\n use crate::d; }",
    );
    assert_eq!(code, "let c = ; \nlet s = \"\"; let r = \"\"; x::<'a>\n");
    let paths = paths_in("pub(crate) use self::m::N; fn f() { crate::a::b(); super::super::c::D::new() }");
    let joined: Vec<String> = paths.iter().map(|p| p.join("::")).collect();
    assert_eq!(joined, ["self::m::N", "crate::a::b", "super::super::c::D::new"]);
}

#[test]
fn paths_resolve_to_the_longest_module_that_is_a_file() {
    let modules: BTreeSet<Module> = [vec![], vec!["a".into()], vec!["a".into(), "b".into()]].into();
    let seg = |p: &str| p.split("::").map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(resolve(&[], &seg("crate::a::b::C::new"), &modules), ["a", "b"]);
    assert_eq!(resolve(&seg("a::b"), &seg("super::X"), &modules), ["a"]);
    assert_eq!(resolve(&seg("a::b"), &seg("super::super::Y"), &modules), Vec::<String>::new());
    assert_eq!(module_of("a/mod.rs"), ["a"]);
    assert_eq!(module_of("lib.rs"), Vec::<String>::new());
}
