//! The build script of every function crate (`build = "../link.rs"`): in
//! release builds for Linux, each function is linked as a position-dependent
//! executable (`-no-pie`).
//!
//! Why: a position-independent executable carries a relocation for every
//! pointer in its read-only data (0.8 MB of `.rela.dyn` for the AWS SDK's
//! tables and vtables), which the dynamic loader reads whole and applies at
//! every start, dirtying the pages it writes. Linked at a fixed address, the
//! loader has nothing to apply: about 0.9 MiB less resident memory in every
//! execution environment, and a shorter start (issue 13, part 5;
//! BENCHMARKS.md has the before and after).
//!
//! The cost: the function's own code and data are not at a random address.
//! The stack, heap, shared libraries and every mapping stay randomised. The
//! CLI and the debug builds (tests) stay position-independent. To link the
//! functions position-independent again, delete the `build` line from their
//! `Cargo.toml`.

fn main() {
    let release = std::env::var("PROFILE").is_ok_and(|profile| profile == "release");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if release && linux {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    println!("cargo:rerun-if-changed=../link.rs");
}
