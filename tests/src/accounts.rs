//! Several AWS accounts on one emulator. moto keeps one world per account
//! id and takes the account of a request from its credentials: those an
//! STS `AssumeRole` issued act in the role's account, the static test
//! credentials in moto's default account ([`crate::ACCOUNT`]). So a client,
//! a function binary or the CLI acts in account X with the credentials of an
//! `AssumeRole` into X, as it would in an organisation.

use aws_config::BehaviorVersion;
use aws_config::Region;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ec2::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};

use crate::clients::{REGION, sdk_config};
use crate::emulator::Emulator;
use crate::error::{Error, Result};

/// The role the tests assume into an account: moto does not require it to
/// exist, nor do these helpers create it.
pub const TEST_ROLE: &str = "scaling-guard-e2e";

/// Credentials of an `AssumeRole` into `account`, issued by the emulator.
pub async fn account_credentials(emulator: &Emulator, account: &str) -> Result<Credentials> {
    let base = sdk_config(emulator).await;
    let provider = AssumeRoleProvider::builder(format!("arn:aws:iam::{account}:role/{TEST_ROLE}"))
        .session_name("scaling-guard-e2e")
        .configure(&base)
        .build()
        .await;
    provider
        .provide_credentials()
        .await
        .map_err(|err| Error::Function(format!("cannot assume a role in {account}: {err}")))
}

/// An SDK configuration pointed at `emulator` that acts in `account`.
pub async fn account_config(emulator: &Emulator, account: &str) -> Result<aws_config::SdkConfig> {
    let credentials = account_credentials(emulator, account).await?;
    Ok(aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(emulator.endpoint())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .load()
        .await)
}

/// The variables that make a function binary (or the CLI) act in `account`:
/// pass them after the policy's to `Function::start`, they override the
/// static test credentials.
pub async fn account_env(emulator: &Emulator, account: &str) -> Result<Vec<(String, String)>> {
    let credentials = account_credentials(emulator, account).await?;
    Ok(vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
        (
            "AWS_SESSION_TOKEN".to_owned(),
            credentials.session_token().unwrap_or_default().to_owned(),
        ),
    ])
}
