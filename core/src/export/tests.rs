//! The exported SCP judged by a small evaluator of IAM conditions over the
//! authorization context of a launch (one context per resource of
//! `RunInstances`, as EC2 authorizes it), against the guard's own checks
//! on the same launch.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pretty_assertions::assert_eq;
use serde_json::Value;

use super::*;
use crate::checks::check_node;
use crate::facts::{HttpTokens, NodeFacts, VolumeFacts};
use crate::fixtures::{self, CLUSTER_TAG, compliant_node, every_check_policy, now};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";

/// One resource of the request and the condition keys EC2 puts in its context.
struct Resource {
    arn: String,
    context: BTreeMap<String, String>,
}

fn resource(kind: &str, id: &str, keys: &[(&str, Option<String>)]) -> Resource {
    let owner = if kind == "image" { "" } else { ACCOUNT };
    Resource {
        arn: format!("arn:aws:ec2:{REGION}:{owner}:{kind}/{id}"),
        context: keys
            .iter()
            .filter_map(|(key, value)| value.clone().map(|v| ((*key).to_owned(), v)))
            .collect(),
    }
}

/// The launch of `facts` tagged with `tags`: the instance (with the request's
/// tags), its image, its network interface (in its subnet), its security
/// groups, its volumes and its key pair.
fn request(facts: &NodeFacts, tags: &[(&str, &str)]) -> Vec<Resource> {
    let instance = &facts.instance;
    let tokens = instance.http_tokens.map(|t| match t {
        HttpTokens::Required => "required".to_owned(),
        HttpTokens::Optional => "optional".to_owned(),
    });
    let mut keys = vec![
        ("ec2:InstanceType", Some(instance.instance_type.clone())),
        ("ec2:InstanceProfile", instance.instance_profile_arn.clone()),
        ("ec2:MetadataHttpTokens", tokens),
        (
            "ec2:MetadataHttpPutResponseHopLimit",
            instance.http_put_response_hop_limit.map(|h| h.to_string()),
        ),
    ];
    let tag_keys: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| (format!("aws:RequestTag/{k}"), (*v).to_owned()))
        .collect();
    keys.extend(tag_keys.iter().map(|(k, v)| (k.as_str(), Some(v.clone()))));
    let mut resources = vec![resource("instance", &instance.instance_id, &keys)];
    if let Some(image) = &facts.image {
        let owner = image.owner_alias.clone().or(image.owner_id.clone());
        resources.push(resource(
            "image",
            &image.image_id,
            &[
                ("ec2:ImageID", Some(image.image_id.clone())),
                ("ec2:Owner", owner),
            ],
        ));
    }
    let subnet = instance
        .subnet_id
        .as_ref()
        .map(|id| format!("arn:aws:ec2:{REGION}:{ACCOUNT}:subnet/{id}"));
    resources.push(resource(
        "network-interface",
        "*",
        &[("ec2:Subnet", subnet)],
    ));
    for group in &instance.security_group_ids {
        resources.push(resource(
            "security-group",
            group,
            &[("ec2:SecurityGroupID", Some(group.clone()))],
        ));
    }
    for volume in &facts.volumes {
        resources.push(resource(
            "volume",
            "*",
            &[("ec2:Encrypted", Some(volume.encrypted.to_string()))],
        ));
    }
    if let Some(key) = &instance.key_name {
        resources.push(resource(
            "key-pair",
            key,
            &[("ec2:KeyPairName", Some(key.clone()))],
        ));
    }
    resources
}

/// IAM's `*` and `?` wildcards.
fn like(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    go(&p, &t)
}

fn values(value: &Value) -> Vec<String> {
    let substitute = |s: &str| s.replace("${aws:PrincipalAccount}", ACCOUNT);
    match value {
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(substitute)
            .collect(),
        Value::String(s) => vec![substitute(s)],
        other => panic!("not a condition value: {other}"),
    }
}

/// One condition operator on one key, as IAM evaluates it: a negated
/// operator is true when the key is absent.
fn holds(
    operator: &str,
    key: &str,
    expected: &[String],
    context: &BTreeMap<String, String>,
) -> bool {
    let actual = context.get(key);
    let any =
        |f: &dyn Fn(&str, &str) -> bool| actual.is_some_and(|a| expected.iter().any(|e| f(e, a)));
    match operator {
        "StringEquals" => any(&|e, a| e == a),
        "StringNotEquals" => !any(&|e, a| e == a),
        "StringLike" | "ArnLike" => any(&|e, a| like(e, a)),
        "StringNotLike" | "ArnNotLike" => !any(&|e, a| like(e, a)),
        "Bool" => any(&|e, a| e == a),
        "NumericGreaterThan" => any(&|e, a| a.parse::<i64>().unwrap() > e.parse::<i64>().unwrap()),
        "Null" => (expected[0] == "true") == actual.is_none(),
        other => panic!("the evaluator does not know `{other}`"),
    }
}

