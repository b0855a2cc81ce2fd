//! The record of the `exception_expired` alerts on a group.

use pretty_assertions::assert_eq;
use shared::fixtures::now;

use super::*;
use crate::fixtures::policy;

#[test]
fn the_record_keeps_live_entries_drops_stale_ones_and_fits_a_tag_value() {
    let policy = policy(&[(
        "GUARD_CHECK_EXCEPTIONS",
        "imds.v2@prod-a until=2026-09-01,imds.hop_limit@prod-* until=2026-09-20",
    )]);
    let mut group = GroupFacts {
        name: "prod-a".into(),
        ..GroupFacts::default()
    };
    group.tags.insert(
        EXCEPTION_EXPIRED_TAG.into(),
        "imds.v2/2026-09-01 volumes.encrypted/2026-01-01".into(),
    );
    let added: BTreeSet<String> = ["imds.hop_limit/2026-09-20".to_owned()].into();
    assert_eq!(
        record_value(&policy, &group, &added, now()),
        "imds.hop_limit/2026-09-20 imds.v2/2026-09-01"
    );
    let many: BTreeSet<String> = (0..20)
        .map(|n| format!("imds.hop_limit/2026-09-{n:02}"))
        .collect();
    let value = record_value(&policy, &group, &many, now());
    assert!(value.len() <= 256, "{}", value.len());
    assert!(value.ends_with("imds.v2/2026-09-01"), "{value}");
}
