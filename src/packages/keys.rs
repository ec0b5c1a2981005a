//! The keys that seal packages (envelope encryption). A package key is random, stored only
//! sealed with the data key, and named by its key id, which every package it sealed carries.
//! `loket keys rotate` adds a key that seals new packages from then on; the older keys stay, so
//! packages sealed before the rotation still open.

use crate::audit::{self, Actor, Change};
use crate::crypto::{derive_index_key, key_id, Cipher};
use crate::db::models::package_keys::PackageKeyRow;
use crate::db::Store;
use crate::error::{Error, Result};
use anyhow::Context;
use base64::Engine;
use chrono::NaiveDateTime;
use rand::RngCore;
use serde::Serialize;

/// Where a package key is sealed (also its associated data).
const PLACE: &str = "package_keys.key";

/// A package key as shown: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageKey {
    pub id: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    /// Whether it seals new packages (the newest key).
    pub current: bool,
}

/// The package keys in the store, sealed with `cipher` (the data keys).
#[derive(Debug, Clone)]
pub struct PackageKeys {
    store: Store,
    cipher: Cipher,
}

impl PackageKeys {
    pub fn new(store: Store, cipher: Cipher) -> Self {
        PackageKeys { store, cipher }
    }

    /// Adds a new key that seals packages from now on; returns it.
    pub async fn rotate(&self, actor: Actor) -> Result<PackageKey> {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let encoded = base64::engine::general_purpose::STANDARD.encode(key);
        let row = PackageKeyRow {
            id: key_id(&key),
            key_enc: self.cipher.encrypt(PLACE, &encoded),
            created_by: actor.to_string(),
            created_at: crate::db::now(),
        };
        let stored = row.clone();
        self.store
            .write(move |conn| {
                let older = PackageKeyRow::all(conn)?.len();
                stored.insert(conn)?;
                audit::record(
                    conn,
                    &actor,
                    Change {
                        action: "package_key.rotated",
                        object_type: "package_key",
                        object_id: &stored.id,
                        summary: format!(
                            "new package key {}; {older} older key(s) kept to open earlier packages",
                            stored.id
                        ),
                    },
                )
            })
            .await?;
        Ok(PackageKey {
            id: row.id,
            created_by: row.created_by,
            created_at: row.created_at,
            current: true,
        })
    }

    /// Every key, oldest first.
    pub async fn list(&self) -> Result<Vec<PackageKey>> {
        let rows = self.store.read(PackageKeyRow::all).await?;
        let newest = rows.last().map(|row| row.id.clone());
        Ok(rows
            .into_iter()
            .map(|row| PackageKey {
                current: Some(&row.id) == newest.as_ref(),
                id: row.id,
                created_by: row.created_by,
                created_at: row.created_at,
            })
            .collect())
    }

    /// A cipher that seals with the newest key and opens with any; the first key is made when
    /// there is none yet.
    pub async fn cipher(&self) -> Result<Cipher> {
        let mut rows = self.store.read(PackageKeyRow::all).await?;
        if rows.is_empty() {
            self.rotate(Actor::System("package-keys")).await?;
            rows = self.store.read(PackageKeyRow::all).await?;
        }
        let keys = rows
            .iter()
            .map(|row| self.open_key(row))
            .collect::<Result<Vec<[u8; 32]>>>()?;
        let (current, older) = keys
            .split_last()
            .context("no package key after creating one")?;
        // Packages are never looked up by hash; the index key is only there because a Cipher
        // has one.
        Ok(Cipher::new(current, older, derive_index_key(current)))
    }

    fn open_key(&self, row: &PackageKeyRow) -> Result<[u8; 32]> {
        let encoded = self
            .cipher
            .decrypt(PLACE, &row.key_enc)
            .with_context(|| format!("package key {}", row.id))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
            .with_context(|| format!("package key {} is corrupt", row.id))
            .map_err(Error::from)
    }
}
