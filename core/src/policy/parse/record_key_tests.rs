//! `GUARD_RECORD_KEY` (issue 21, scenario 3): optional, at least 32
//! characters, never quoted in a problem.

use super::*;

fn vars(key: &str) -> BTreeMap<String, String> {
    [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_RECORD_KEY", key),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn a_record_key_of_32_characters_or_more_signs_the_records() {
    let policy = parse(vars(&"k".repeat(32))).unwrap();
    assert_eq!(policy.record_key, Some(RecordKey::new(&"k".repeat(32))));
    assert_eq!(parse(vars("")).unwrap().record_key, None, "unset");
}

#[test]
fn a_short_record_key_is_refused_without_being_quoted() {
    let err = parse(vars("short-secret-value")).unwrap_err();
    assert_eq!(
        err.problems,
        vec![
            "`GUARD_RECORD_KEY` must be at least 32 characters (its value is not shown)".to_owned()
        ]
    );
    assert!(!err.to_string().contains("short-secret-value"));
}
