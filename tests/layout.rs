//! The source tree's dependencies run one way (README, "Layout"): each
//! top-level module of `src/` may use only the modules before it in
//! [`ORDER`], and inside the device layer each file only the files before it.
//! A `use` that points back up fails here, naming the file.

use std::path::Path;

/// The layers of the crate, lowest first.
const ORDER: &[&str] = &[
    "error",
    "atomic",
    "op",
    "toml_text",
    "model",
    "data",
    "points",
    "report",
    "gpu",
    "kernels",
    "plan",
    "infer",
    "train",
    "io",
    "reference",
    "env",
];

/// The device layer's files, lowest first.
const GPU_ORDER: &[&str] = &[
    "block", "adapter", "device", "tensor", "pipeline", "profile", "context",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The `crate::NAME` paths a file uses, code only (not comments).
fn crate_refs(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            rest = &rest[i + prefix.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

#[test]
fn dependencies_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    for f in files {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let top = rel.split('/').next().unwrap().trim_end_matches(".rs");
        // The binary's modules sit above everything.
        let Some(rank) = ORDER.iter().position(|m| *m == top) else {
            assert!(
                matches!(top, "main" | "cli" | "lib"),
                "{rel}: a top-level module missing from ORDER"
            );
            continue;
        };
        let text = std::fs::read_to_string(&f).unwrap();
        for used in crate_refs(&text, "crate::") {
            if let Some(r) = ORDER.iter().position(|m| *m == used) {
                assert!(
                    r <= rank,
                    "{rel} uses crate::{used}, a layer above {top} (see ORDER)"
                );
            }
        }
        if top == "gpu" && rel != "gpu/mod.rs" {
            let me = rel.trim_start_matches("gpu/").trim_end_matches(".rs");
            let mine = GPU_ORDER
                .iter()
                .position(|m| *m == me)
                .unwrap_or_else(|| panic!("{rel}: a device-layer file missing from GPU_ORDER"));
            for used in crate_refs(&text, "crate::gpu::") {
                if let Some(r) = GPU_ORDER.iter().position(|m| *m == used) {
                    assert!(r < mine, "{rel} uses crate::gpu::{used}, above it");
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files checked");
}

/// `GpuContext` has one `impl` block, in gpu/context.rs.
#[test]
fn gpu_context_has_one_impl_block() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut blocks = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for line in text.lines() {
            if line.trim_start().starts_with("impl GpuContext") {
                blocks.push(f.display().to_string());
            }
        }
    }
    assert_eq!(blocks.len(), 1, "impl GpuContext blocks: {blocks:?}");
    assert!(blocks[0].ends_with("gpu/context.rs"), "{blocks:?}");
}

/// The library is free of the CLI's dependencies: they are optional, come
/// with the `cli` feature (the binary's), and the Python crate turns the
/// default features off (`cargo tree -p wgae --no-default-features` then
/// shows none of them).
#[test]
fn the_library_does_without_the_cli_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("Cargo.toml")).unwrap()).unwrap();
    let cli: Vec<&str> = manifest["features"]["cli"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for dep in [
        "clap",
        "indicatif",
        "tracing-subscriber",
        "ctrlc",
        "tempfile",
    ] {
        assert_eq!(
            manifest["dependencies"][dep]["optional"].as_bool(),
            Some(true),
            "{dep} must be optional"
        );
        assert!(
            cli.contains(&format!("dep:{dep}").as_str()),
            "{dep} not in the cli feature"
        );
    }
    assert_eq!(
        manifest["bin"][0]["required-features"][0].as_str(),
        Some("cli")
    );
    let python: toml::Value =
        toml::from_str(&std::fs::read_to_string(root.join("python/Cargo.toml")).unwrap()).unwrap();
    assert_eq!(
        python["dependencies"]["wgae"]["default-features"].as_bool(),
        Some(false)
    );
    // No file of the library names them.
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    for f in files {
        let rel = f.strip_prefix(root.join("src")).unwrap();
        if rel.starts_with("cli") || rel == Path::new("main.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for dep in [
            "clap::",
            "indicatif::",
            "tracing_subscriber::",
            "ctrlc::",
            "tempfile::",
        ] {
            assert!(!text.contains(dep), "{}: uses {dep}", rel.display());
        }
    }
}

/// No file imports another that imports it back, directly or through
/// others, inside any folder of `src/`: a folder's files (and its
/// sub-folders, each taken whole) form a graph by their `crate::FOLDER::`
/// paths, with `mod.rs`'s own `use NAME::` lines and its re-exports
/// resolved to the file that holds them. (`mod.rs` declaring its files is
/// not an import.)
#[test]
fn no_import_cycles_inside_a_folder() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut folders = vec![src.clone()];
    let mut checked = 0;
    while let Some(dir) = folders.pop() {
        let mut nodes: Vec<(String, String)> = Vec::new(); // (name, all its text)
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                folders.push(p.clone());
                let mut files = Vec::new();
                rust_files(&p, &mut files);
                let text: String = files
                    .iter()
                    .map(|f| std::fs::read_to_string(f).unwrap())
                    .collect();
                nodes.push((name, text));
            } else if p.extension().is_some_and(|x| x == "rs") {
                nodes.push((name, std::fs::read_to_string(&p).unwrap()));
            }
        }
        let rel = dir
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('/', "::");
        // The crate root's files are the top-level modules: their order is
        // `dependencies_run_one_way`'s.
        if rel.is_empty() {
            continue;
        }
        let prefix = format!("crate::{rel}::");
        let is_node = |n: &str| nodes.iter().any(|(m, _)| m == n);
        // mod.rs's re-exports: item -> the file it comes from.
        let mut reexport = std::collections::HashMap::new();
        let mod_text = nodes
            .iter()
            .find(|(n, _)| n == "mod")
            .map(|(_, t)| t.clone())
            .unwrap_or_default();
        for line in mod_text.lines() {
            let Some(rest) = line.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((file, items)) = rest.split_once("::") else {
                continue;
            };
            for item in items.trim_matches(|c| "{};".contains(c)).split(',') {
                reexport.insert(item.trim().to_string(), file.to_string());
            }
        }
        let mut edges: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
            Default::default();
        for (name, text) in &nodes {
            let mut used = crate_refs(text, &prefix);
            // mod.rs's own `use NAME::` lines (its `pub use` re-exports
            // are resolved above, for the files that use them).
            if name == "mod" {
                for line in text.lines() {
                    let code = line.split("//").next().unwrap_or("").trim();
                    if code.starts_with("pub use ") || code.starts_with("pub mod ") {
                        continue;
                    }
                    if let Some(rest) = code.strip_prefix("use ") {
                        used.push(rest.split("::").next().unwrap_or("").to_string());
                        continue;
                    }
                    // A path into a sibling written in the code: `desc::f(..)`.
                    for (other, _) in &nodes {
                        let at = format!("{other}::");
                        let hit = code.match_indices(&at).any(|(i, _)| {
                            i == 0
                                || !code[..i].ends_with(|c: char| {
                                    c.is_ascii_alphanumeric() || c == '_' || c == ':'
                                })
                        });
                        if hit {
                            used.push(other.clone());
                        }
                    }
                }
            }
            for u in used {
                let target = if is_node(&u) {
                    u
                } else if let Some(f) = reexport.get(&u) {
                    f.clone()
                } else {
                    "mod".to_string()
                };
                if &target != name && is_node(&target) {
                    edges.entry(name.clone()).or_default().insert(target);
                }
            }
        }
        // Depth-first search for a path back to where it started.
        fn cycle(
            at: &str,
            edges: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
            path: &mut Vec<String>,
        ) -> Option<Vec<String>> {
            if let Some(i) = path.iter().position(|p| p == at) {
                return Some(path[i..].to_vec());
            }
            path.push(at.to_string());
            for next in edges.get(at).into_iter().flatten() {
                if let Some(c) = cycle(next, edges, path) {
                    return Some(c);
                }
            }
            path.pop();
            None
        }
        for (name, _) in &nodes {
            if let Some(c) = cycle(name, &edges, &mut Vec::new()) {
                panic!(
                    "src/{}: an import cycle: {} -> {}",
                    rel.replace("::", "/"),
                    c.join(" -> "),
                    c[0]
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} folders checked");
}

/// The plan reports a missing buffer as an error, never by panicking.
#[test]
fn no_unwrap_in_the_plan() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/plan"),
        &mut files,
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains(".unwrap()") && !code.contains(".expect("),
                "{}:{}: {line}",
                f.display(),
                i + 1
            );
        }
    }
}

