//! Encrypting documents too large to hold in memory (access and portability packages) as a
//! stream: AES-256-GCM in the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár, as
//! the `aead` crate implements it (`StreamBE32`). The plaintext is cut into chunks of [`CHUNK`]
//! bytes; each chunk is authenticated on its own, with its position and whether it is the last
//! bound into its nonce, so a chunk altered, moved, dropped or cut off is detected, and memory
//! stays at one chunk however large the document.
//!
//! Layout: `LOKETSTR`, format version `1`, the key id (length byte, then the id), a random 7-byte
//! nonce prefix, then the chunks, each its ciphertext and 16-byte tag; only the last may be
//! shorter than a full chunk (an empty document is one empty last chunk). The header and the
//! caller's `place` (which document this is) are the associated data of every chunk, so a
//! package copied under another name or given another key id does not open.
//!
//! Decryption writes plaintext as it goes: what it wrote before an error is not to be used (the
//! caller writes to a temporary file and keeps it only on success).

use super::Cipher;
use aes_gcm::aead::stream::{NewStream, StreamBE32, StreamPrimitive};
use aes_gcm::Aes256Gcm;
use rand::RngCore;
use std::io::{Read, Write};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const MAGIC: &[u8; 8] = b"LOKETSTR";
const VERSION: u8 = 1;
/// A 12-byte GCM nonce less STREAM's 4-byte counter and 1-byte last-chunk flag.
const NONCE_PREFIX: usize = 7;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not an encrypted document of loket (unknown header)")]
    BadHeader,
    #[error("encrypted with key {0}, which is not configured (add it to old_data_keys)")]
    UnknownKey(String),
    #[error("chunk {0} failed authentication: the document was altered, reordered or is not the one asked for")]
    Tampered(u32),
    #[error("the document is truncated: it ends after chunk {0} without its last chunk")]
    Truncated(u32),
    #[error("the document is too large for one stream")]
    TooLarge,
    #[error("reading or writing failed: {0}")]
    Io(#[from] std::io::Error),
}

impl Cipher {
    /// Encrypts everything `plaintext` gives into `sealed` under the current key; `place` names
    /// the document (`packages/{id}`) and must be given again to open it. Returns the plaintext
    /// bytes read.
    pub fn seal_stream(
        &self,
        place: &str,
        mut plaintext: impl Read,
        sealed: impl Write,
    ) -> Result<u64, StreamError> {
        let mut sealer = self.sealer(place, sealed)?;
        std::io::copy(&mut plaintext, &mut sealer).map_err(unwrap_stream_error)?;
        Ok(sealer.finish()?.0)
    }

    /// A writer that seals what is written to it into `sealed`, for documents that are produced
    /// by writing (a ZIP being built) rather than read from somewhere. Call [`Sealer::finish`]:
    /// without its last chunk the document does not open.
    pub fn sealer<W: Write>(&self, place: &str, mut sealed: W) -> Result<Sealer<W>, StreamError> {
        let mut prefix = [0u8; NONCE_PREFIX];
        rand::rngs::OsRng.fill_bytes(&mut prefix);
        let header = header(&self.current_id, &prefix);
        sealed.write_all(&header)?;
        Ok(Sealer {
            stream: self.stream(&self.current_id, &prefix)?,
            associated: associated_data(&header, place),
            sealed,
            buffer: Vec::with_capacity(CHUNK + TAG),
            position: 0,
            total: 0,
        })
    }

    /// The id of the key new documents are sealed with.
    pub fn sealing_key_id(&self) -> &str {
        &self.current_id
    }

