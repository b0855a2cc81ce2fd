//! SDK clients bound to one emulator.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ec2::config::Credentials;

use crate::emulator::{Control, Emulator};

/// The region of the tests and of the sample events.
pub const REGION: &str = "eu-west-1";

/// The clients a test needs, against one emulator, with static test
/// credentials (the emulator accepts any).
#[derive(Debug, Clone)]
pub struct Clients {
    pub ec2: aws_sdk_ec2::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The emulator's own endpoint for what AWS has no API for.
    pub control: Control,
}

impl Clients {
    pub async fn new(emulator: &Emulator) -> Self {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(emulator.endpoint())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                "testing",
                "testing",
                None,
                None,
                "scaling-guard-e2e",
            ))
            .load()
            .await;
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            control: emulator.control(),
        }
    }
}
