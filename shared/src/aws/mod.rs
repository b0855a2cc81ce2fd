//! Adapters: the ports of [`crate::ports`] on the real AWS SDK clients.

mod autoscaling;

mod cloudwatch;
mod convert;
mod ec2;
mod ec2_actions;
mod events;
mod iam;
mod images;
mod notify;
mod securityhub;
mod sns;

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use crate::cache::CachedNetworkImages;
pub use autoscaling::AutoScaling;
pub use cloudwatch::{CloudWatch, NAMESPACE};
pub use ec2::{Ec2, PageSizes, SlowListing};
pub use ec2_actions::Ec2Remediation;
pub use events::Events;
pub use iam::Iam;
pub use images::ImageSources;
pub use notify::Notifier;
pub use securityhub::{IMPORT_PACE, SecurityHub};
pub use sns::Sns;

use crate::ports::{AwsError, Ports, ReadPorts};

/// Loads a function's SDK configuration, once per execution environment:
/// credentials and region from the variables Lambda sets in every execution
/// environment (the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`; `AWS_REGION`),
/// `AWS_ENDPOINT_URL` when set (the local emulator), and retries and
/// timeouts bounded so that a handler finishes well inside its Lambda
/// timeout and the hook's heartbeat.
///
/// Not the default chains: on Lambda they end at the environment anyway,
/// and building them (profile files, SSO, web identity, container and IMDS
/// providers) is most of what a cold start would run of the SDK, and
/// several MiB of resident code (issue 13, part 5: BENCHMARKS.md).
pub async fn load_config() -> SdkConfig {
    defaults()
        .credentials_provider(EnvironmentVariableCredentialsProvider::new())
        .region(EnvironmentVariableRegionProvider::new())
        .load()
        .await
}

/// [`load_config`] with the default credential and region chains (profile,
/// SSO, credential process, IMDS, …): for the CLI, run by people.
pub async fn load_config_with_default_chains() -> SdkConfig {
    defaults().load().await
}

fn defaults() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(5))
                .build(),
        )
}

/// Three attempts with a short jittered backoff (0.1 s, then up to 1 s), so
/// that a throttled or failed call is retried well inside its 5 s bound.
/// Standard, not adaptive: adaptive mode's client-side rate limiter, after a
/// single throttle at a Lambda's low request rate, holds the retry back
/// beyond the operation timeout, so one throttle failed the whole call (seen
/// end to end with the emulator's fault injection).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(1))
}

/// Every adapter a function needs, built once per execution environment from
/// one SDK configuration.
#[derive(Debug)]
pub struct Adapters {
    pub ec2: Ec2,
    /// Stop, terminate and isolate (instance-audit only).
    pub remediation: Ec2Remediation,
    /// Images and subnets, and AWS's recommended images, cached across warm
    /// invocations.
    pub images: CachedNetworkImages<ImageSources>,
    pub autoscaling: AutoScaling,
    pub cloudwatch: CloudWatch,
    /// The alert topic and the decision events' bus: every alert goes to both.
    pub alerts: Notifier,
    /// The launch breaker on launcher roles (budget-guard, stack-guard).
    pub iam: Iam,
    /// The guard's findings, when `GUARD_SECURITY_HUB` is on.
    pub securityhub: SecurityHub,
}

/// Where a function's alerts (and, as they are configured, its decision
/// events, chat messages and findings) go: read from the policy at the cold
/// start, or from the stack's variables for stack-guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    /// The SNS alert topic (`GUARD_ALERT_TOPIC_ARN`).
    pub alert_topic_arn: String,
    /// The decision events' bus (`GUARD_EVENT_BUS`).
    pub event_bus: crate::events::EventBus,
    /// Findings to Security Hub (`GUARD_SECURITY_HUB`).
    pub security_hub: bool,
    /// Every alert also as an AWS Chatbot custom notification
    /// (`GUARD_CHAT_TOPIC_ARN`).
    pub chat_topic_arn: Option<String>,
}

