//! budget-guard removes the hooks it enrolled under an old name (issue 21,
//! scenario 7): after a `HookName` change nothing answers them, and an old
//! budget-guard still running during the stack update may have enrolled one
//! after stack-guard moved the hook.

use pretty_assertions::assert_eq;
use shared::facts::HookFacts;
use shared::ports::ClusterGroupsRead;

use super::{SCHEDULE, cluster, hook, run};
use crate::fixtures::policy;
use shared::fixtures::HOOK;

/// A launch hook named `name` that the guard of `cluster` enrolled.
fn enrolled(name: &str, cluster: &str) -> HookFacts {
    HookFacts {
        name: name.into(),
        notification_metadata: Some(format!(r#"{{"cluster":"{cluster}","by":"scaling-guard"}}"#)),
        ..hook()
    }
}

async fn hook_names(aws: &shared::fakes::FakeAws, group: &str) -> Vec<String> {
    let hooks = aws.lifecycle_hooks(group).await.unwrap();
    hooks.into_iter().map(|h| h.name).collect()
}

#[tokio::test]
async fn a_hook_the_guard_enrolled_under_an_old_name_is_removed() {
    // Given: prod-a carries the guard's hook and one it enrolled as
    // `scaling-guard-blue`; prod-b a hook of that name someone else put (no
    // metadata) and one staging's guard enrolled
    let (policy, aws) = (policy(&[]), cluster(1));
    aws.add_hook("prod-a", enrolled("scaling-guard-blue", "prod"));
    aws.add_hook(
        "prod-b",
        HookFacts {
            name: "scaling-guard-blue".into(),
            ..hook()
        },
    );
    aws.add_hook("prod-b", enrolled("scaling-guard-staging", "staging"));

    // When
    run(&policy, &aws, SCHEDULE).await.unwrap();

    // Then: only the guard's own hook of an old name goes
    assert_eq!(hook_names(&aws, "prod-a").await, vec![HOOK]);
    assert_eq!(
        hook_names(&aws, "prod-b").await,
        vec![HOOK, "scaling-guard-blue", "scaling-guard-staging"]
    );
    assert_eq!(aws.group_changes(), vec!["DeleteLifecycleHook prod-a"]);
}
