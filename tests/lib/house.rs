//! The shape of the crate (docs/architecture.md): no two files of `src/` import each
//! other, directly or round about; few public modules; every folder and file of
//! `src/` named in the architecture document.

use crate::util::root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, except the command line's.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The file that defines module path `segments` (the longest prefix that is a file).
fn module_file(src: &Path, segments: &[&str]) -> Option<PathBuf> {
    (1..=segments.len()).rev().find_map(|n| {
        let base: PathBuf = segments[..n]
            .iter()
            .fold(src.to_path_buf(), |p, s| p.join(s));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|c| c.is_file())
    })
}

/// The files each file refers to by a `crate::` path, outside its unit tests.
fn imports(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    sources(src, &mut files);
    let mut edges = BTreeMap::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        let mut targets = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let boundary = code[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            if !boundary {
                continue;
            }
            let path: String = code[at + "crate::".len()..]
                .chars()
                .take_while(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':'
                })
                .collect();
            let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            if let Some(target) = module_file(src, &segments) {
                if target != *file {
                    targets.insert(target);
                }
            }
        }
        edges.insert(file.clone(), targets);
    }
    edges
}

/// A cycle among the files, if there is one.
fn find_cycle(edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        file: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        marks: &mut BTreeMap<PathBuf, Mark>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        match marks.get(file) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let start = stack.iter().position(|f| f == file).unwrap();
                let mut cycle = stack[start..].to_vec();
                cycle.push(file.clone());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(file.clone(), Mark::Open);
        stack.push(file.clone());
        for next in edges.get(file).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, marks, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        marks.insert(file.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    edges
        .keys()
        .find_map(|file| visit(file, edges, &mut marks, &mut Vec::new()))
}

#[test]
fn no_file_of_src_imports_itself_round_about() {
    let src = root().join("src");
    let edges = imports(&src);
    assert!(edges.len() > 30, "found only {} files", edges.len());
    // The check finds what it looks for: the gate uses the decision types.
    assert!(edges[&src.join("gate/flow.rs")].contains(&src.join("decision.rs")));
    if let Some(cycle) = find_cycle(&edges) {
        let names: Vec<String> = cycle
            .iter()
            .map(|f| f.strip_prefix(&src).unwrap().display().to_string())
            .collect();
        panic!("import cycle: {}", names.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_a_planted_cycle() {
    let (a, b, c) = (
        PathBuf::from("a.rs"),
        PathBuf::from("b.rs"),
        PathBuf::from("c.rs"),
    );
    let mut edges = BTreeMap::new();
    edges.insert(a.clone(), BTreeSet::from([b.clone()]));
    edges.insert(b.clone(), BTreeSet::from([c.clone()]));
    edges.insert(c.clone(), BTreeSet::new());
    assert_eq!(find_cycle(&edges), None);
    edges.insert(c.clone(), BTreeSet::from([a.clone()]));
    assert_eq!(find_cycle(&edges), Some(vec![a.clone(), b, c, a]));
}

#[test]
fn the_audit_log_is_reached_from_the_gate_only_through_audited_rs() {
    let src = root().join("src");
    let edges = imports(&src);
    let gate = src.join("gate");
    let audit = src.join("audit");
    for (file, targets) in &edges {
        if file.starts_with(&gate) && file.file_name().is_some_and(|n| n != "audited.rs") {
            let into_audit: Vec<_> = targets.iter().filter(|t| t.starts_with(&audit)).collect();
            assert!(
                into_audit.is_empty(),
                "{} uses {into_audit:?}",
                file.display()
            );
        }
    }
}

#[test]
fn the_facade_has_few_public_modules_and_the_architecture_names_every_file() {
    let lib = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let public = lib.lines().filter(|l| l.starts_with("pub mod ")).count();
    assert!(public <= 8, "{public} public modules");
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let name = relative.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.trim_end_matches(".rs");
        // A file is named by its file name or, for a folder's mod.rs, its folder.
        let named = if name == "mod.rs" || name == "lib.rs" {
            let folder = relative.parent().unwrap().display().to_string();
            folder.is_empty() || doc.contains(&format!("{folder}/"))
        } else {
            doc.contains(&name)
                || doc.contains(&format!("{stem} "))
                || doc.contains(&format!("{stem},"))
        };
        assert!(
            named,
            "docs/architecture.md does not name src/{}",
            relative.display()
        );
    }
}
