//! The reader takes kind and default from a setting's row: a default the
//! kind cannot read is a problem of every policy, never a silent value.

use super::*;
use crate::policy::settings::{Fallback, Kind, Section, Setting};

const MAYBE: Setting = Setting {
    name: "GUARD_MAYBE",
    section: Section::Scope,
    kind: Kind::Flag,
    default: Fallback::Value("maybe"),
    blank_is_a_value: false,
    help: "a flag whose default is not a flag",
    holds: |_| None,
    shown_unset: "(unset)",
};

const PERCENT: Setting = Setting {
    name: "GUARD_PERCENT",
    section: Section::Budget,
    kind: Kind::Number { min: 1, max: 100 },
    default: Fallback::Value("150"),
    blank_is_a_value: false,
    help: "a number whose default is out of range",
    holds: |_| None,
    shown_unset: "(unset)",
};

#[test]
fn a_default_its_kind_cannot_read_is_a_problem() {
    let mut r = Reader::new(BTreeMap::new());
    assert!(!r.flag(&MAYBE));
    assert_eq!(r.number(&PERCENT), None);
    assert_eq!(
        r.into_problems(),
        vec![
            "`GUARD_MAYBE` has the default `maybe`, which it cannot read (a bug in the settings table)",
            "`GUARD_PERCENT` has the default `150`, which it cannot read (a bug in the settings table)",
        ]
    );
}

#[test]
fn a_value_given_wins_over_the_default_and_a_bad_one_falls_back_to_it() {
    let vars = |value: &str| BTreeMap::from([("GUARD_PERCENT".to_owned(), value.to_owned())]);
    let mut r = Reader::new(vars("42"));
    assert_eq!(r.number(&PERCENT), Some(42));
    assert!(r.into_problems().is_empty());
    // A bad value is said, and the default holds its place.
    let suspend = Setting {
        name: "GUARD_PERCENT",
        ..s::SUSPEND_AT_PERCENT
    };
    let mut r = Reader::new(vars("0"));
    assert_eq!(r.number(&suspend), Some(100));
    assert_eq!(
        r.into_problems(),
        vec!["`GUARD_PERCENT` must be a whole number from 1 to 100, not `0`"]
    );
}
