//! Lifecycle actions as the domain sees them: what `CompleteLifecycleAction`
//! needs and where the instance comes from and goes to. Decoding the events
//! that carry them is the adapters' work (`shared::lifecycle`).

use serde::{Deserialize, Serialize};

pub const LAUNCH_DETAIL_TYPE: &str = "EC2 Instance-launch Lifecycle Action";
pub const LAUNCHING: &str = "autoscaling:EC2_INSTANCE_LAUNCHING";
pub const TEST_NOTIFICATION: &str = "autoscaling:TEST_NOTIFICATION";
/// The `Origin`/`Destination` of a launch into or out of a warm pool.
pub const WARM_POOL: &str = "WarmPool";

/// One pending lifecycle action: what `CompleteLifecycleAction` needs, and
/// where the instance comes from and goes to (warm pools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleAction {
    #[serde(rename = "LifecycleActionToken")]
    pub token: String,
    #[serde(rename = "AutoScalingGroupName")]
    pub group: String,
    #[serde(rename = "LifecycleHookName")]
    pub hook: String,
    #[serde(rename = "EC2InstanceId")]
    pub instance_id: String,
    #[serde(rename = "LifecycleTransition")]
    pub transition: String,
    #[serde(
        rename = "NotificationMetadata",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub notification_metadata: Option<String>,
    /// `EC2`, `WarmPool` or `AutoScalingGroup`.
    #[serde(rename = "Origin", default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// `AutoScalingGroup` or `WarmPool`.
    #[serde(
        rename = "Destination",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub destination: Option<String>,
}

impl LifecycleAction {
    /// The action, when every field `CompleteLifecycleAction` and the checks
    /// need is filled: a blank instance id or group would be looked up as
    /// "nothing there", a blank token or hook could not be completed.
    pub fn validated(self) -> Result<Self, EventError> {
        let blank: Vec<String> = [
            ("LifecycleActionToken", &self.token),
            ("AutoScalingGroupName", &self.group),
            ("LifecycleHookName", &self.hook),
            ("EC2InstanceId", &self.instance_id),
            ("LifecycleTransition", &self.transition),
        ]
        .into_iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(field, _)| format!("`{field}`"))
        .collect();
        match blank.as_slice() {
            [] => Ok(self),
            [field] => Err(EventError::BadDetail(format!("{field} is empty"))),
            fields => Err(EventError::BadDetail(format!(
                "{} are empty",
                fields.join(", ")
            ))),
        }
    }
}

/// Whether Auto Scaling's lifecycle state of a group's instance says its
/// launch into the group is over: the launch hooks, if the group had any
/// then, let it go. An instance past its launch that launch-guard never
/// recorded was never vetted, and no hook added later can hold it again
/// (EKS managed node groups launch their first instances before enrollment
/// can put the guard's hook on). A warm pool's instance (`Warmed:*`) has yet
/// to launch into the group, and `Pending*` may still wait for a decision.
pub fn launch_is_over(lifecycle_state: &str) -> bool {
    matches!(
        lifecycle_state,
        "InService" | "EnteringStandby" | "Standby" | "Detaching" | "Detached" | "Terminated"
    ) || lifecycle_state.starts_with("Terminating")
}

/// Where a notification came from, for alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
}

/// What a notification turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Action {
        action: Box<LifecycleAction>,
        origin: Origin,
    },
    /// `autoscaling:TEST_NOTIFICATION`, sent when a hook's target is set.
    Test { group: Option<String> },
}

/// The notification cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is not json: {0}")]
    NotJson(String),
    #[error("event is not a lifecycle notification: {0}")]
    Unrecognised(String),
    #[error("lifecycle notification is missing a field or has a wrong one: {0}")]
    BadDetail(String),
}

#[cfg(test)]
mod launch_state_tests {
    use rstest::rstest;

    use super::launch_is_over;

    #[rstest]
    #[case::in_service("InService", true)]
    #[case::standby("Standby", true)]
    #[case::entering_standby("EnteringStandby", true)]
    #[case::detaching("Detaching", true)]
    #[case::terminating_wait("Terminating:Wait", true)]
    #[case::pending("Pending", false)]
    #[case::pending_wait("Pending:Wait", false)]
    #[case::pending_proceed("Pending:Proceed", false)]
    #[case::warmed_running("Warmed:Running", false)]
    #[case::warmed_pending_wait("Warmed:Pending:Wait", false)]
    #[case::quarantined("Quarantined", false)]
    #[case::unknown("", false)]
    fn a_launch_is_over_once_the_group_lets_the_instance_past_pending(
        #[case] state: &str,
        #[case] over: bool,
    ) {
        assert_eq!(launch_is_over(state), over, "{state}");
    }
}
