//! Issue 24, point 5: the audit lists the exceptions that end within 14
//! days, and those that have ended, in its text and its `--json`.

use pretty_assertions::assert_eq;
use serde_json::json;
use shared::fakes::FakeAws;
use shared::fixtures::at;

use super::*;
use crate::fixtures::{GROUP, cluster, node, now, policy};

/// The fixtures' day is 2026-09-21.
const EXCEPTIONS: &str = "imds.v2@legacy-* until=2026-09-20 reason=PLAT-1 legacy images,\
    imds.hop_limit@prod-* until=2026-10-05 reason=PLAT-2,\
    volumes.encrypted@prod-* until=2026-10-06,\
    instance.key_pair@bastion";

async fn report(exceptions: &str) -> AuditReport {
    let aws: FakeAws = cluster(vec![node("i-0000000000000000a", Some(GROUP))]);
    let policy = policy(&[("GUARD_CHECK_EXCEPTIONS", exceptions)]);
    run(&policy, &aws, now()).await.unwrap()
}

#[tokio::test]
async fn the_text_lists_exceptions_ending_within_14_days_and_ended_ones() {
    let report = report(EXCEPTIONS).await;
    let mut out = Vec::new();
    write_text(&report, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();

    assert!(
        text.contains(concat!(
            "\nexceptions that ended or end within 14 days:\n",
            "EXCEPTION              UNTIL       STATUS           REASON\n",
            "imds.v2@legacy-*       2026-09-20  expired          PLAT-1 legacy images\n",
            "imds.hop_limit@prod-*  2026-10-05  ends in 14 days  PLAT-2\n",
        )),
        "{text}"
    );
    assert!(!text.contains("volumes.encrypted@prod-*"), "{text}");
    assert!(!text.contains("instance.key_pair@bastion"), "{text}");
}

#[tokio::test]
async fn the_json_lists_them_with_their_days_left() {
    let report = report(EXCEPTIONS).await;
    let json = serde_json::to_value(&report).unwrap();

    assert_eq!(
        *at(&json, "exceptions"),
        json!([
            {
                "exception": "imds.v2@legacy-* until=2026-09-20 reason=PLAT-1 legacy images",
                "check": "imds.v2",
                "groups": "legacy-*",
                "until": "2026-09-20",
                "reason": "PLAT-1 legacy images",
                "days_left": -1,
                "status": "expired"
            },
            {
                "exception": "imds.hop_limit@prod-* until=2026-10-05 reason=PLAT-2",
                "check": "imds.hop_limit",
                "groups": "prod-*",
                "until": "2026-10-05",
                "reason": "PLAT-2",
                "days_left": 14,
                "status": "expiring"
            }
        ])
    );
}

#[tokio::test]
async fn without_such_exceptions_the_report_says_nothing_of_them() {
    let report = report("instance.key_pair@bastion").await;
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json.get("exceptions"), None, "{json}");
    let mut out = Vec::new();
    write_text(&report, &mut out).unwrap();
    assert!(
        !String::from_utf8(out)
            .unwrap()
            .contains("exceptions that ended")
    );
}
