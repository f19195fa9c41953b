//! Runs the Python client's pytest suite (`bindings/python/tests`), so `cargo nextest run`
//! covers the Python binding too. The suite starts its own clusters with the
//! `kahuna-testcluster` tool built next to `kahuna-server`.
//!
//! Needs the `kahuna` Python package and pytest installed:
//! `python3 -m pip install pytest ./bindings/python` (which `scripts/test.sh` does).

use std::process::Command;

/// The command that installs what the suite needs, for error messages.
const INSTALL: &str = "python3 -m pip install pytest ./bindings/python";

#[test]
fn the_python_binding_passes_its_pytest_suite() {
    let repo = &kahuna_tests::repo_root();
    let probe = Command::new("python3")
        .args(["-c", "import kahuna, pytest; print(kahuna.__file__)"])
        .current_dir(repo)
        .output()
        .unwrap_or_else(|e| panic!("running python3: {e} (is Python 3 installed?)"));
    assert!(
        probe.status.success(),
        "`import kahuna, pytest` failed: install them from the repository root with `{INSTALL}`\n{}",
        String::from_utf8_lossy(&probe.stderr)
    );

    let testcluster = kahuna_tests::built("kahuna-testcluster");
    assert!(testcluster.is_file(), "{} is missing: cargo build --release --workspace", testcluster.display());
    let out = Command::new("python3")
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "bindings/python/tests"])
        .current_dir(repo)
        .env("KAHUNA_TESTCLUSTER", &testcluster)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("running pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(out.status.success(), "the pytest suite failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(" passed"), "pytest ran no test:\n{stdout}");
}
