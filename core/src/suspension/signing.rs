//! Signing the guard's suspension records (issue 21, scenario 3).
//!
//! Anyone who may tag a cluster group could otherwise write the guard's tag
//! with `"original_max_size":5000` and have the next resume set that MaxSize,
//! or put the tag on a group whose `Launch` they suspended and have the guard
//! lift it. The guard therefore trusts a record only when it carries an
//! HMAC-SHA256 of its content and of the group's name (a record copied to
//! another group does not verify), made with the stack's key
//! (`GUARD_RECORD_KEY`: a Secrets Manager secret the stack generates and
//! hands to its functions; tagging rights do not read it).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The MAC is cut to this many bytes (128 bits, as NIST SP 800-107 allows
/// for HMAC-SHA256): 22 characters of the tag value's 256.
const MAC_BYTES: usize = 16;
/// An alarm digest's bytes: 8 characters. Two names with the same digest
/// only make a resume wait for both, never lift it early.
const DIGEST_BYTES: usize = 6;
/// Separates this use of the key from any other.
const DOMAIN: &[u8] = b"scaling-guard:suspended:v1\0";
/// The shortest key accepted: the template generates 64 characters.
pub const MIN_KEY_CHARS: usize = 32;

/// The secret that signs the guard's records. Never printed: its `Debug`
/// says only that it is set.
#[derive(Clone, PartialEq, Eq)]
pub struct RecordKey(Vec<u8>);

impl RecordKey {
    /// The key from `GUARD_RECORD_KEY`'s text.
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().to_vec())
    }

    fn mac(&self, group: &str, content: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).ok()?;
        mac.update(DOMAIN);
        // The group's length first: no name/content split reads as another.
        mac.update(&u64::try_from(group.len()).unwrap_or(u64::MAX).to_be_bytes());
        mac.update(group.as_bytes());
        mac.update(content.as_bytes());
        Some(mac)
    }

    /// The signature of `content` as the record of `group`.
    pub(super) fn sign(&self, group: &str, content: &str) -> String {
        self.mac(group, content)
            .map(|mac| {
                let full = mac.finalize().into_bytes();
                URL_SAFE_NO_PAD.encode(full.get(..MAC_BYTES).unwrap_or_default())
            })
            .unwrap_or_default()
    }

    /// Whether `signature` is this key's of `content` on `group` (in
    /// constant time).
    pub(super) fn verifies(&self, group: &str, content: &str, signature: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        tag.len() == MAC_BYTES
            && self
                .mac(group, content)
                .is_some_and(|mac| mac.verify_truncated_left(&tag).is_ok())
    }
}

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordKey(<set, not shown>)")
    }
}

/// The short, fixed-width stand-in of an alarm name in a record too long for
/// the names: base64url of the first bytes of its SHA-256.
pub fn alarm_digest(name: &str) -> String {
    let hash = Sha256::digest(name.as_bytes());
    URL_SAFE_NO_PAD.encode(hash.get(..DIGEST_BYTES).unwrap_or_default())
}
