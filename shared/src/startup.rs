//! The cold start every function shares: read the policy once, log which
//! checks are on, build the AWS adapters once — or, with an invalid policy,
//! say so once and refuse every invocation.

use std::collections::BTreeMap;
use std::time::SystemTime;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

use crate::alerts::{misconfigured_alert, publish_best_effort};
use crate::aws::{Adapters, Destinations, Sns, load_config};
use crate::policy::settings::{ALERT_TOPIC_ARN, CLUSTER, MODE};
use crate::policy::{Mode, Policy, PolicyError};
use crate::ports::AlertPublish;

/// A function whose policy is invalid: it decides nothing.
#[derive(Debug, thiserror::Error)]
#[error("{function} decides nothing: {error}")]
pub struct Misconfigured {
    pub function: &'static str,
    pub error: PolicyError,
}

/// Reads and validates the policy and builds the adapters. A bad policy is
/// logged with every problem and published once, as a critical
/// `guard_misconfigured` alert, when the alert topic variable is readable.
pub async fn cold_start(function: &'static str) -> Result<(Policy, Adapters), Misconfigured> {
    let vars: BTreeMap<String, String> = std::env::vars().collect();
    let policy = match Policy::from_vars(vars.clone()) {
        Ok(policy) => policy,
        Err(error) => {
            let misconfigured = Misconfigured { function, error };
            tracing::error!(err = %misconfigured.error, function, "policy rejected");
            if let Some(topic) = readable_topic(&vars) {
                let config = load_config().await;
                let sns = Sns::new(aws_sdk_sns::Client::new(&config), topic);
                misconfigured.announce(&sns, &vars, SystemTime::now()).await;
            }
            return Err(misconfigured);
        }
    };
    let checks: Vec<&str> = policy.enabled_checks().iter().map(|c| c.as_str()).collect();
    tracing::info!(
        function,
        cluster = %policy.cluster,
        mode = %policy.mode,
        audit_action = %policy.audit_action,
        ?checks,
        "policy loaded"
    );
    let adapters = Adapters::new(&load_config().await, &Destinations::of(&policy));
    Ok((policy, adapters))
}

/// `GUARD_ALERT_TOPIC_ARN` when it looks like a topic's ARN.
fn readable_topic(vars: &BTreeMap<String, String>) -> Option<&str> {
    vars.get(ALERT_TOPIC_ARN.name)
        .map(|arn| arn.trim())
        .filter(|arn| arn.starts_with("arn:") && arn.split(':').count() == 6)
}

impl Misconfigured {
    /// Publishes the one `guard_misconfigured` alert of this environment,
    /// listing every problem; cluster and mode as the raw variables say.
    pub async fn announce(
        &self,
        alerts: &impl AlertPublish,
        vars: &BTreeMap<String, String>,
        now: SystemTime,
    ) {
        let cluster = vars.get(CLUSTER.name).map_or("", String::as_str);
        let mode = match vars.get(MODE.name).map(|mode| mode.trim()) {
            Some("audit") => Mode::Audit,
            _ => Mode::Enforce,
        };
        let alert = misconfigured_alert(self.function, cluster, mode, &self.error.problems, now);
        publish_best_effort(alerts, &alert).await;
    }

    /// Serves every invocation with a `GuardMisconfigured` error naming every
    /// problem, so that the environment stays (and does not alert again on a
    /// new init) and every event is retried or kept in the dead-letter queue.
    pub async fn refuse_every_invocation(self) -> Result<(), lambda_runtime::Error> {
        let refusal = &self;
        lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
            Err::<Value, Diagnostic>(refusal.diagnostic())
        }))
        .await
    }

    pub fn diagnostic(&self) -> Diagnostic {
        diagnostic("GuardMisconfigured", self)
    }
}

/// The error a failed invocation reports to Lambda: its type (what kind of
/// failure, for metrics and the dead-letter queue) and its message.
pub fn diagnostic(error_type: &str, err: &impl std::fmt::Display) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{AlertKind, Severity};
    use crate::fakes::FakeAws;
    use crate::fixtures::now;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn invalid() -> BTreeMap<String, String> {
        vars(&[
            ("GUARD_CLUSTER", "prod"),
            ("GUARD_MODE", "strict"),
            ("GUARD_ALLOWED_SECURITY_GROUP_IDS", "web"),
            (
                "GUARD_ALERT_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts",
            ),
        ])
    }

    #[tokio::test]
    async fn an_invalid_policy_is_announced_once_with_every_problem() {
        let vars = invalid();
        let error = Policy::from_vars(vars.clone()).unwrap_err();
        let misconfigured = Misconfigured {
            function: "launch-guard",
            error,
        };
        let aws = FakeAws::new();

        misconfigured.announce(&aws, &vars, now()).await;

        let published = aws.published();
        assert_eq!(published.len(), 1, "{published:?}");
        let alert = &published[0];
        assert_eq!(alert.kind, AlertKind::GuardMisconfigured);
        assert_eq!(alert.severity, Severity::Critical);
        assert_eq!(alert.cluster, "prod");
        assert_eq!(alert.details["problems"].as_array().unwrap().len(), 2);
        assert!(alert.advice.contains("`GUARD_MODE`"), "{}", alert.advice);
        assert!(alert.advice.contains("`web`"), "{}", alert.advice);
        assert!(
            alert.headline.contains("launch-guard"),
            "{}",
            alert.headline
        );
    }

    #[test]
    fn every_invocation_is_refused_with_the_problems() {
        let error = Policy::from_vars(invalid()).unwrap_err();
        let diagnostic = Misconfigured {
            function: "budget-guard",
            error,
        }
        .diagnostic();
        assert_eq!(diagnostic.error_type, "GuardMisconfigured");
        assert!(
            diagnostic
                .error_message
                .starts_with("budget-guard decides nothing: invalid policy (2 problems)"),
            "{}",
            diagnostic.error_message
        );
    }

    #[test]
    fn only_a_topic_arn_is_published_to() {
        assert_eq!(
            readable_topic(&invalid()),
            Some("arn:aws:sns:eu-west-1:123456789012:scaling-guard-alerts")
        );
        assert_eq!(
            readable_topic(&vars(&[("GUARD_ALERT_TOPIC_ARN", "alerts")])),
            None
        );
        assert_eq!(readable_topic(&vars(&[])), None);
    }
}