/// Whether `statement` denies the launch at `resource`.
fn denies(statement: &Value, resource: &Resource) -> bool {
    assert_eq!(statement["Effect"], "Deny");
    assert_eq!(statement["Action"], "ec2:RunInstances");
    let pattern = statement["Resource"].as_str().unwrap();
    if !like(pattern, &resource.arn) {
        return false;
    }
    let Some(condition) = statement.get("Condition").and_then(Value::as_object) else {
        return true;
    };
    condition.iter().all(|(operator, keys)| {
        keys.as_object()
            .unwrap()
            .iter()
            .all(|(key, expected)| holds(operator, key, &values(expected), &resource.context))
    })
}

/// The checks whose statements deny the launch, and their scopes.
fn scp_verdict(export: &Export, launch: &[Resource]) -> BTreeSet<(CheckName, Scope)> {
    let statements = export.scp.documents.iter().flat_map(|d| &d.statements);
    statements
        .filter(|s| launch.iter().any(|r| denies(&s.json, r)))
        .map(|s| (s.check, s.scope))
        .collect()
}

/// The cluster's launches: compliant, and one of each kind of violation.
fn launches() -> Vec<(&'static str, NodeFacts)> {
    let with = |f: fn(&mut NodeFacts)| {
        let mut facts = compliant_node();
        f(&mut facts);
        facts
    };
    vec![
        ("compliant", compliant_node()),
        (
            "type_not_allowed",
            with(|f| f.instance.instance_type = "p5.48xlarge".into()),
        ),
        (
            "type_denied",
            with(|f| f.instance.instance_type = "m6i.metal".into()),
        ),
        (
            "imdsv1_allowed",
            with(|f| f.instance.http_tokens = Some(HttpTokens::Optional)),
        ),
        (
            "no_metadata_options",
            with(|f| f.instance.http_tokens = None),
        ),
        (
            "hop_limit_2",
            with(|f| f.instance.http_put_response_hop_limit = Some(2)),
        ),
        (
            "no_hop_limit",
            with(|f| f.instance.http_put_response_hop_limit = None),
        ),
        (
            "no_profile",
            with(|f| f.instance.instance_profile_arn = None),
        ),
        (
            "other_profile",
            with(|f| {
                f.instance.instance_profile_arn =
                    Some("arn:aws:iam::123456789012:instance-profile/staging-node".into())
            }),
        ),
        (
            "image_of_another_owner",
            with(|f| {
                if let Some(image) = &mut f.image {
                    image.owner_alias = None;
                    image.owner_id = Some("999999999999".into());
                }
            }),
        ),
        (
            "another_image_of_amazon",
            with(|f| {
                f.instance.image_id = "ami-0ccc0042".into();
                if let Some(image) = &mut f.image {
                    image.image_id = "ami-0ccc0042".into();
                }
            }),
        ),
        (
            "image_with_another_name",
            with(|f| {
                if let Some(image) = &mut f.image {
                    image.name = Some("ubuntu-jammy-22.04".into());
                }
            }),
        ),
        (
            "subnet_not_allowed",
            with(|f| f.instance.subnet_id = Some("subnet-0fff0001".into())),
        ),
        (
            "foreign_security_group",
            with(|f| f.instance.security_group_ids.push("sg-0fff0001".into())),
        ),
        (
            "unencrypted_volume",
            with(|f| {
                f.volumes = vec![VolumeFacts {
                    volume_id: fixtures::VOLUME.into(),
                    encrypted: false,
                    kms_key_id: None,
                }]
            }),
        ),
        (
            "key_pair",
            with(|f| f.instance.key_name = Some("admin".into())),
        ),
        (
            "old_image",
            with(|f| {
                if let Some(image) = &mut f.image {
                    image.creation_date = Some(now() - Duration::from_secs(400 * 86_400));
                }
            }),
        ),
    ]
}