    /// Decrypts what [`Cipher::seal_stream`] wrote, with whichever configured key sealed it, into
    /// `plaintext`. Returns the plaintext bytes written.
    pub fn open_stream(
        &self,
        place: &str,
        mut sealed: impl Read,
        mut plaintext: impl Write,
    ) -> Result<u64, StreamError> {
        let (header, key_id, prefix) = read_header(&mut sealed)?;
        let stream = self.stream(&key_id, &prefix)?;
        let associated = associated_data(&header, place);
        let mut reader = Chunks::new(&mut sealed, CHUNK + TAG);
        let mut position: u32 = 0;
        let mut total = 0u64;
        loop {
            let (chunk, last) = reader.next_chunk()?;
            if chunk.len() < TAG {
                return Err(StreamError::Truncated(position.saturating_sub(1)));
            }
            // On failure the AEAD leaves the chunk as it was, so it can be tried as a middle one.
            let mut opened = chunk;
            if stream
                .decrypt_in_place(position, last, &associated, &mut opened)
                .is_err()
            {
                // A full chunk that opens as a middle chunk was the middle of a longer document.
                let was_middle = last
                    && stream
                        .decrypt_in_place(position, false, &associated, &mut opened)
                        .is_ok();
                return Err(if was_middle {
                    StreamError::Truncated(position)
                } else {
                    StreamError::Tampered(position)
                });
            }
            total += opened.len() as u64;
            plaintext.write_all(&opened)?;
            if last {
                plaintext.flush()?;
                return Ok(total);
            }
            position = position.checked_add(1).ok_or(StreamError::TooLarge)?;
        }
    }

    fn stream(
        &self,
        key_id: &str,
        prefix: &[u8; NONCE_PREFIX],
    ) -> Result<StreamBE32<Aes256Gcm>, StreamError> {
        let aead = self
            .keys
            .get(key_id)
            .cloned()
            .ok_or_else(|| StreamError::UnknownKey(key_id.to_string()))?;
        let nonce: StreamNonce = (*prefix).into();
        Ok(StreamBE32::from_aead(aead, &nonce))
    }
}

/// Seals what is written to it, a chunk at a time (see [`Cipher::sealer`]).
pub struct Sealer<W: Write> {
    stream: StreamBE32<Aes256Gcm>,
    associated: Vec<u8>,
    sealed: W,
    /// Plaintext not yet sealed: a full chunk is held back until more comes, because only then
    /// is it known not to be the last.
    buffer: Vec<u8>,
    position: u32,
    total: u64,
}

impl<W: Write> Sealer<W> {
    fn seal_buffer(&mut self, last: bool) -> Result<(), StreamError> {
        self.stream
            .encrypt_in_place(self.position, last, &self.associated, &mut self.buffer)
            .map_err(|_| StreamError::TooLarge)?;
        self.sealed.write_all(&self.buffer)?;
        self.buffer.clear();
        if !last {
            self.position = self.position.checked_add(1).ok_or(StreamError::TooLarge)?;
        }
        Ok(())
    }

    /// Seals the last chunk; returns the plaintext bytes sealed and the inner writer.
    pub fn finish(mut self) -> Result<(u64, W), StreamError> {
        self.seal_buffer(true)?;
        self.sealed.flush()?;
        Ok((self.total, self.sealed))
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if bytes.is_empty() {
            return Ok(0);
        }
        if self.buffer.len() == CHUNK {
            self.seal_buffer(false).map_err(std::io::Error::other)?;
        }
        let taken = (CHUNK - self.buffer.len()).min(bytes.len());
        self.buffer.extend_from_slice(&bytes[..taken]);
        self.total += taken as u64;
        Ok(taken)
    }

    /// Sealed chunks are passed on as they are made; a partial chunk waits for the rest.
    fn flush(&mut self) -> std::io::Result<()> {
        self.sealed.flush()
    }
}

/// A stream error that travelled through `std::io` as an `io::Error::other`, unwrapped again.
fn unwrap_stream_error(error: std::io::Error) -> StreamError {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<StreamError>())
    {
        match error
            .into_inner()
            .map(|inner| inner.downcast::<StreamError>())
        {
            Some(Ok(stream)) => *stream,
            Some(Err(other)) => StreamError::Io(std::io::Error::other(other)),
            None => StreamError::Io(std::io::Error::other("stream error")),
        }
    } else {
        StreamError::Io(error)
    }
}

fn header(key_id: &str, prefix: &[u8; NONCE_PREFIX]) -> Vec<u8> {
    let mut header = Vec::with_capacity(MAGIC.len() + 2 + key_id.len() + NONCE_PREFIX);
    header.extend_from_slice(MAGIC);
    header.push(VERSION);
    // Key ids are eight hex characters (`key_id`); the length byte keeps the format open.
    header.push(u8::try_from(key_id.len()).unwrap_or(u8::MAX));
    header.extend_from_slice(&key_id.as_bytes()[..key_id.len().min(255)]);
    header.extend_from_slice(prefix);
    header
}

