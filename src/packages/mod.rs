//! Access and portability packages: what a person gets in answer to "what do you have on me?"
//! (Art. 15) and "give me my data" (Art. 20). Packages are sealed as a stream
//! ([`crate::crypto::stream`]) under package keys of their own ([`keys`]), which loket's data key
//! seals in turn, so rotating one never means re-encrypting every package.

pub mod keys;

pub use keys::{PackageKey, PackageKeys};
