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
