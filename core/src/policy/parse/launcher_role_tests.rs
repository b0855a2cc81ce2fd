//! `GUARD_LAUNCHER_ROLE_ARNS` (issue 23, scenario 4): the roles of launchers
//! without hooks (Karpenter) that a budget suspension also breaks. Optional;
//! every item must be an IAM role arn.

use super::*;

fn vars(roles: &str) -> BTreeMap<String, String> {
    [
        ("GUARD_CLUSTER", "prod"),
        (
            "GUARD_ALERT_TOPIC_ARN",
            "arn:aws:sns:eu-west-1:123456789012:alerts",
        ),
        ("GUARD_LAUNCHER_ROLE_ARNS", roles),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[test]
fn launcher_role_arns_are_read_as_a_set_and_blank_is_off() {
    let policy = parse(vars(
        " arn:aws:iam::123456789012:role/karpenter , arn:aws:iam::123456789012:role/path/other",
    ))
    .unwrap();
    assert_eq!(
        policy.launcher_role_arns,
        BTreeSet::from([
            "arn:aws:iam::123456789012:role/karpenter".to_owned(),
            "arn:aws:iam::123456789012:role/path/other".to_owned(),
        ])
    );
    assert!(parse(vars("")).unwrap().launcher_role_arns.is_empty());
}

#[test]
fn a_launcher_role_that_is_no_role_arn_is_refused_by_name() {
    let err = parse(vars(
        "arn:aws:iam::123456789012:user/karpenter,karpenter,arn:aws:iam::123456789012:role/ok",
    ))
    .unwrap_err();
    assert_eq!(
        err.problems,
        vec![
            "`GUARD_LAUNCHER_ROLE_ARNS` has `arn:aws:iam::123456789012:user/karpenter`, which is not an iam role arn (`arn:aws:iam::<account>:role/<name>`)".to_owned(),
            "`GUARD_LAUNCHER_ROLE_ARNS` has `karpenter`, which is not an iam role arn (`arn:aws:iam::<account>:role/<name>`)".to_owned(),
        ]
    );
}
