//! Recomputing the keyed lookup index of every request from its sealed requester data.
//!
//! The index holds a keyed hash of each identifier in a normal form, so "TN-448812" and
//! "tn 448812" find the same earlier requests. When that normal form changes (customer numbers:
//! letters and digits only, in capitals; phones: "+31 (0)6 …" as "06 …"), the hashes stored
//! before no longer match what a search computes, and the earlier requests of a person are not
//! found. Start-up therefore brings every request's hashes up to the current forms. It is
//! idempotent: a request whose hashes are current is left alone, so after the first start-up
//! with new forms it changes nothing. Each start-up that changed hashes leaves one audit event
//! with the count, never an identifier.

use super::requester::Requester;
use crate::audit::{self, Actor, Change};
use crate::crypto::Cipher;
use crate::db::models::requests as rows;
use crate::db::Store;
use crate::error::{Error, Result};

/// Requests read per page.
const PAGE: i64 = 500;

/// Recomputes the lookup hashes of every request whose stored ones differ from what its sealed
/// identifiers give now; returns how many changed.
pub async fn reindex(store: &Store, cipher: &Cipher) -> Result<usize> {
    let mut after = String::new();
    let mut changed = 0usize;
    loop {
        let from = after.clone();
        let ids = store
            .read(move |conn| rows::request_ids_after(conn, &from, PAGE))
            .await?;
        let Some(last) = ids.last() else {
            break;
        };
        after = last.clone();
        for id in ids {
            let cipher = cipher.clone();
            // One request per transaction: a request changed meanwhile is read afresh.
            let updated = store
                .write(move |conn| {
                    let Some(row) = rows::find_request(conn, &id)? else {
                        return Ok::<_, Error>(false);
                    };
                    let fresh = Requester::open(&cipher, &row)?.indexes(&cipher);
                    let stored = [
                        &row.email_index,
                        &row.customer_number_index,
                        &row.phone_index,
                        &row.bsn_index,
                    ];
                    let current = [
                        &fresh.email,
                        &fresh.customer_number,
                        &fresh.phone,
                        &fresh.bsn,
                    ];
                    if stored == current {
                        return Ok(false);
                    }
                    rows::set_indexes(conn, &id, current.map(Option::as_deref))?;
                    Ok(true)
                })
                .await?;
            changed += usize::from(updated);
        }
    }
    if changed > 0 {
        store
            .write(move |conn| {
                audit::record(
                    conn,
                    &Actor::System("reindex"),
                    Change {
                        action: "requests.reindexed",
                        object_type: "requests",
                        object_id: "lookup-index",
                        summary: format!(
                            "the lookup hashes of {changed} request(s) recomputed from their sealed identifiers, in the current normal forms"
                        ),
                    },
                )
                .map(drop)
            })
            .await?;
        tracing::info!(changed, "request lookup hashes recomputed");
    }
    Ok(changed)
}
