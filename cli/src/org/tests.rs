use pretty_assertions::assert_eq;

use super::targets::{partition, role_arn, targets};
use super::*;

#[test]
fn every_account_is_audited_in_every_region_in_a_stable_order() {
    let accounts = ["222222222222".to_owned(), "111111111111".to_owned()];
    let regions = ["eu-west-1".to_owned(), "us-east-1".to_owned()];
    let order: Vec<(String, String)> = targets(&accounts, &regions)
        .into_iter()
        .map(|t| (t.account, t.region))
        .collect();
    assert_eq!(
        order,
        [
            ("111111111111", "eu-west-1"),
            ("111111111111", "us-east-1"),
            ("222222222222", "eu-west-1"),
            ("222222222222", "us-east-1"),
        ]
        .map(|(a, r)| (a.to_owned(), r.to_owned()))
    );
}

#[test]
fn the_role_is_assumed_in_the_partition_of_the_region() {
    assert_eq!(partition("eu-west-1"), "aws");
    assert_eq!(partition("cn-north-1"), "aws-cn");
    assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    assert_eq!(partition("us-isob-east-1"), "aws-iso-b");
    let target = Target {
        account: "111111111111".to_owned(),
        region: "cn-northwest-1".to_owned(),
    };
    assert_eq!(
        role_arn(&target, "scaling-guard-audit"),
        "arn:aws-cn:iam::111111111111:role/scaling-guard-audit"
    );
}

#[test]
fn an_account_id_is_twelve_digits() {
    assert_eq!(account_id("111111111111").as_deref(), Ok("111111111111"));
    assert!(account_id("11111111111").is_err());
    assert!(account_id("11111111111x").is_err());
}

mod args {
    use clap::Parser;

    use crate::args::{Args, AuditFormat, Command, OrgAudit, OrgCommand};

    fn org_audit(args: &[&str]) -> Result<OrgAudit, clap::Error> {
        let args = Args::try_parse_from([&["scaling-guard", "org", "audit"], args].concat())?;
        match args.command {
            Command::Org {
                command: OrgCommand::Audit(org),
            } => Ok(org),
            other => panic!("not org audit: {other:?}"),
        }
    }

    #[test]
    fn the_defaults_are_the_agreed_ones() {
        let org = org_audit(&["--accounts", "111111111111,222222222222"]).unwrap();
        assert_eq!(org.accounts, ["111111111111", "222222222222"]);
        assert_eq!(org.role, "scaling-guard-audit");
        assert_eq!(org.concurrency, 8);
        assert_eq!(org.timeout.seconds, 60);
        assert_eq!(org.format, AuditFormat::Text);
        assert!(org.regions.is_empty() && org.external_id.is_none() && !org.leftovers);
    }

    #[test]
    fn every_flag_is_read() {
        let org = org_audit(&[
            "--ou",
            "ou-ab12-x",
            "--ou",
            "ou-ab12-y",
            "--role",
            "audit",
            "--external-id",
            "fleet-7",
            "--regions",
            "eu-west-1,us-east-1",
            "--concurrency",
            "3",
            "--timeout",
            "5",
            "--format",
            "asff",
            "--leftovers",
        ])
        .unwrap();
        assert_eq!(org.ou, ["ou-ab12-x", "ou-ab12-y"]);
        assert_eq!(org.regions, ["eu-west-1", "us-east-1"]);
        assert_eq!(
            (org.role.as_str(), org.external_id.as_deref()),
            ("audit", Some("fleet-7"))
        );
        assert_eq!((org.concurrency, org.timeout.seconds), (3, 5));
        assert_eq!(org.format, AuditFormat::Asff);
        assert!(org.leftovers);
    }

    #[test]
    fn targets_are_required_and_bad_values_are_usage_errors() {
        for bad in [
            &[][..],
            &["--accounts", "1234"],
            &["--accounts", "111111111111", "--concurrency", "0"],
            &["--accounts", "111111111111", "--timeout", "0"],
        ] {
            let err = org_audit(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}: {err}");
        }
    }

