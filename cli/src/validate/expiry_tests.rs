//! Issue 24, point 5: `validate` notes an exception already past its
//! `until=` (the functions accept it: it has simply expired) and refuses
//! one that runs too long or, when required, names no reason.

use crate::settings::{Settings, Source};

use super::render_valid;

fn settings(exceptions: &str, extra: &str) -> Settings {
    let text = format!("GUARD_CLUSTER=prod\nGUARD_CHECK_EXCEPTIONS={exceptions}\n{extra}");
    Settings::parse_file(&text, Source::File("prod.env".into()))
}

#[test]
fn an_expired_exception_is_a_note_not_a_problem() {
    let settings = settings("imds.v2@legacy until=2000-01-31 reason=PLAT-1", "");
    let loaded = settings.load().unwrap();
    let report = render_valid(&settings, &loaded);
    assert!(
        report.contains(
            "\nnote: `GUARD_CHECK_EXCEPTIONS`: exception `imds.v2@legacy until=2000-01-31 reason=PLAT-1` expired after its last day: `imds.v2` applies to the groups `legacy` matches again\n"
        ),
        "{report}"
    );
}

#[test]
fn an_exception_beyond_the_limit_or_without_a_required_reason_is_refused() {
    let settings = settings(
        "imds.v2@legacy until=2999-01-01 reason=PLAT-1,imds.hop_limit@lb-*",
        "GUARD_REQUIRE_EXCEPTION_REASON=true\n",
    );
    let problems = settings.load().unwrap_err().problems;
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0]
            .contains("`imds.v2@legacy until=2999-01-01 reason=PLAT-1`: `until=2999-01-01` is "),
        "{problems:?}"
    );
    assert!(
        problems[0].ends_with("at most 180 (`GUARD_MAX_EXCEPTION_DAYS`)"),
        "{problems:?}"
    );
    assert!(
        problems[1].contains("`imds.hop_limit@lb-*` names no `reason="),
        "{problems:?}"
    );
}
