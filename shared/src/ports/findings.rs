//! The Security Hub port (issue 24, point 1): the guard's findings in ASFF,
//! imported and read back. Optional: with `GUARD_SECURITY_HUB` off the
//! adapter makes no call at all (`import` answers an empty [`Imported`],
//! `active` an empty list).

use std::future::Future;

use guard_core::findings::asff::AsffFinding;

use super::AwsResult;

/// At most this many findings per `BatchImportFindings` (Security Hub's limit).
pub const IMPORT_BATCH: usize = 100;

/// What Security Hub did with the findings of one [`FindingsPublish::import`]:
/// a partial failure is a value, not an error, so that it is counted and
/// logged instead of lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// Findings Security Hub took (created or updated).
    pub succeeded: usize,
    /// Findings it refused (`FailedFindings`), and those of a batch whose
    /// call failed after its retries (the call's error code).
    pub failed: Vec<FailedFinding>,
    /// `BatchImportFindings` calls made.
    pub calls: usize,
}

impl Imported {
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// One finding Security Hub did not take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFinding {
    pub id: String,
    /// Security Hub's `ErrorCode` (`InvalidInput`, `AccessDenied`, …), or the
    /// failed call's error code.
    pub code: String,
    pub message: String,
}

/// Imports and reads the guard's findings in Security Hub.
///
/// `active` returns whole [`AsffFinding`]s, rebuilt from `GetFindings`, not a
/// smaller type: archiving a finding is importing it again, and
/// `BatchImportFindings` takes only whole findings (every required field),
/// so the caller passes what it read to
/// [`guard_core::findings::asff::resolved`] and imports the result.
pub trait FindingsPublish: Send + Sync {
    /// `BatchImportFindings` of `findings`: at most ⌈n/100⌉ calls for n
    /// findings, one after the other and paced under the API's rate (10
    /// calls a second); a throttled call is retried (the SDK's retry). A
    /// batch whose call fails after its retries is reported in
    /// [`Imported::failed`] and the next batch still goes; the result is an
    /// error only when no call got through at all (Security Hub unreachable,
    /// not enabled, or access denied).
    fn import(&self, findings: &[AsffFinding]) -> impl Future<Output = AwsResult<Imported>> + Send;

    /// `GetFindings` (every page) of the guard's `ACTIVE` findings of
    /// `cluster` in the adapter's region, or of one instance of it. In a
    /// Security Hub administrator account this includes the findings of
    /// member accounts; only the account's own can be archived from it
    /// (compare `aws_account_id`).
    fn active(
        &self,
        cluster: &str,
        instance_id: Option<&str>,
    ) -> impl Future<Output = AwsResult<Vec<AsffFinding>>> + Send;
}
