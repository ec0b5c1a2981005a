//! Encryption of requesters' personal data at rest, and keyed hashes for looking it up.
//!
//! Every value is sealed on its own with AES-256-GCM under a fresh random 96-bit nonce. The stored
//! form is `v1:{key id}:{base64(nonce ‖ ciphertext ‖ tag)}`: the key id says which key sealed it,
//! so the data key can rotate while older values stay readable (configure the old key under
//! `old_data_keys`). Each value is bound to its place (`requests.email`, `outbox.body`) as
//! associated data, so a ciphertext copied into another column or table does not decrypt.
//!
//! Lookups never touch plaintext: an e-mail address is found through
//! `HMAC-SHA256(index key, place ‖ normalised value)`, stored beside the ciphertext.

pub mod stream;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const FORMAT_VERSION: &str = "v1";
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("encrypted value is not in the v1 format")]
    Malformed,
    #[error("encrypted with key {0}, which is not configured (add it to old_data_keys)")]
    UnknownKey(String),
    #[error("encrypted value failed authentication: it was altered, moved or truncated")]
    Tampered,
}

/// Seals and opens values with the configured data keys; computes lookup hashes.
#[derive(Clone)]
pub struct Cipher {
    current_id: String,
    keys: HashMap<String, Aes256Gcm>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    // Key material is never printed; the key id is not secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cipher")
            .field("current_key_id", &self.current_id)
            .finish_non_exhaustive()
    }
}

/// A short, stable name for a key that reveals nothing about it.
pub fn key_id(key: &[u8; 32]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"loket key id v1");
    hasher.update(key);
    hex::encode(&hasher.finalize()[..4])
}

/// The index key used when none is configured: a separate key derived from the data key, so the
/// two are never the same bytes.
pub fn derive_index_key(data_key: &[u8; 32]) -> [u8; 32] {
    derive_key(data_key, b"loket lookup index v1")
}

/// The key of `keyed_hash` anonymisation when none is configured; another label than the index
/// key's, so an anonymised value never equals a lookup hash of the same value.
pub fn derive_anonymise_key(data_key: &[u8; 32]) -> [u8; 32] {
    derive_key(data_key, b"loket anonymise v1")
}

/// The key of the audit chain when none is configured. It lives with the data key, outside the
/// database, so someone who can only write the database cannot recompute the chain.
pub fn derive_audit_key(data_key: &[u8; 32]) -> [u8; 32] {
    derive_key(data_key, b"loket audit chain v1")
}

fn derive_key(data_key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(data_key).expect("HMAC takes any key");
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl Cipher {
    /// `current` seals new values; `previous` keys only open old ones.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]], index_key: [u8; 32]) -> Self {
        let mut keys = HashMap::new();
        for key in previous.iter().chain(std::iter::once(current)) {
            keys.insert(key_id(key), Aes256Gcm::new(key.into()));
        }
        Cipher {
            current_id: key_id(current),
            keys,
            index_key,
        }
    }

    pub fn current_key_id(&self) -> &str {
        &self.current_id
    }

    /// Seals `plaintext` for storage at `place` (e.g. `requests.email`).
    pub fn encrypt(&self, place: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = &self.keys[&self.current_id];
        let sealed = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory value cannot fail");
        let mut blob = Vec::with_capacity(NONCE_LEN + sealed.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        format!(
            "{FORMAT_VERSION}:{}:{}",
            self.current_id,
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(blob)
        )
    }

    /// Opens a value sealed for `place`.
    pub fn decrypt(&self, place: &str, stored: &str) -> Result<String, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some(FORMAT_VERSION), Some(id), Some(data)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoError::Malformed);
        };
        let cipher = self
            .keys
            .get(id)
            .ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?;
        let blob = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(data)
            .map_err(|_| CryptoError::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let plain = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Tampered)
    }

    pub fn encrypt_opt(&self, place: &str, plaintext: Option<&str>) -> Option<String> {
        plaintext.map(|value| self.encrypt(place, value))
    }

    pub fn decrypt_opt(
        &self,
        place: &str,
        stored: Option<&str>,
    ) -> Result<Option<String>, CryptoError> {
        stored.map(|value| self.decrypt(place, value)).transpose()
    }

    /// The lookup hash of an already normalised `value` for `place`; equal inputs give equal
    /// hashes, and without the index key nothing can be learned or guessed from it.
    pub fn index(&self, place: &str, value: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.index_key).expect("HMAC takes any key");
        mac.update(&(place.len() as u64).to_be_bytes());
        mac.update(place.as_bytes());
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher(key: u8) -> Cipher {
        Cipher::new(&[key; 32], &[], derive_index_key(&[key; 32]))
    }

    #[test]
    fn round_trip_with_fresh_nonces() {
        let c = cipher(1);
        let a = c.encrypt("requests.email", "jan@example.nl");
        let b = c.encrypt("requests.email", "jan@example.nl");
        assert_ne!(a, b, "each value gets its own nonce");
        assert!(!a.contains("jan"));
        assert_eq!(c.decrypt("requests.email", &a).unwrap(), "jan@example.nl");
    }

    #[test]
    fn a_value_moved_to_another_place_or_altered_fails() {
        let c = cipher(1);
        let sealed = c.encrypt("requests.email", "jan@example.nl");
        assert_eq!(
            c.decrypt("requests.name", &sealed),
            Err(CryptoError::Tampered)
        );
        let mut altered = sealed.clone();
        let last = altered.pop().unwrap();
        altered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(
            c.decrypt("requests.email", &altered),
            Err(CryptoError::Tampered)
        );
        assert_eq!(
            c.decrypt("requests.email", &sealed[..sealed.len() - 8]),
            Err(CryptoError::Tampered)
        );
        assert_eq!(
            c.decrypt("requests.email", "plain text"),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = cipher(1);
        let sealed = old.encrypt("requests.name", "Jan Jansen");
        let rotated = Cipher::new(&[2; 32], &[[1; 32]], derive_index_key(&[1; 32]));
        assert_eq!(
            rotated.decrypt("requests.name", &sealed).unwrap(),
            "Jan Jansen"
        );
        assert!(rotated
            .encrypt("requests.name", "x")
            .contains(&key_id(&[2; 32])));
        let without_old = cipher(2);
        assert!(matches!(
            without_old.decrypt("requests.name", &sealed),
            Err(CryptoError::UnknownKey(_))
        ));
    }

    #[test]
    fn index_is_keyed_and_separates_places() {
        let c = cipher(1);
        assert_eq!(
            c.index("email", "jan@example.nl"),
            c.index("email", "jan@example.nl")
        );
        assert_ne!(
            c.index("email", "jan@example.nl"),
            c.index("phone", "jan@example.nl")
        );
        assert_ne!(
            c.index("email", "jan@example.nl"),
            cipher(2).index("email", "jan@example.nl")
        );
    }
}
