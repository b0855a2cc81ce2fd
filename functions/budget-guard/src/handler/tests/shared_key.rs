//! Two clusters whose groups and instances share one tag key
//! (`eks:cluster-name`, as EKS managed node groups tag them): prod's guard
//! counts, suspends and enrolls prod alone (issue 20, scenario 1).

use pretty_assertions::assert_eq;
use shared::alerts::AlertKind;
use shared::facts::{GroupFacts, InstanceFacts};
use shared::fakes::FakeAws;
use shared::policy::Policy;

use super::{NONE, SCHEDULE, answer, hook, kinds, launch_suspended, schedule_of};
use crate::fixtures::{now, policy};
use crate::handler::BudgetGuard;

const KEY: &str = "eks:cluster-name";

/// prod's guard, keyed on `eks:cluster-name` = `prod`, 4 instances at most.
fn prod_policy() -> Policy {
    policy(&[
        ("GUARD_CLUSTER_TAG_KEY", KEY),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
        ("GUARD_MAX_INSTANCES", "4"),
    ])
}

/// prod-a (hooked) and staging-a (no hook of prod's guard), three running
/// m6i.large instances in each, every one tagged `eks:cluster-name`.
fn two_clusters() -> FakeAws {
    let aws = super::account();
    for (group, cluster, hooked) in [("prod-a", "prod", true), ("staging-a", "staging", false)] {
        let tags = [(KEY.to_owned(), cluster.to_owned())];
        aws.add_group(GroupFacts {
            name: group.into(),
            min_size: 0,
            max_size: 20,
            desired_capacity: 3,
            tags: tags.clone().into(),
            ..GroupFacts::default()
        });
        if hooked {
            aws.add_hook(group, hook());
        }
        for n in 0..3 {
            aws.add_instance(InstanceFacts {
                instance_id: format!("i-{cluster}-{n}"),
                instance_type: "m6i.large".into(),
                state: "running".into(),
                tags: tags.clone().into(),
                ..InstanceFacts::default()
            });
        }
    }
    aws
}

#[tokio::test]
async fn another_cluster_with_the_same_tag_key_is_neither_counted_nor_suspended_nor_enrolled() {
    let (policy, aws) = (prod_policy(), two_clusters());
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    let response = schedule_of(answer(&guard, SCHEDULE).await.unwrap());

    // 3 of 4 instances: prod's own, not 6 with staging's.
    assert_eq!(response.usage.instances, 3);
    assert_eq!(response.suspended, NONE);
    assert_eq!(response.enrolled, NONE);
    assert!(!launch_suspended(&aws, "staging-a"));
    assert_eq!(aws.group_changes(), Vec::<String>::new());
    assert_eq!(kinds(&aws), Vec::<AlertKind>::new());
}

#[tokio::test]
async fn a_surge_in_its_own_cluster_suspends_only_its_own_groups() {
    let (policy, aws) = (prod_policy(), two_clusters());
    aws.add_instance(InstanceFacts {
        instance_id: "i-prod-3".into(),
        instance_type: "m6i.large".into(),
        state: "running".into(),
        tags: [(KEY.to_owned(), "prod".to_owned())].into(),
        ..InstanceFacts::default()
    });
    let guard = BudgetGuard::new(&policy, &aws).with_clock(now);

    let response = schedule_of(answer(&guard, SCHEDULE).await.unwrap());

    assert_eq!(response.usage.instances, 4);
    assert_eq!(response.suspended, ["prod-a"]);
    assert!(launch_suspended(&aws, "prod-a"));
    assert!(!launch_suspended(&aws, "staging-a"));
    assert!(
        aws.group_changes()
            .iter()
            .all(|change| !change.contains("staging")),
        "{:?}",
        aws.group_changes()
    );
}
