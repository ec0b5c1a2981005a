//! Delivering a package: the signed link in the answer letter, the page it opens, and the
//! download itself.
//!
//! The link is a JWT bound to one package, with its expiry and download limit signed in; the
//! package's own record is checked too, so a revoked or spent package is refused whatever the
//! link says. The page behind the link only offers the download: link checkers in mail systems
//! that open every link must not use up a download. A download is counted (one conditional
//! UPDATE, so two at once cannot both take the last one) and put on the audit trail before the
//! first byte is sent; the package is then opened as it streams out, a chunk at a time.

use super::{blobs, package_place, reference_of, PackageKeys, PackageService};
use crate::audit::{self, Actor, Change};
use crate::auth::token::TokenError;
use crate::db::models::packages::PackageRow;
use crate::db::Store;
use crate::error::{ConflictCode, Error, Result};
use crate::ids::PackageId;
use crate::vocabulary::{Language, PackageState};
use anyhow::Context;
use serde::Serialize;

pub use crate::requests::letters::download_url;
pub use crate::requests::DOWNLOAD_LINK_AUDIENCE;
/// Wrong passphrases before the package locks; a new one has to be issued then.
pub const MAX_PASSPHRASE_ATTEMPTS: i32 = 5;

/// What the page behind a link shows.
#[derive(Debug, Clone, Serialize)]
pub struct Landing {
    pub kind: String,
    pub language: String,
    pub expires_at: chrono::NaiveDateTime,
    pub downloads_left: i32,
    pub passphrase_required: bool,
    pub file_name: String,
    pub size_bytes: i64,
}

/// An opened package on its way out: its name and size, and its bytes as they are opened.
pub struct Download {
    pub file_name: String,
    pub size_bytes: i64,
    pub body: tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
}

impl PackageService {
    /// What the link leads to, if it can still be used.
    pub async fn landing(&self, token: String) -> Result<Landing> {
        let (id, limit) = self.verify_link(&token)?;
        let row = self
            .requests
            .store
            .read(move |conn| Ok::<_, Error>(PackageRow::find(conn, &id)?))
            .await?
            .ok_or_else(not_valid)?;
        usable(&row, limit, crate::db::now())?;
        Ok(Landing {
            downloads_left: limit.min(row.max_downloads) - row.downloads,
            passphrase_required: row.passphrase_hash.is_some(),
            file_name: file_name(&row),
            kind: row.kind.to_string(),
            language: row.language.to_string(),
            expires_at: row.expires_at,
            size_bytes: row.plain_bytes,
        })
    }

    /// Counts and audits a download, then opens the package as it streams out.
    pub async fn download(&self, token: String, passphrase: Option<String>) -> Result<Download> {
        let (id, limit) = self.verify_link(&token)?;
        let row = self
            .requests
            .store
            .write(move |conn| {
                let row = PackageRow::find(conn, &id)?.ok_or_else(not_valid)?;
                let now = crate::db::now();
                usable(&row, limit, now)?;
                if !passphrase_matches(conn, &row, passphrase.as_deref())? {
                    // Committed with the failure it counted, unlike an error.
                    return Ok(Err(Error::Forbidden(
                        "the passphrase is not correct".into(),
                    )));
                }
                if !PackageRow::claim_download(conn, &row.id, limit, now)? {
                    return Err(Error::Gone(
                        "this package has been downloaded as often as allowed; ask us for a new one"
                            .into(),
                    ));
                }
                let reference = reference_of(conn, &row.request_id)?;
                audit::record(
                    conn,
                    &Actor::System("package-download"),
                    Change {
                        action: "package.downloaded",
                        object_type: "request",
                        object_id: &reference,
                        summary: format!(
                            "{} package {} downloaded ({} of at most {})",
                            row.kind,
                            row.id,
                            row.downloads + 1,
                            limit.min(row.max_downloads)
                        ),
                    },
                )?;
                Ok(Ok(row))
            })
            .await??;
        let cipher = self.keys.cipher().await?;
        let store = self.requests.store.clone();
        let (sender, body) = tokio::sync::mpsc::channel(4);
        let package_id = row.id.clone();
        tokio::task::spawn_blocking(move || {
            let place = package_place(&package_id);
            let result = store
                .connection()
                .map_err(|e| e.to_string())
                .and_then(|conn| {
                    cipher
                        .open_stream(
                            &place,
                            blobs::BlobReader::new(conn, &place),
                            ChannelWriter(&sender),
                        )
                        .map_err(|e| e.to_string())
                });
            if let Err(error) = result {
                if !sender.is_closed() {
                    tracing::error!(package = %package_id, %error, "a package did not open while it was downloaded");
                    let _ = sender.blocking_send(Err(std::io::Error::other(error)));
                }
            }
        });
        Ok(Download {
            file_name: file_name(&row),
            size_bytes: row.plain_bytes,
            body,
        })
    }

