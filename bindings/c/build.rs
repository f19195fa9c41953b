//! Generates `kahuna.h` from the crate's sources with cbindgen, into `OUT_DIR`.
//!
//! The committed copy `include/kahuna.h` is what C programs include; the test
//! `the_committed_header_is_current` (src/tests.rs) fails when it differs from this output and
//! tells how to refresh it (`KAHUNA_BLESS=1`).

use std::path::PathBuf;

fn main() {
    let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml is valid");
    cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot generate kahuna.h: {e}"))
        .write_to_file(out_dir.join("kahuna.h"));
}
