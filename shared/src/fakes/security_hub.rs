//! The fake's Security Hub: findings by `Id`, as `BatchImportFindings`
//! stores them and `GetFindings` answers (issue 24, point 1).

use std::collections::BTreeMap;

use guard_core::findings::asff::{AsffFinding, RecordState};

use crate::ports::{AwsResult, FailedFinding, FindingsPublish, IMPORT_BATCH, Imported};

use super::FakeAws;

/// The account the fake's Security Hub belongs to: a finding of another
/// account is refused, as AWS refuses it.
pub const FAKE_ACCOUNT: &str = "123456789012";

/// What the fake's Security Hub holds.
#[derive(Debug, Default)]
pub(super) struct SecurityHub {
    /// The current finding of each `Id`.
    findings: BTreeMap<String, AsffFinding>,
    /// The size of every `BatchImportFindings` call, in order.
    batches: Vec<usize>,
}

impl SecurityHub {
    /// Like AWS: a finding of the same `Id` replaces the old one and keeps
    /// its `CreatedAt`; one of another account is refused.
    fn store(&mut self, finding: &AsffFinding) -> Result<(), FailedFinding> {
        if finding.aws_account_id != FAKE_ACCOUNT {
            return Err(FailedFinding {
                id: finding.id.clone(),
                code: "AccessDeniedException".to_owned(),
                message: format!("account `{}` is not the caller's", finding.aws_account_id),
            });
        }
        let mut stored = finding.clone();
        if let Some(old) = self.findings.get(&finding.id) {
            stored.created_at = old.created_at.clone();
        }
        self.findings.insert(finding.id.clone(), stored);
        Ok(())
    }
}

impl FakeAws {
    /// Every finding the fake's Security Hub holds, by `Id` order (archived
    /// ones too).
    pub fn security_hub_findings(&self) -> Vec<AsffFinding> {
        self.state()
            .security_hub
            .findings
            .values()
            .cloned()
            .collect()
    }

    /// The number of findings of each `BatchImportFindings` call, in order.
    pub fn import_batches(&self) -> Vec<usize> {
        self.state().security_hub.batches.clone()
    }
}

impl FindingsPublish for FakeAws {
    async fn import(&self, findings: &[AsffFinding]) -> AwsResult<Imported> {
        let mut imported = Imported::default();
        for batch in findings.chunks(IMPORT_BATCH) {
            tokio::task::yield_now().await;
            imported.calls += 1;
            let mut state = self.call("BatchImportFindings")?;
            state.security_hub.batches.push(batch.len());
            for finding in batch {
                match state.security_hub.store(finding) {
                    Ok(()) => imported.succeeded += 1,
                    Err(failed) => imported.failed.push(failed),
                }
            }
        }
        Ok(imported)
    }

    async fn active(
        &self,
        cluster: &str,
        instance_id: Option<&str>,
    ) -> AwsResult<Vec<AsffFinding>> {
        tokio::task::yield_now().await;
        let state = self.call("GetFindings")?;
        Ok(state
            .security_hub
            .findings
            .values()
            .filter(|f| f.record_state == RecordState::Active)
            .filter(|f| f.cluster() == Some(cluster))
            .filter(|f| instance_id.is_none_or(|id| f.instance_id() == Some(id)))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use guard_core::alerts::Severity;
    use guard_core::checks::{CheckName, Violation};
    use guard_core::decision::Finding;
    use guard_core::findings::asff::{Context, Subject, failed};
    use guard_core::fixtures::{CLUSTER, now};
    use guard_core::policy::Mode;

    use super::*;

    fn finding(account: &str, cluster: &str, instance_id: &str) -> AsffFinding {
        let subject = Subject {
            account,
            region: super::super::FAKE_REGION,
            cluster,
            instance_id,
            group: None,
        };
        let violation = Violation::new(CheckName::ImdsV2, instance_id, "a", "b", "imds v1");
        let context = Context {
            decision: "ABANDON",
            mode: Mode::Enforce,
            severity: Severity::Critical,
            advice: "require IMDSv2",
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

    #[tokio::test]
    async fn the_fake_imports_by_hundreds_refuses_other_accounts_and_answers_active() {
        let aws = FakeAws::new();
        let mut batch: Vec<AsffFinding> = (0..150)
            .map(|n| finding(FAKE_ACCOUNT, CLUSTER, &format!("i-{n}")))
            .collect();
        batch.push(finding("210987654321", CLUSTER, "i-x"));
        batch.push(finding(FAKE_ACCOUNT, "staging", "i-y"));

        let imported = aws.import(&batch).await.unwrap();

        assert_eq!((imported.succeeded, imported.calls), (151, 2));
        assert_eq!(imported.failed.len(), 1);
        assert_eq!(aws.import_batches(), vec![100, 52]);
        assert_eq!(aws.active(CLUSTER, None).await.unwrap().len(), 150);
        assert_eq!(aws.active(CLUSTER, Some("i-7")).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn an_injected_failure_fails_the_import() {
        let aws = FakeAws::new();
        aws.fail("BatchImportFindings");
        let err = aws
            .import(&[finding(FAKE_ACCOUNT, CLUSTER, "i-1")])
            .await
            .unwrap_err();
        assert_eq!(err.operation, "BatchImportFindings");
    }
}
