//! The Security Hub adapter (`shared::aws::SecurityHub`, issue 24 point 1)
//! on the real SDK client against the emulator, which enforces what AWS
//! enforces on findings (scripts/emulator, extension 14): batches of at most
//! 100, the caller's account only, the required fields, 240 KB. The request
//! journal counts the calls.

use std::time::Duration;

use std::time::SystemTime;

use scaling_guard_e2e::{ACCOUNT, CLUSTER, Emulator, FaultKind, FaultRule, REGION, sdk_config};
use shared::alerts::Severity;
use shared::aws::{Adapters, Destinations};
use shared::checks::{CheckName, Violation};
use shared::decision::Finding;
use shared::findings::asff::{AsffFinding, Context, Subject, failed, resolved};
use shared::policy::Mode;
use shared::ports::{FindingsPublish, Ports};

const OTHER_ACCOUNT: &str = "210987654321";

/// The findings' clock: any fixed time will do.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

/// The emulator and the production adapters on it, Security Hub on.
struct World {
    adapters: Adapters,
    emulator: Emulator,
}

impl World {
    async fn new(security_hub: bool) -> Self {
        let emulator = Emulator::start().expect("emulator");
        let config = sdk_config(&emulator)
            .await
            .to_builder()
            .retry_config(shared::aws::retry_config())
            .build();
        let destinations = Destinations::default().with_security_hub(security_hub);
        World {
            adapters: Adapters::new(&config, &destinations),
            emulator,
        }
    }

    /// The `operation` calls the emulator served, with the fault each met.
    fn calls(&self, operation: &str) -> Vec<Option<FaultKind>> {
        self.emulator
            .control()
            .requests(Some(operation))
            .expect("request journal")
            .into_iter()
            .map(|request| request.fault)
            .collect()
    }
}

/// The finding of `check` on instance number `n` of `cluster` in `account`.
fn finding(account: &str, cluster: &str, n: usize, check: CheckName) -> AsffFinding {
    let instance_id = format!("i-{n:017x}");
    let subject = Subject {
        account,
        region: REGION,
        cluster,
        instance_id: &instance_id,
        group: Some("prod-general"),
    };
    let violation = Violation::new(
        check,
        &instance_id,
        "required",
        "optional",
        "imds v1 allowed",
    );
    let context = Context {
        decision: "ABANDON",
        mode: Mode::Enforce,
        severity: Severity::Critical,
        advice: "require IMDSv2 in the launch template",
        now: now(),
    };
    failed(
        &subject,
        &Finding {
            violation,
            blocking: true,
        },
        &context,
    )
}

fn findings(cluster: &str, count: usize) -> Vec<AsffFinding> {
    (0..count)
        .map(|n| finding(ACCOUNT, cluster, n, CheckName::ImdsV2))
        .collect()
}

#[tokio::test]
async fn two_hundred_fifty_findings_take_exactly_three_paced_imports() {
    let world = World::new(true).await;

    let imported = world
        .adapters
        .findings()
        .import(&findings(CLUSTER, 250))
        .await
        .expect("import");

    assert_eq!((imported.succeeded, imported.calls), (250, 3));
    assert!(imported.is_complete(), "{:?}", imported.failed);
    assert_eq!(world.calls("BatchImportFindings"), vec![None, None, None]);
    let requests = world
        .emulator
        .control()
        .requests(Some("BatchImportFindings"))
        .expect("request journal");
    for pair in requests.windows(2) {
        let gap = pair[1].received - pair[0].answered;
        assert!(gap >= 0.19, "calls {gap:.3} s apart: not paced");
    }
    let active = world
        .adapters
        .findings()
        .active(CLUSTER, None)
        .await
        .expect("active");
    assert_eq!(active.len(), 250);
}

#[tokio::test]
async fn a_throttled_import_is_retried_and_nothing_is_lost() {
    let world = World::new(true).await;
    let control = world.emulator.control();
    control
        .set_faults(&[FaultRule::throttle("BatchImportFindings").count(1)], 0)
        .expect("faults");

    let imported = world
        .adapters
        .findings()
        .import(&findings(CLUSTER, 3))
        .await
        .expect("import");

    assert_eq!((imported.succeeded, imported.calls), (3, 1));
    assert_eq!(
        world.calls("BatchImportFindings"),
        vec![Some(FaultKind::Throttle), None]
    );
}

