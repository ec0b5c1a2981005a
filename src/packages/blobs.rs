//! Sealed streams kept as numbered blobs in loket's own database (`sealed_blobs`): a writer that
//! cuts what is written into pieces as it comes, and a reader that gives them back in order. So a
//! package of any size passes through memory one piece at a time, and any loket instance sharing
//! the database can serve it.

use crate::db::models::packages as rows;
use crate::db::{DbConnection, PooledConnection, StoreError};
use std::io::{Read, Write};

/// Bytes per stored piece: few rows for a large package, small enough for every backend.
pub const PIECE: usize = 1 << 20;

/// Writes a stream into `sealed_blobs` under `owner`, a piece at a time.
pub struct BlobWriter<'c> {
    conn: &'c mut DbConnection,
    owner: String,
    seq: i32,
    piece: Vec<u8>,
    written: u64,
}

impl<'c> BlobWriter<'c> {
    pub fn new(conn: &'c mut DbConnection, owner: &str) -> Self {
        BlobWriter {
            conn,
            owner: owner.to_string(),
            seq: 0,
            piece: Vec::with_capacity(PIECE),
            written: 0,
        }
    }

    fn store_piece(&mut self) -> Result<(), StoreError> {
        rows::insert_blob(self.conn, &self.owner, self.seq, &self.piece)?;
        self.seq += 1;
        self.piece.clear();
        Ok(())
    }

    /// Stores what is left; returns the bytes stored in all.
    pub fn finish(self) -> Result<u64, StoreError> {
        let BlobWriter {
            conn,
            owner,
            seq,
            piece,
            written,
        } = self;
        LastPiece {
            owner,
            seq,
            bytes: piece,
        }
        .store(conn)?;
        Ok(written)
    }

    /// Returns the bytes written in all and the last piece, not stored yet: the caller stores
    /// it in the transaction that records the stream complete, so a stream of one piece (most
    /// packages) costs no commit of its own.
    pub fn finish_later(self) -> (u64, LastPiece) {
        let BlobWriter {
            owner,
            seq,
            piece,
            written,
            ..
        } = self;
        let last = LastPiece {
            owner,
            seq,
            bytes: piece,
        };
        (written, last)
    }
}

/// The piece a [`BlobWriter`] had not stored when it finished.
#[must_use = "the stream is incomplete until its last piece is stored"]
pub struct LastPiece {
    owner: String,
    seq: i32,
    bytes: Vec<u8>,
}

impl LastPiece {
    /// Stores the piece, in the caller's transaction; an empty stream is stored as one empty
    /// piece so that it reads back.
    pub fn store(self, conn: &mut DbConnection) -> Result<(), StoreError> {
        if !self.bytes.is_empty() || self.seq == 0 {
            rows::insert_blob(conn, &self.owner, self.seq, &self.bytes)?;
        }
        Ok(())
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let taken = (PIECE - self.piece.len()).min(bytes.len());
        self.piece.extend_from_slice(&bytes[..taken]);
        self.written += taken as u64;
        if self.piece.len() == PIECE {
            self.store_piece().map_err(std::io::Error::other)?;
        }
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads `owner`'s stream back, a piece at a time, on its own pooled connection.
pub struct BlobReader {
    conn: PooledConnection,
    owner: String,
    next_seq: i32,
    piece: Vec<u8>,
    at: usize,
}

impl BlobReader {
    pub fn new(conn: PooledConnection, owner: &str) -> Self {
        BlobReader {
            conn,
            owner: owner.to_string(),
            next_seq: 0,
            piece: Vec::new(),
            at: 0,
        }
    }
}

impl Read for BlobReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.piece.len() {
            // A missing piece ends the stream; the sealed format tells a cut-off end apart.
            match rows::blob(&mut self.conn, &self.owner, self.next_seq)
                .map_err(std::io::Error::other)?
            {
                Some(piece) => {
                    self.piece = piece;
                    self.at = 0;
                    self.next_seq += 1;
                }
                None => return Ok(0),
            }
        }
        let n = (self.piece.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Store;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("sqlite://{}/t.db", dir.path().display()), 2).unwrap();
        store.migrate().unwrap();
        (dir, store)
    }

    fn read_back(store: &Store, owner: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        BlobReader::new(store.connection().unwrap(), owner)
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    #[test]
    fn the_last_piece_waits_for_the_callers_transaction() {
        let (_dir, store) = store();
        let stream: Vec<u8> = (0..PIECE + PIECE / 2).map(|i| (i % 251) as u8).collect();
        let mut conn = store.connection().unwrap();
        let mut writer = BlobWriter::new(&mut conn, "package:p1");
        writer.write_all(&stream).unwrap();
        let (written, last) = writer.finish_later();
        assert_eq!(written, stream.len() as u64);
        // Only the full piece is stored so far: the stream reads back cut off.
        assert_eq!(read_back(&store, "package:p1"), stream[..PIECE]);
        crate::db::write_transaction(&mut conn, |conn| last.store(conn)).unwrap();
        assert_eq!(read_back(&store, "package:p1"), stream);
    }

    #[test]
    fn an_empty_stream_is_one_empty_piece() {
        let (_dir, store) = store();
        let mut conn = store.connection().unwrap();
        assert_eq!(
            BlobWriter::new(&mut conn, "package:p2").finish().unwrap(),
            0
        );
        assert_eq!(
            rows::blob(&mut conn, "package:p2", 0).unwrap(),
            Some(Vec::new())
        );
        assert_eq!(read_back(&store, "package:p2"), Vec::<u8>::new());
    }
}