    #[test]
    fn audit_takes_a_timeout_too() {
        let args = Args::try_parse_from(["scaling-guard", "audit", "--timeout", "2"]).unwrap();
        let Command::Audit { timeout, .. } = args.command else {
            panic!("not audit")
        };
        assert_eq!(timeout.duration(), std::time::Duration::from_secs(2));
    }
}

mod rendering {
    use pretty_assertions::assert_eq;
    use shared::aws::SlowListing;

    use super::super::fleet::write_text;
    use super::*;
    use crate::args::Timeout;
    use crate::audit::{self, SlowNote};
    use crate::fixtures::{GROUP, cluster, node, now, policy};

    async fn report(ids: &[&str]) -> audit::AuditReport {
        let aws = cluster(ids.iter().map(|id| node(id, Some(GROUP))).collect());
        audit::run(&policy(&[]), &aws, now()).await.unwrap()
    }

    fn target(account: &str) -> Target {
        Target {
            account: account.to_owned(),
            region: "eu-west-1".to_owned(),
        }
    }

    async fn fleet() -> Fleet {
        let mut slow = report(&["i-0000000000000000b"]).await;
        let listing = SlowListing {
            timeouts: 1,
            page_size: 250,
        };
        slow.slow = SlowNote::of(Some(listing), "eu-west-1", Timeout { seconds: 2 });
        Fleet {
            cluster: "prod".to_owned(),
            time: "2026-12-08T00:00:00Z".to_owned(),
            targets: vec![
                TargetReport {
                    target: target("111111111111"),
                    read: Ok(report(&["i-0000000000000000a"]).await),
                    leftovers: None,
                },
                TargetReport {
                    target: target("222222222222"),
                    read: Ok(slow),
                    leftovers: None,
                },
                TargetReport {
                    target: target("333333333333"),
                    read: Err("cannot assume `arn:aws:iam::333333333333:role/scaling-guard-audit`: AccessDenied".to_owned()),
                    leftovers: None,
                },
            ],
            skipped: vec![Skipped {
                account: "444444444444".to_owned(),
                status: "SUSPENDED".to_owned(),
            }],
        }
    }

    #[tokio::test]
    async fn the_table_names_each_rows_account_region_and_cluster_and_each_targets_fate() {
        let mut out = Vec::new();
        write_text(&fleet().await, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "cluster prod, 2026-12-08T00:00:00Z");
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["ACCOUNT", "REGION", "STATUS"]
        );
        assert!(
            lines[3].starts_with("111111111111  eu-west-1  1 instance(s), 0 non-compliant"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("slow: pages came down to 250 (1 timeout(s) of 2 s)"),
            "{text}"
        );
        assert!(lines[5].contains("error: cannot assume"), "{text}");
        let row = lines
            .iter()
            .find(|l| l.contains("i-0000000000000000b"))
            .unwrap();
        assert_eq!(
            row.split_whitespace().take(3).collect::<Vec<_>>(),
            ["222222222222", "eu-west-1", "prod"]
        );
        assert!(
            text.ends_with("skipped: account 444444444444 is SUSPENDED\n"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn the_document_has_the_targets_then_the_rows_and_a_denied_account_exits_2() {
        let fleet = fleet().await;
        let json = serde_json::to_value(fleet.document()).unwrap();
        let statuses: Vec<&str> = json["targets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["audited", "audited", "error"]);
        assert_eq!(json["targets"][1]["slow"]["page_size"], 250);
        assert_eq!(json["rows"][1]["account"], "222222222222");
        assert_eq!(json["rows"][1]["cluster"], "prod");
        assert_eq!(json["rows"][1]["instance_id"], "i-0000000000000000b");
        assert_eq!(json["skipped"][0]["status"], "SUSPENDED");
        assert_eq!(fleet.outcome(), ExitStatus::Error);
        let audited = Fleet {
            targets: fleet.targets[..2].to_vec(),
            ..fleet
        };
        assert_eq!(audited.outcome(), ExitStatus::Clean);
    }
}
