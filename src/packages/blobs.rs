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
    pub fn finish(mut self) -> Result<u64, StoreError> {
        if !self.piece.is_empty() || self.seq == 0 {
            self.store_piece()?;
        }
        Ok(self.written)
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