#[tokio::test]
async fn a_finding_of_another_account_is_reported_failed_and_the_rest_imported() {
    let world = World::new(true).await;
    let mut batch = findings(CLUSTER, 2);
    let foreign = finding(OTHER_ACCOUNT, CLUSTER, 7, CheckName::ImdsV2);
    batch.push(foreign.clone());

    let imported = world
        .adapters
        .findings()
        .import(&batch)
        .await
        .expect("import");

    assert_eq!(imported.succeeded, 2);
    let failed: Vec<(&str, &str)> = imported
        .failed
        .iter()
        .map(|f| (f.id.as_str(), f.code.as_str()))
        .collect();
    assert_eq!(failed, vec![(foreign.id(), "AccessDeniedException")]);
}

#[tokio::test]
async fn an_update_keeps_one_finding_per_id_and_its_creation_and_resolving_archives_it() {
    let world = World::new(true).await;
    let hub = world.adapters.findings();
    let first = finding(ACCOUNT, CLUSTER, 1, CheckName::ImdsV2);
    hub.import(std::slice::from_ref(&first))
        .await
        .expect("import");

    // Given a later sweep that finds the same thing again
    let mut again = first.clone();
    again.created_at = "2026-09-22T00:00:00Z".to_owned();
    again.updated_at = "2026-09-22T00:00:00Z".to_owned();
    hub.import(&[again]).await.expect("import");
    let active = hub.active(CLUSTER, None).await.expect("active");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].created_at, first.created_at);
    assert_eq!(active[0].updated_at, "2026-09-22T00:00:00Z");

    // When the instance is fixed, the finding is archived: no longer active
    let over = resolved(&active[0], now() + Duration::from_secs(3600));
    let imported = hub.import(&[over]).await.expect("import");
    assert!(imported.is_complete(), "{:?}", imported.failed);
    assert_eq!(hub.active(CLUSTER, None).await.expect("active"), vec![]);
}

#[tokio::test]
async fn active_is_the_clusters_and_of_one_instance_when_asked() {
    let world = World::new(true).await;
    let hub = world.adapters.findings();
    let ours = [
        finding(ACCOUNT, CLUSTER, 1, CheckName::ImdsV2),
        finding(ACCOUNT, CLUSTER, 1, CheckName::ImdsHopLimit),
        finding(ACCOUNT, CLUSTER, 2, CheckName::ImdsV2),
    ];
    let theirs = finding(ACCOUNT, "staging", 1, CheckName::ImdsV2);
    let mut batch = ours.to_vec();
    batch.push(theirs);
    hub.import(&batch).await.expect("import");

    let mut cluster: Vec<String> = hub
        .active(CLUSTER, None)
        .await
        .expect("active")
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    cluster.sort();
    let mut expected: Vec<String> = ours.iter().map(|f| f.id().to_owned()).collect();
    expected.sort();
    assert_eq!(cluster, expected);

    let instance = ours[0].instance_id().expect("instance");
    let one = hub
        .active(CLUSTER, Some(instance))
        .await
        .expect("active of one instance");
    assert_eq!(one.len(), 2);
    assert!(one.iter().all(|f| f.instance_id() == Some(instance)));
    // What `active` returns is the finding the guard imported.
    assert!(one.contains(&ours[0]));
}

#[tokio::test]
async fn with_security_hub_off_the_adapter_makes_no_call() {
    let world = World::new(false).await;

    let imported = world
        .adapters
        .findings()
        .import(&findings(CLUSTER, 5))
        .await
        .expect("import");
    let active = world
        .adapters
        .findings()
        .active(CLUSTER, None)
        .await
        .expect("active");

    assert_eq!((imported.calls, imported.succeeded), (0, 0));
    assert_eq!(active, vec![]);
    assert_eq!(world.calls("BatchImportFindings"), vec![]);
    assert_eq!(world.calls("GetFindings"), vec![]);
}
