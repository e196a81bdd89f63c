//! The page's DOM-free JavaScript (`format.js`, `constants.js`, `moves.js`) under node's
//! own test runner: the cases are in `tests/page_js/*.test.mjs`, so `cargo test` runs
//! them and a failing case fails this test with node's report. Node is Debian's `nodejs` package
//! (`scripts/install-deps.sh nodejs`); without it this test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the JavaScript tests live.
fn js_tests() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/page_js");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".test.mjs"))
        .collect();
    files.sort();
    files
}

/// node's path, or a panic that says what to install. Debian names the program
/// `node` (and `nodejs`, a link to it).
fn node() -> &'static str {
    let found = ["node", "nodejs"]
        .into_iter()
        .find(|program| Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success()));
    found.unwrap_or_else(|| {
        panic!(
            "node is missing: the page's JavaScript tests run under node's test runner. Install Debian's \
             `nodejs` package with `scripts/install-deps.sh nodejs` (or `apt-get install nodejs`)."
        )
    })
}

/// A count from the TAP summary, such as `# pass 13`.
fn summary(report: &str, name: &str) -> Option<usize> {
    report.lines().find_map(|line| line.strip_prefix(&format!("# {name} "))?.trim().parse().ok())
}

#[test]
fn the_dom_free_modules_pass_their_javascript_tests() {
    let files = js_tests();
    assert!(files.len() >= 3, "the JavaScript tests are found: {files:?}");
    let output = Command::new(node())
        .args(["--test", "--test-reporter=tap"])
        .args(&files)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run node");
    let report = String::from_utf8_lossy(&output.stdout);
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "node --test failed ({}):\n{report}\n{errors}", output.status);
    assert_eq!(summary(&report, "fail"), Some(0), "{report}");
    // A runner that found no case would pass too: at least one per exported function.
    assert!(summary(&report, "pass").is_some_and(|n| n >= 25), "{report}");
}
