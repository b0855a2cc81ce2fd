use std::collections::BTreeSet;

use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::fakes::{FAKE_REGION, FakeAws};
use crate::fixtures::strict_policy;

const ROLE: &str = "arn:aws:iam::123456789012:role/karpenter";

fn roles() -> BTreeSet<String> {
    BTreeSet::from([ROLE.to_owned()])
}

#[test]
fn the_breaker_is_named_by_cluster_and_region() {
    assert_eq!(
        name("prod", "eu-west-1"),
        "scaling-guard-prod-eu-west-1-launch-breaker"
    );
    assert_ne!(name("prod", "eu-west-1"), name("prod", "us-east-1"));
    assert_ne!(name("prod", "eu-west-1"), name("stage", "eu-west-1"));
}

#[test]
fn a_long_cluster_name_is_cut_to_iams_128_characters_and_stays_unique() {
    let a = format!("{}a", "c".repeat(99));
    let b = format!("{}b", "c".repeat(99));
    let (name_a, name_b) = (name(&a, "ap-southeast-4"), name(&b, "ap-southeast-4"));
    assert!(name_a.len() <= 128, "{name_a}");
    assert_ne!(name_a, name_b);
    assert!(name_a.starts_with(NAME_PREFIX) && name_a.ends_with(NAME_SUFFIX));
}

#[test]
fn the_document_denies_cluster_tagged_launches_in_the_region() {
    let policy = strict_policy(&[]);
    let breaker = LaunchBreaker::of(&policy, "eu-west-1");
    let document: serde_json::Value = serde_json::from_str(&breaker.document).unwrap();
    let statement = &document["Statement"][0];
    assert_eq!(statement["Effect"], json!("Deny"));
    assert_eq!(
        statement["Action"],
        json!(["ec2:RunInstances", "ec2:CreateFleet"])
    );
    let key = format!("aws:RequestTag/{}", policy.cluster_tag.key);
    let condition = &statement["Condition"];
    match policy.cluster_tag.value() {
        Some(value) => assert_eq!(condition["StringEquals"][&key], json!(value)),
        None => assert_eq!(condition["Null"][&key], json!("false")),
    }
    assert_eq!(
        condition["StringEquals"]["aws:RequestedRegion"],
        json!("eu-west-1")
    );
}

#[test]
fn a_pinned_cluster_tag_value_is_matched_exactly() {
    let policy = strict_policy(&[
        ("GUARD_CLUSTER_TAG_KEY", "eks:eks-cluster-name"),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
    ]);
    let document: serde_json::Value =
        serde_json::from_str(&LaunchBreaker::of(&policy, "eu-west-1").document).unwrap();
    assert_eq!(
        document["Statement"][0]["Condition"]["StringEquals"]["aws:RequestTag/eks:eks-cluster-name"],
        json!("prod")
    );
}

#[tokio::test]
async fn put_and_remove_are_idempotent() {
    let aws = FakeAws::new();
    aws.add_role(ROLE);
    let breaker = LaunchBreaker::of(&strict_policy(&[]), FAKE_REGION);
    for _ in 0..2 {
        let report = put_breakers(&aws, &roles(), &breaker).await;
        assert_eq!(report.changed, vec![ROLE.to_owned()]);
    }
    assert_eq!(aws.role_policies(ROLE).len(), 1);
    let removed = remove_breakers(&aws, &roles(), &breaker.name).await;
    assert_eq!(removed.changed, vec![ROLE.to_owned()]);
    let again = remove_breakers(&aws, &roles(), &breaker.name).await;
    assert!(again.is_empty(), "{again:?}");
}

#[tokio::test]
async fn a_role_that_fails_is_reported_and_the_others_still_get_the_breaker() {
    let aws = FakeAws::new();
    let other = "arn:aws:iam::123456789012:role/other";
    aws.add_role(other);
    let breaker = LaunchBreaker::of(&strict_policy(&[]), FAKE_REGION);
    let both = BTreeSet::from([ROLE.to_owned(), other.to_owned()]);
    let report = put_breakers(&aws, &both, &breaker).await;
    assert_eq!(report.changed, vec![other.to_owned()]);
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].starts_with(ROLE), "{:?}", report.failed);
}

#[test]
fn the_role_name_is_the_last_part_of_its_arn() {
    assert_eq!(
        role_name("arn:aws:iam::123456789012:role/a/b/karpenter"),
        "karpenter"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_put_is_attempted_again() {
    let aws = FakeAws::new();
    let other = "arn:aws:iam::123456789012:role/other";
    aws.add_role(ROLE);
    aws.add_role(other);
    // Every second call is throttled: the second role's first attempt.
    aws.throttle("PutRolePolicy", 2);
    let breaker = LaunchBreaker::of(&strict_policy(&[]), FAKE_REGION);
    let both = BTreeSet::from([ROLE.to_owned(), other.to_owned()]);
    let report = put_breakers(&aws, &both, &breaker).await;
    assert_eq!(report.failed, Vec::<String>::new());
    assert_eq!(report.changed.len(), 2);
    assert_eq!(aws.calls("PutRolePolicy"), 3);
}