/// Every check the SCP carries exactly agrees with the guard; a check it
/// carries in part never denies what the guard admits.
fn assert_agrees(policy: &Policy, exact: &[CheckName], partial: &[CheckName]) {
    let export = compile(policy);
    let tags = [(CLUSTER_TAG, "owned")];
    let mut exercised = BTreeSet::new();
    for (name, facts) in launches() {
        let guard: BTreeSet<CheckName> = check_node(policy, &facts, now())
            .iter()
            .map(|v| v.check)
            .collect();
        let scp: BTreeSet<CheckName> = scp_verdict(&export, &request(&facts, &tags))
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        for check in exact {
            assert_eq!(
                scp.contains(check),
                guard.contains(check),
                "{name}: {check} (guard {guard:?}, scp {scp:?})"
            );
        }
        for check in partial {
            assert!(
                !scp.contains(check) || guard.contains(check),
                "{name}: {check} is stricter than the guard"
            );
        }
        exercised.extend(guard.intersection(&scp).copied());
    }
    for check in exact {
        assert!(
            exercised.contains(check),
            "no launch violates {check}: the table does not test it"
        );
    }
}

#[test]
fn the_scp_decides_every_expressible_check_as_the_guard_does() {
    let policy = every_check_policy(&[]);

    assert_agrees(
        &policy,
        &[
            CheckName::InstanceTypeAllowed,
            CheckName::ImdsV2,
            CheckName::InstanceProfileAllowed,
            CheckName::SubnetAllowed,
            CheckName::SecurityGroupsAllowed,
            CheckName::InstanceKeyPair,
        ],
        &[
            CheckName::ImageAllowed,
            CheckName::ImdsHopLimit,
            CheckName::VolumesEncrypted,
        ],
    );
}

#[test]
fn without_name_patterns_the_scp_decides_images_by_id_or_owner_as_the_guard_does() {
    let by_owner = every_check_policy(&[("GUARD_ALLOWED_AMI_NAME_PATTERNS", "")]);
    let by_id = every_check_policy(&[
        ("GUARD_ALLOWED_AMI_NAME_PATTERNS", ""),
        ("GUARD_ALLOWED_AMI_OWNERS", ""),
        ("GUARD_ALLOWED_AMI_IDS", fixtures::IMAGE),
    ]);

    assert_agrees(&by_owner, &[CheckName::ImageAllowed], &[]);
    assert_agrees(&by_id, &[CheckName::ImageAllowed], &[]);
}

#[test]
fn only_the_cluster_statements_wait_for_the_cluster_tag() {
    let export = compile(&every_check_policy(&[]));
    let mut facts = compliant_node();
    facts.instance.instance_type = "p5.48xlarge".into();
    facts.instance.http_tokens = Some(HttpTokens::Optional);

    let untagged = scp_verdict(&export, &request(&facts, &[("team", "data")]));
    let tagged = scp_verdict(&export, &request(&facts, &[(CLUSTER_TAG, "owned")]));

    assert!(
        untagged.iter().all(|(_, scope)| *scope == Scope::Account),
        "{untagged:?}"
    );
    assert!(tagged.contains(&(CheckName::InstanceTypeAllowed, Scope::Cluster)));
    assert!(tagged.contains(&(CheckName::ImdsV2, Scope::Cluster)));
}

#[test]
fn a_pinned_cluster_tag_is_matched_by_its_value() {
    let policy = every_check_policy(&[
        ("GUARD_CLUSTER_TAG_KEY", "eks:cluster-name"),
        ("GUARD_CLUSTER_TAG_VALUE", "prod"),
    ]);
    let export = compile(&policy);
    let mut facts = compliant_node();
    facts.instance.instance_type = "p5.48xlarge".into();

    let other_cluster = scp_verdict(
        &export,
        &request(&facts, &[("eks:cluster-name", "staging")]),
    );
    let this_cluster = scp_verdict(&export, &request(&facts, &[("eks:cluster-name", "prod")]));

    assert!(!other_cluster.contains(&(CheckName::InstanceTypeAllowed, Scope::Cluster)));
    assert!(this_cluster.contains(&(CheckName::InstanceTypeAllowed, Scope::Cluster)));
}