type Header = (Vec<u8>, String, [u8; NONCE_PREFIX]);
type StreamNonce = aes_gcm::aead::stream::Nonce<Aes256Gcm, StreamBE32<Aes256Gcm>>;

fn read_header(sealed: &mut impl Read) -> Result<Header, StreamError> {
    let mut fixed = [0u8; 10];
    read_exact_or(sealed, &mut fixed, StreamError::BadHeader)?;
    if &fixed[..8] != MAGIC || fixed[8] != VERSION {
        return Err(StreamError::BadHeader);
    }
    let mut key_id = vec![0u8; usize::from(fixed[9])];
    read_exact_or(sealed, &mut key_id, StreamError::BadHeader)?;
    let mut prefix = [0u8; NONCE_PREFIX];
    read_exact_or(sealed, &mut prefix, StreamError::BadHeader)?;
    let key_id = String::from_utf8(key_id).map_err(|_| StreamError::BadHeader)?;
    Ok((header(&key_id, &prefix), key_id, prefix))
}

fn read_exact_or(
    reader: &mut impl Read,
    buffer: &mut [u8],
    error: StreamError,
) -> Result<(), StreamError> {
    match reader.read_exact(buffer) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(error),
        Err(e) => Err(e.into()),
    }
}

/// The header and the document's name, length-prefixed so no two pairs run together alike.
fn associated_data(header: &[u8], place: &str) -> Vec<u8> {
    let mut data = Vec::with_capacity(header.len() + 8 + place.len());
    data.extend_from_slice(&(header.len() as u64).to_be_bytes());
    data.extend_from_slice(header);
    data.extend_from_slice(place.as_bytes());
    data
}

/// Reads a stream in chunks of `size` bytes and says which chunk is the last: one byte is read
/// ahead, so a document that ends exactly on a chunk boundary still ends with a last chunk.
struct Chunks<'r, R: Read> {
    reader: &'r mut R,
    size: usize,
    ahead: Option<u8>,
}

impl<'r, R: Read> Chunks<'r, R> {
    fn new(reader: &'r mut R, size: usize) -> Self {
        Chunks {
            reader,
            size,
            ahead: None,
        }
    }