/// The lines of each `fn` in `text` (from its signature to its closing
/// brace), by name: braces are counted in code only, not in strings,
/// character literals or comments.
fn function_lengths(text: &str) -> Vec<(String, usize, usize)> {
    let code: Vec<String> = text
        .lines()
        .map(|l| {
            let mut out = String::new();
            let (mut in_str, mut esc) = (false, false);
            let chars: Vec<char> = l.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                if in_str {
                    if esc {
                        esc = false;
                    } else if c == '\\' {
                        esc = true;
                    } else if c == '"' {
                        in_str = false;
                    }
                } else if c == '"' {
                    in_str = true;
                } else if c == '/' && chars.get(i + 1) == Some(&'/') {
                    break;
                } else if c == '\'' && chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                } else {
                    out.push(c);
                }
                i += 1;
            }
            out
        })
        .collect();
    let mut found = Vec::new();
    for (start, line) in code.iter().enumerate() {
        let t = line.trim_start();
        let t = t
            .strip_prefix("pub(crate) ")
            .or(t.strip_prefix("pub "))
            .unwrap_or(t);
        let Some(rest) = t.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let mut depth = 0i64;
        let mut opened = false;
        for (j, l) in code.iter().enumerate().skip(start) {
            depth += l.matches('{').count() as i64 - l.matches('}').count() as i64;
            opened |= l.contains('{');
            if opened && depth <= 0 {
                found.push((name.clone(), start + 1, j - start + 1));
                break;
            }
            if !opened && l.trim_end().ends_with(';') {
                break;
            }
        }
    }
    found
}

/// Files stay under about 700 lines and functions under 120 (README,
/// "Layout"): a longer one is a sign that two concepts share it.
#[test]
fn files_and_functions_stay_short() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let lines = text.lines().count();
        assert!(lines <= 700, "{}: {lines} lines", f.display());
        for (name, at, len) in function_lengths(&text) {
            assert!(len <= 120, "{}:{at}: fn {name} is {len} lines", f.display());
        }
    }
}

/// The library reads no setting from the environment: `src/env.rs` (feature
/// `env`) reads `WGAE_*` for the binary, the tests and Python, and the
/// binary (`src/main.rs`, `src/cli/`) its own. The one other read is a
/// probe of the platform, not a setting (XDG_RUNTIME_DIR, to keep Mesa's
/// drivers quiet).
#[test]
fn the_library_reads_no_environment_variable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    for f in files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel == "env.rs" || rel == "main.rs" || rel.starts_with("cli/") {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("env::var") && !code.contains("XDG_RUNTIME_DIR") {
                panic!("{rel}:{}: reads the environment: {line}", i + 1);
            }
        }
    }
}