#[test]
fn an_exempted_or_report_only_check_gets_no_statement_and_says_why() {
    let policy = every_check_policy(&[
        ("GUARD_CHECK_EXCEPTIONS", "imds.v2@prod-gpu-*"),
        ("GUARD_AUDIT_ONLY_CHECKS", "instance_type.allowed"),
    ]);

    let export = compile(&policy);

    let carried: BTreeSet<CheckName> = export
        .scp
        .documents
        .iter()
        .flat_map(|d| &d.statements)
        .map(|s| s.check)
        .collect();
    assert!(!carried.contains(&CheckName::ImdsV2));
    assert!(!carried.contains(&CheckName::InstanceTypeAllowed));
    let imds = export
        .checks
        .iter()
        .find(|c| c.check == CheckName::ImdsV2)
        .unwrap();
    assert_eq!(imds.extent, Extent::None);
    assert!(imds.reasons[0].contains("prod-gpu-*"), "{:?}", imds.reasons);
}

#[test]
fn the_checks_no_launch_control_expresses_are_listed_with_their_reason() {
    let policy = every_check_policy(&[("GUARD_MAX_VCPUS", "100")]);

    let export = compile(&policy);

    let none: Vec<CheckName> = export
        .checks
        .iter()
        .filter(|c| c.extent == Extent::None)
        .map(|c| c.check)
        .collect();
    assert_eq!(
        none,
        vec![
            CheckName::ImageOutdated,
            CheckName::SubnetPublic,
            CheckName::BudgetVcpus,
            CheckName::MembershipUnmanaged,
            CheckName::MembershipUnguardedGroup,
        ]
    );
    assert!(
        export
            .checks
            .iter()
            .filter(|c| c.extent != Extent::Full)
            .all(|c| !c.reasons.is_empty())
    );
}

#[test]
fn many_allowed_instance_types_split_the_cluster_statements_into_several_scps() {
    let types: Vec<String> = (0..400).map(|n| format!("m{n}i.*")).collect();
    let policy = every_check_policy(&[("GUARD_ALLOWED_INSTANCE_TYPES", &types.join(","))]);

    let export = compile(&policy);

    let cluster: Vec<&scp::Document> = export
        .scp
        .documents
        .iter()
        .filter(|d| d.scope == Scope::Cluster)
        .collect();
    assert!(cluster.len() > 1, "{} cluster documents", cluster.len());
    assert!(
        export
            .scp
            .documents
            .iter()
            .all(|d| d.text().len() <= scp::SCP_MAX_CHARS)
    );
    assert!(
        export.notes.iter().any(|n| n.contains("split into")),
        "{:?}",
        export.notes
    );
}

#[test]
fn a_statement_larger_than_one_scp_is_left_out_and_named() {
    let types: Vec<String> = (0..1000).map(|n| format!("x{n}.large")).collect();
    let policy = every_check_policy(&[("GUARD_ALLOWED_INSTANCE_TYPES", &types.join(","))]);

    let export = compile(&policy);

    let row = export
        .checks
        .iter()
        .find(|c| c.check == CheckName::InstanceTypeAllowed)
        .unwrap();
    assert!(
        row.reasons
            .iter()
            .any(|r| r.contains("over the 5120 of one SCP")),
        "{:?}",
        row.reasons
    );
    assert!(
        export
            .scp
            .documents
            .iter()
            .all(|d| d.text().len() <= scp::SCP_MAX_CHARS)
    );
}

#[test]
fn the_image_rules_become_one_allowed_amis_criterion_and_its_declarative_twin() {
    let export = compile(&every_check_policy(&[]));

    assert_eq!(
        export.allowed_images.to_api_json(),
        serde_json::json!({
            "State": "enabled",
            "ImageCriteria": [{
                "ImageProviders": ["amazon"],
                "ImageNames": ["amazon-eks-node-al2023-*"],
                "CreationDateCondition": {"MaximumDaysSinceCreated": 90},
                "DeprecationTimeCondition": {"MaximumDaysSinceDeprecated": 0},
            }],
        })
    );
    assert_eq!(
        export.declarative.documents,
        vec![serde_json::json!({"ec2_attributes": {
            "allowed_images_settings": {
                "state": {"@@assign": "enabled"},
                "image_criteria": {"criteria_1": {
                    "allowed_image_providers": {"@@assign": ["amazon"]},
                    "image_names": {"@@assign": ["amazon-eks-node-al2023-*"]},
                    "creation_date_condition": {"maximum_days_since_created": {"@@assign": 90}},
                    "deprecation_time_condition": {"maximum_days_since_deprecated": {"@@assign": 0}},
                }},
            },
            "instance_metadata_defaults": {
                "http_tokens": {"@@assign": "required"},
                "http_put_response_hop_limit": {"@@assign": "1"},
            },
        }})]
    );
}