    fn next_chunk(&mut self) -> Result<(Vec<u8>, bool), std::io::Error> {
        let mut chunk = Vec::with_capacity(self.size + TAG);
        chunk.extend(self.ahead.take());
        let mut limited = (&mut *self.reader).take((self.size - chunk.len()) as u64);
        limited.read_to_end(&mut chunk)?;
        if chunk.len() < self.size {
            return Ok((chunk, true));
        }
        let mut byte = [0u8; 1];
        let more = loop {
            match self.reader.read(&mut byte) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if more == 1 {
            self.ahead = Some(byte[0]);
        }
        Ok((chunk, more == 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::derive_index_key;

    fn cipher(current: u8, previous: &[u8]) -> Cipher {
        let previous: Vec<[u8; 32]> = previous.iter().map(|k| [*k; 32]).collect();
        Cipher::new(&[current; 32], &previous, derive_index_key(&[current; 32]))
    }

    fn document(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn seal(cipher: &Cipher, place: &str, plain: &[u8]) -> Vec<u8> {
        let mut sealed = Vec::new();
        cipher.seal_stream(place, plain, &mut sealed).unwrap();
        sealed
    }

    fn open(cipher: &Cipher, place: &str, sealed: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut plain = Vec::new();
        cipher.open_stream(place, sealed, &mut plain)?;
        Ok(plain)
    }

    /// Where chunk `n` starts in a sealed document.
    fn chunk_start(sealed: &[u8], n: usize) -> usize {
        let header = MAGIC.len() + 2 + usize::from(sealed[9]) + NONCE_PREFIX;
        header + n * (CHUNK + TAG)
    }

    #[test]
    fn every_length_round_trips() {
        let cipher = cipher(1, &[]);
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17] {
            let plain = document(len);
            let sealed = seal(&cipher, "packages/p1", &plain);
            // Only an empty document has an empty chunk: a full last chunk ends it.
            let chunks = len.div_ceil(CHUNK).max(1);
            assert_eq!(
                sealed.len(),
                chunk_start(&sealed, 0) + len + chunks * TAG,
                "{len}"
            );
            assert_eq!(
                open(&cipher, "packages/p1", &sealed).unwrap(),
                plain,
                "{len}"
            );
            if len >= 64 {
                assert!(
                    !sealed.windows(64).any(|w| w == &plain[..64]),
                    "plaintext visible"
                );
            }
        }
    }

    #[test]
    fn an_altered_byte_names_its_chunk() {
        let cipher = cipher(1, &[]);
        let mut sealed = seal(&cipher, "packages/p1", &document(3 * CHUNK + 5));
        let at = chunk_start(&sealed, 1) + 100;
        sealed[at] ^= 1;
        assert!(matches!(
            open(&cipher, "packages/p1", &sealed),
            Err(StreamError::Tampered(1))
        ));
    }

    #[test]
    fn cutting_off_the_end_is_found() {
        let cipher = cipher(1, &[]);
        let sealed = seal(&cipher, "packages/p1", &document(3 * CHUNK + 5));
        // Exactly on a chunk boundary: the last chunk dropped.
        let boundary = &sealed[..chunk_start(&sealed, 3)];
        assert!(
            matches!(
                open(&cipher, "packages/p1", boundary),
                Err(StreamError::Truncated(2))
            ),
            "{:?}",
            open(&cipher, "packages/p1", boundary)
        );
        // In the middle of a chunk, and inside the header.
        let middle = &sealed[..chunk_start(&sealed, 2) + 10];
        assert!(open(&cipher, "packages/p1", middle).is_err());
        assert!(matches!(
            open(&cipher, "packages/p1", &sealed[..12]),
            Err(StreamError::BadHeader)
        ));
        // Bytes added after the last chunk.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0; 40]);
        assert!(open(&cipher, "packages/p1", &longer).is_err());
    }

    #[test]
    fn chunks_cannot_be_reordered_or_dropped() {
        let cipher = cipher(1, &[]);
        let sealed = seal(&cipher, "packages/p1", &document(3 * CHUNK + 5));
        let (one, two) = (chunk_start(&sealed, 1), chunk_start(&sealed, 2));
        let mut swapped = sealed[..chunk_start(&sealed, 0)].to_vec();
        swapped.extend_from_slice(&sealed[one..two]);
        swapped.extend_from_slice(&sealed[chunk_start(&sealed, 0)..one]);
        swapped.extend_from_slice(&sealed[two..]);
        assert!(matches!(
            open(&cipher, "packages/p1", &swapped),
            Err(StreamError::Tampered(0))
        ));
        let mut dropped = sealed[..one].to_vec();
        dropped.extend_from_slice(&sealed[two..]);
        assert!(matches!(
            open(&cipher, "packages/p1", &dropped),
            Err(StreamError::Tampered(1))
        ));
    }

    #[test]
    fn a_document_opens_only_under_its_own_name() {
        let cipher = cipher(1, &[]);
        let sealed = seal(&cipher, "packages/p1", &document(10));
        assert!(matches!(
            open(&cipher, "packages/p2", &sealed),
            Err(StreamError::Tampered(0))
        ));
        assert!(matches!(
            open(&cipher, "packages/p1", b"PK\x03\x04 a zip"),
            Err(StreamError::BadHeader)
        ));
    }

    #[test]
    fn after_a_key_rotation_old_documents_still_open() {
        let old = cipher(1, &[]);
        let sealed = seal(&old, "packages/p1", &document(CHUNK + 1));
        let rotated = cipher(2, &[1]);
        assert_eq!(
            open(&rotated, "packages/p1", &sealed).unwrap(),
            document(CHUNK + 1)
        );
        let resealed = seal(&rotated, "packages/p1", &document(5));
        assert_ne!(
            resealed[10..18],
            sealed[10..18],
            "sealed under the new key id"
        );
        let forgotten = cipher(2, &[]);
        assert!(matches!(
            open(&forgotten, "packages/p1", &sealed),
            Err(StreamError::UnknownKey(id)) if id == old.current_key_id()
        ));
    }
}