    fn verify_link(&self, token: &str) -> Result<(String, i32)> {
        self.requests
            .links
            .verify_download_link(DOWNLOAD_LINK_AUDIENCE, token)
            .map_err(|e| match e {
                TokenError::Expired => {
                    Error::Gone("this download link has expired; ask us for a new package".into())
                }
                TokenError::Invalid => not_valid(),
            })
    }
}

/// Opens a stored package to the end without giving it to anyone: whether it is whole (`loket
/// packages verify`). Returns its size opened; an altered or cut-off package fails with the
/// chunk where it broke.
pub async fn verify(store: &Store, keys: &PackageKeys, package_id: PackageId) -> Result<u64> {
    let cipher = keys.cipher().await?;
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = store.connection()?;
        let row = PackageRow::find(&mut conn, &package_id)?
            .ok_or_else(|| Error::not_found(format!("package '{package_id}'")))?;
        if row.state != PackageState::Ready {
            return Err(Error::conflict(
                ConflictCode::Other,
                format!("the package is {}", row.state),
            ));
        }
        let place = package_place(&package_id);
        cipher
            .open_stream(
                &place,
                blobs::BlobReader::new(conn, &place),
                std::io::sink(),
            )
            .with_context(|| format!("package {package_id} does not open"))
            .map_err(Error::from)
    })
    .await
    .context("verifying the package stopped")?
}

fn not_valid() -> Error {
    Error::Forbidden("this download link is not valid".into())
}

/// Refuses a package that is gone, expired, used up or locked.
fn usable(row: &PackageRow, limit: i32, now: chrono::NaiveDateTime) -> Result<()> {
    let gone = |why: &str| Err(Error::Gone(format!("{why}; ask us for a new one")));
    if row.state != PackageState::Ready {
        return gone("this package is no longer available");
    }
    if row.expires_at <= now {
        return gone("this package has expired");
    }
    if row.downloads >= limit.min(row.max_downloads) {
        return gone("this package has been downloaded as often as allowed");
    }
    if row.failed_attempts >= MAX_PASSPHRASE_ATTEMPTS {
        return gone("this package is locked after too many wrong passphrases");
    }
    Ok(())
}

/// Whether the passphrase fits (or none is needed); a wrong one is counted and audited.
fn passphrase_matches(
    conn: &mut crate::db::DbConnection,
    row: &PackageRow,
    given: Option<&str>,
) -> Result<bool> {
    let Some(hash) = &row.passphrase_hash else {
        return Ok(true);
    };
    let Some(given) = given.map(str::trim).filter(|p| !p.is_empty()) else {
        return Err(Error::invalid(
            "passphrase",
            "this package needs the passphrase we gave you separately",
        ));
    };
    if crate::auth::password::verify(&normalise_passphrase(given), hash) {
        return Ok(true);
    }
    let failures = PackageRow::count_failed_attempt(conn, &row.id)?;
    let reference = reference_of(conn, &row.request_id)?;
    audit::record(
        conn,
        &Actor::System("package-download"),
        Change {
            action: "package.passphrase_failed",
            object_type: "request",
            object_id: &reference,
            summary: format!(
                "wrong passphrase for package {} ({failures} of {MAX_PASSPHRASE_ATTEMPTS})",
                row.id
            ),
        },
    )?;
    Ok(false)
}

/// A passphrase as it is hashed and compared: typed after a phone call, so case, spaces and
/// dashes do not matter.
pub fn normalise_passphrase(given: &str) -> String {
    given
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn file_name(row: &PackageRow) -> String {
    let day = row.created_at.format("%Y-%m-%d");
    match row.language {
        Language::Nl => format!("{}-gegevens-{day}.zip", dutch_kind(row.kind.as_str())),
        Language::En => format!("{}-data-{day}.zip", row.kind),
    }
}

fn dutch_kind(kind: &str) -> &'static str {
    match kind {
        "portability" => "overdraagbare",
        _ => "inzage",
    }
}

/// Sends what is written to the channel; fails once the receiver (the client) is gone.
struct ChannelWriter<'s>(&'s tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>);

impl std::io::Write for ChannelWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(bytes.to_vec()))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
