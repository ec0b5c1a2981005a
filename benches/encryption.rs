//! Throughput of loket's streaming encryption of large documents (`Cipher::seal_stream` and
//! `open_stream`) against the raw AES-256-GCM speed of the `aes-gcm` crate on the same machine:
//! the same number of bytes sealed in 64 KiB pieces with `encrypt_in_place`, nothing else.
//!
//! ```sh
//! cargo bench --bench encryption                 # 512 MiB
//! cargo bench --bench encryption -- --mib 2048
//! ```
//!
//! Without `--bench` (as `cargo test --benches` runs it) it makes a quick smoke run of 4 MiB.

mod support;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use clap::Parser;
use loket::crypto::stream::CHUNK;
use loket::crypto::{derive_index_key, Cipher};
use std::io::{Read, Write};
use std::time::Instant;

#[derive(Debug, Parser)]
struct Options {
    /// Plaintext to encrypt, in MiB
    #[arg(long)]
    mib: Option<u64>,
    /// Passed by `cargo bench`; without it the run is a smoke test
    #[arg(long)]
    bench: bool,
}

/// `left` bytes of a repeating block, copied out as they are read: no memory for the document,
/// and as cheap to read for the raw measurement as for the stream.
struct Pattern {
    left: u64,
    block: Vec<u8>,
}

impl Pattern {
    fn new(bytes: u64) -> Self {
        Pattern {
            left: bytes,
            block: (0..CHUNK).map(|i| (i % 251) as u8).collect(),
        }
    }
}

impl Read for Pattern {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = buffer
            .len()
            .min(self.block.len())
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        buffer[..n].copy_from_slice(&self.block[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts what is written and forgets it.
#[derive(Default)]
struct Counter {
    bytes: u64,
}

impl Write for Counter {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        self.bytes += buffer.len() as u64;
        Ok(buffer.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() {
    let options = Options::parse();
    let mib = options.mib.unwrap_or(if options.bench { 512 } else { 4 });
    let bytes = mib * 1024 * 1024;
    let key = [7u8; 32];
    let cipher = Cipher::new(&key, &[], derive_index_key(&key));
    println!("{}\n", support::machine());

    let raw = raw_aes_gcm(&key, bytes);

    let started = Instant::now();
    let mut nowhere = Counter::default();
    cipher
        .seal_stream("packages/bench", Pattern::new(bytes), &mut nowhere)
        .expect("sealed");
    let seal_only = started.elapsed().as_secs_f64();

    support::reset_peak_memory();
    let started = Instant::now();
    // Sealing to memory would measure the allocator; a temporary file is what packages use.
    let file = tempfile::tempfile().expect("temp file");
    let mut writer = std::io::BufWriter::new(file);
    cipher
        .seal_stream("packages/bench", Pattern::new(bytes), &mut writer)
        .expect("sealed");
    let mut file = writer.into_inner().expect("flushed");
    let seal = started.elapsed().as_secs_f64();
    let seal_memory = support::peak_memory_mib();

    use std::io::Seek;
    file.rewind().expect("rewound");
    support::reset_peak_memory();
    let started = Instant::now();
    let mut counter = Counter::default();
    cipher
        .open_stream(
            "packages/bench",
            std::io::BufReader::new(file),
            &mut counter,
        )
        .expect("opened");
    let open = started.elapsed().as_secs_f64();
    let open_memory = support::peak_memory_mib();
    assert_eq!(counter.bytes, bytes, "every byte came back");

    let rate = |seconds: f64| bytes as f64 / 1024.0 / 1024.0 / seconds;
    println!("| what | MiB | seconds | MiB/s | share of raw | peak memory |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| raw AES-256-GCM, 64 KiB pieces in memory | {mib} | {raw:.2} | {:.0} | 100% | |",
        rate(raw)
    );
    println!(
        "| `seal_stream`, output discarded | {mib} | {seal_only:.2} | {:.0} | {:.0}% | |",
        rate(seal_only),
        100.0 * raw / seal_only
    );
    println!(
        "| `seal_stream` to a temporary file | {mib} | {seal:.2} | {:.0} | {:.0}% | {seal_memory:.0} MiB |",
        rate(seal),
        100.0 * raw / seal
    );
    println!(
        "| `open_stream` from that file | {mib} | {open:.2} | {:.0} | {:.0}% | {open_memory:.0} MiB |",
        rate(open),
        100.0 * raw / open
    );
}

/// Seconds the crate itself takes to seal `bytes` in [`CHUNK`]-sized pieces.
fn raw_aes_gcm(key: &[u8; 32], bytes: u64) -> f64 {
    let aead = Aes256Gcm::new(key.into());
    let mut piece = vec![0u8; CHUNK];
    let mut reader = Pattern::new(bytes);
    let started = Instant::now();
    let mut counter: u64 = 0;
    loop {
        let n = reader.read(&mut piece).expect("pattern");
        if n == 0 {
            break;
        }
        let mut buffer = piece[..n].to_vec();
        let mut nonce = [0u8; 12];
        nonce[..8].copy_from_slice(&counter.to_be_bytes());
        aead.encrypt_in_place(&Nonce::from(nonce), b"", &mut buffer)
            .expect("sealed");
        std::hint::black_box(&buffer);
        counter += 1;
    }
    started.elapsed().as_secs_f64()
}
