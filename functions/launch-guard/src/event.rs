//! What launch-guard is invoked with: an EventBridge event, a lifecycle
//! hook's message, or an SQS batch of either. The lifecycle notification
//! itself is decoded by [`shared::lifecycle`], which the CLI's `explain`
//! shares; this is launch-guard's envelope.

use shared::invocation;
use shared::lifecycle::Payload;

/// An invocation's payload: the [`Payload`] it is, or why it is none. Any
/// JSON value deserializes, through [`shared::lifecycle::parse_payload`]
/// ([`invocation::Input`] says why).
pub type Input = invocation::Input<Payload>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_json_deserializes_and_a_refusal_keeps_its_message() {
        let input: Input = serde_json::from_str(r#"{"hello": "world"}"#).unwrap();
        let err = input.into_payload().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("event is not a lifecycle notification"),
            "{err}"
        );
    }

    #[test]
    fn a_hook_message_is_one_notification() {
        let message = serde_json::json!({
            "LifecycleActionToken": "t-1",
            "AutoScalingGroupName": "prod-general",
            "LifecycleHookName": "scaling-guard-prod",
            "EC2InstanceId": "i-0123456789abcdef0",
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING"
        });
        let payload = Input::from(message).into_payload().unwrap();
        assert!(matches!(payload, Payload::Single(_)), "{payload:?}");
    }
}
