//! Prints the settings table (`guard_core::policy::settings::SETTINGS`) as
//! JSON, for the checks that cannot read Rust: the template's tests
//! (`scripts/template_tests/test_settings_table.py`) compare the template's
//! parameters and environment with it.
//!
//! `cargo run -q -p scaling-guard-core --example settings_table`

use guard_core::policy::settings::SETTINGS;

fn main() -> Result<(), serde_json::Error> {
    println!("{}", serde_json::to_string_pretty(SETTINGS)?);
    Ok(())
}