impl Destinations {
    /// Alerts to `topic` only.
    pub fn alert_topic(topic: impl Into<String>) -> Self {
        Self {
            alert_topic_arn: topic.into(),
            event_bus: crate::events::EventBus::default(),
            security_hub: false,
            chat_topic_arn: None,
        }
    }

    /// Alerts to the chat `topic` too, when there is one.
    pub fn with_chat_topic(mut self, topic: Option<String>) -> Self {
        self.chat_topic_arn = topic;
        self
    }

    /// Findings to Security Hub too, when `on`.
    pub fn with_security_hub(mut self, on: bool) -> Self {
        self.security_hub = on;
        self
    }

    /// Events to `bus` (default: the account's default bus).
    pub fn with_event_bus(mut self, bus: crate::events::EventBus) -> Self {
        self.event_bus = bus;
        self
    }

    /// The destinations the policy names.
    pub fn of(policy: &crate::policy::Policy) -> Self {
        Self::alert_topic(policy.alert_topic_arn.clone())
            .with_event_bus(policy.event_bus.clone())
            .with_security_hub(policy.security_hub)
            .with_chat_topic(policy.chat_topic_arn.clone())
    }
}

impl Adapters {
    pub fn new(config: &SdkConfig, destinations: &Destinations) -> Self {
        let ec2_client = aws_sdk_ec2::Client::new(config);
        let ec2 = Ec2::new(ec2_client.clone());
        Self {
            remediation: Ec2Remediation::new(ec2_client),
            images: CachedNetworkImages::new(ImageSources::new(
                ec2.clone(),
                aws_sdk_ssm::Client::new(config),
            )),
            ec2,
            autoscaling: AutoScaling::new(aws_sdk_autoscaling::Client::new(config)),
            cloudwatch: CloudWatch::new(aws_sdk_cloudwatch::Client::new(config)),
            alerts: Notifier::new(
                Sns::new(
                    aws_sdk_sns::Client::new(config),
                    &destinations.alert_topic_arn,
                )
                .with_chat_topic(destinations.chat_topic_arn.clone()),
                Events::new(
                    aws_sdk_eventbridge::Client::new(config),
                    destinations.event_bus.clone(),
                ),
            ),
            iam: Iam::new(config),
            securityhub: SecurityHub::new(config, destinations.security_hub),
        }
    }
}

/// Flattens an SDK error into the port's error, keeping the service's code.
pub(crate) fn aws_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err.code().map(str::to_owned);
    let message = err
        .message()
        .map(str::to_owned)
        .unwrap_or_else(|| aws_smithy_types::error::display::DisplayErrorContext(&err).to_string());
    AwsError {
        operation,
        code,
        message,
    }
}

/// The AWS adapters of the cold start, as read ports.
impl ReadPorts for Adapters {
    type Instances = Ec2;
    type Images = CachedNetworkImages<ImageSources>;
    type Groups = AutoScaling;
    type Metrics = CloudWatch;

    fn instances(&self) -> &Ec2 {
        &self.ec2
    }
    fn images(&self) -> &CachedNetworkImages<ImageSources> {
        &self.images
    }
    fn groups(&self) -> &AutoScaling {
        &self.autoscaling
    }
    fn metrics(&self) -> &CloudWatch {
        &self.cloudwatch
    }
}

/// The AWS adapters of the cold start.
impl Ports for Adapters {
    type Remediation = Ec2Remediation;
    type Alerts = Notifier;
    type Launchers = Iam;
    type Findings = SecurityHub;

    fn remediation(&self) -> &Ec2Remediation {
        &self.remediation
    }
    fn alerts(&self) -> &Notifier {
        &self.alerts
    }
    fn launchers(&self) -> &Iam {
        &self.iam
    }
    fn findings(&self) -> &SecurityHub {
        &self.securityhub
    }
}