#[test]
fn allowed_image_ids_keep_allowed_amis_out_rather_than_refuse_them() {
    let export = compile(&every_check_policy(&[(
        "GUARD_ALLOWED_AMI_IDS",
        "ami-0ccc0042",
    )]));

    assert_eq!(export.allowed_images.criteria, vec![]);
    let image = export
        .checks
        .iter()
        .find(|c| c.check == CheckName::ImageAge)
        .unwrap();
    assert_eq!(image.extent, Extent::None);
    assert!(
        image
            .reasons
            .iter()
            .any(|r| r.contains("no criterion for image ids"))
    );
}

#[test]
fn audit_mode_exports_no_statement_and_puts_allowed_amis_in_audit_mode() {
    let export = compile(&every_check_policy(&[("GUARD_MODE", "audit")]));

    assert_eq!(export.scp.documents, vec![]);
    assert_eq!(export.allowed_images.to_api_json()["State"], "audit-mode");
    assert_eq!(
        export.declarative.documents[0]["ec2_attributes"]["allowed_images_settings"]["state"]["@@assign"],
        "audit_mode"
    );
}

/// Whether Allowed AMIs lets `image` be used: any criterion meets it (every
/// field it sets), or the account owns it.
fn allowed_amis_allow(
    criteria: &[allowed_images::Criterion],
    image: &crate::facts::ImageFacts,
) -> bool {
    let days = |since: std::time::SystemTime| {
        now().duration_since(since).unwrap_or_default().as_secs() / 86_400
    };
    let own = image.owner_id.as_deref() == Some(ACCOUNT);
    let meets = |c: &allowed_images::Criterion| {
        let provider = c.providers.is_empty()
            || c.providers.iter().any(|p| match p.as_str() {
                "none" => own,
                alias @ ("amazon" | "aws-marketplace") => {
                    image.owner_alias.as_deref() == Some(alias)
                }
                account => image.owner_id.as_deref() == Some(account),
            });
        let name = c.names.is_empty()
            || image
                .name
                .as_deref()
                .is_some_and(|n| c.names.iter().any(|p| like(p, n)));
        let created = c.max_days_since_created.is_none_or(|max| {
            image
                .creation_date
                .is_some_and(|t| days(t) <= u64::from(max))
        });
        let deprecated = c.max_days_since_deprecated.is_none_or(|max| {
            image
                .deprecation_time
                .is_none_or(|t| t > now() || (max > 0 && days(t) <= u64::from(max)))
        });
        provider && name && created && deprecated
    };
    own || criteria.iter().any(meets)
}

#[test]
fn allowed_amis_refuses_only_images_the_guard_refuses_and_every_one_it_refuses_of_another_account()
{
    let policy = every_check_policy(&[]);
    let criteria = compile(&policy).allowed_images.criteria;
    let image_checks = [
        CheckName::ImageAllowed,
        CheckName::ImageAge,
        CheckName::ImageDeprecated,
    ];
    let with = |f: fn(&mut crate::facts::ImageFacts)| {
        let mut facts = compliant_node();
        if let Some(image) = &mut facts.image {
            f(image);
        }
        facts
    };
    let images = [
        ("compliant", compliant_node()),
        (
            "another_owner",
            with(|i| {
                i.owner_alias = None;
                i.owner_id = Some("999999999999".into());
            }),
        ),
        (
            "marketplace",
            with(|i| i.owner_alias = Some("aws-marketplace".into())),
        ),
        (
            "another_name",
            with(|i| i.name = Some("ubuntu-jammy-22.04".into())),
        ),
        (
            "old",
            with(|i| i.creation_date = Some(now() - Duration::from_secs(100 * 86_400))),
        ),
        (
            "deprecated",
            with(|i| i.deprecation_time = Some(now() - Duration::from_secs(86_400))),
        ),
        (
            "own_account",
            with(|i| {
                i.owner_alias = None;
                i.owner_id = Some(ACCOUNT.into());
            }),
        ),
    ];
    for (name, facts) in images {
        let image = facts.image.clone().unwrap();
        let guard_refuses = check_node(&policy, &facts, now())
            .iter()
            .any(|v| image_checks.contains(&v.check));
        let refused = !allowed_amis_allow(&criteria, &image);
        if image.owner_id.as_deref() == Some(ACCOUNT) {
            assert!(
                !refused,
                "{name}: Allowed AMIs always allows the account's own images"
            );
        } else {
            assert_eq!(refused, guard_refuses, "{name}");
        }
    }
}
