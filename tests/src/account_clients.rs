//! [`Clients`] acting in another account of the emulator (see
//! [`crate::accounts`]): to seed a cluster in each account of an
//! organisation, as its own account would.

use crate::accounts::account_config;
use crate::clients::Clients;
use crate::emulator::Emulator;
use crate::error::Result;

impl Clients {
    /// The clients of [`Clients::new`], with the credentials of an
    /// `AssumeRole` into `account`: everything they create is `account`'s.
    pub async fn in_account(emulator: &Emulator, account: &str) -> Result<Self> {
        Ok(Self::of(
            &account_config(emulator, account).await?,
            emulator,
        ))
    }
}
