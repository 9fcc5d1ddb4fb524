//! Content digests: the `sha256:<hex>` [`Digest`] type and streaming hashers.
//!
//! Only sha256 is supported: it is what Docker, ECR and Lambda use for every blob we write.
//! [`HashingWriter`] and [`HashingReader`] hash bytes as they pass, so no blob is ever held
//! in memory to be digested.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A string that is not a `sha256:<64 lowercase hex>` digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {0:?}: expected \"sha256:\" followed by 64 lowercase hex digits")]
pub struct DigestError(pub String);

type Result<T> = std::result::Result<T, DigestError>;

const PREFIX: &str = "sha256:";

/// A sha256 content digest, always rendered as `sha256:<64 lowercase hex>`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest(String);

impl Digest {
    /// The 64 hex digits, without the `sha256:` prefix (the blob's file name).
    pub fn hex(&self) -> &str {
        &self.0[PREFIX.len()..]
    }

    /// The full `sha256:<hex>` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digest of an in-memory byte slice (small documents only).
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    /// Build from a 32-byte raw sha256 value.
    fn from_hasher(hasher: Sha256) -> Digest {
        Digest(format!("{PREFIX}{}", hex::encode(hasher.finalize())))
    }

    /// Convert to the `oci-spec` digest type (infallible for a valid sha256 digest).
    pub fn to_oci(&self) -> Result<oci_spec::image::Digest> {
        oci_spec::image::Digest::from_str(&self.0).map_err(|_| DigestError(self.0.clone()))
    }

    /// Convert from the `oci-spec` digest type; refuses algorithms other than sha256.
    pub fn from_oci(d: &oci_spec::image::Digest) -> Result<Digest> {
        d.to_string().parse()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Digest> {
        let hex = s
            .strip_prefix(PREFIX)
            .ok_or_else(|| DigestError(s.to_string()))?;
        let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !valid {
            return Err(DigestError(s.to_string()));
        }
        Ok(Digest(s.to_string()))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A sha256 hasher that can be fed incrementally and finished into a [`Digest`].
#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Hasher {
        Hasher(Sha256::new())
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Finish into a digest.
    pub fn finish(self) -> Digest {
        Digest::from_hasher(self.0)
    }
}

/// Wraps a writer; counts and sha256-hashes every byte written through it.
pub struct HashingWriter<W: Write> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Start hashing writes into `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Give back the inner writer (not flushed), the digest and the byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Wraps a reader; counts and sha256-hashes every byte read through it.
pub struct HashingReader<R: Read> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Start hashing reads from `inner`.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Give back the inner reader, the digest and the byte count.
    pub fn finish(self) -> (R, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.count)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_input_has_the_well_known_digest() {
        assert_eq!(Digest::sha256_of(b"").to_string(), EMPTY);
        let (_, d, n) = HashingWriter::new(Vec::new()).finish();
        assert_eq!((d.to_string(), n), (EMPTY.to_string(), 0));
    }

    #[test]
    fn writer_and_reader_agree_with_one_shot() {
        let data = b"hello lamina".repeat(1000);
        let mut w = HashingWriter::new(Vec::new());
        w.write_all(&data).unwrap();
        let (inner, d, n) = w.finish();
        assert_eq!(inner, data);
        assert_eq!(n, data.len() as u64);
        assert_eq!(d, Digest::sha256_of(&data));
        let mut r = HashingReader::new(&data[..]);
        io::copy(&mut r, &mut io::sink()).unwrap();
        assert_eq!(r.finish().1, d);
    }

    #[test]
    fn parse_and_serde_round_trip() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.hex().len(), 64);
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert_eq!(Digest::from_oci(&d.to_oci().unwrap()).unwrap(), d);
    }

    #[test]
    fn parse_refuses_bad_digests() {
        for bad in [
            "",
            "sha256:",
            "sha512:00",
            &EMPTY.to_uppercase(),
            &EMPTY[..70],
            &format!("{EMPTY}0"),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad:?} accepted");
        }
    }
}
