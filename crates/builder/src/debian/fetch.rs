//! Downloads from the Debian mirror into the cache, verified while streaming.
//!
//! Everything lands in `<cache>/debian/`: indexes as `indexes/<sha256>.xz`, packages as
//! `debs/<sha256>.deb`. A download is streamed to a temporary file in the destination
//! directory while its sha256 and size are computed, checked against the expected
//! values, and only then renamed into place, so a cache entry is complete or absent.
//! Bodies are never held in memory, except the suite's small `InRelease`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lamina_image::{Digest, HashingWriter};

use super::error::{io_err, Error, Result};
use super::index::{parse_release, Release};
use super::lock::LockedPackage;
use super::recipe::Recipe;

/// Attempts per download when the transport fails or the mirror answers 5xx.
const ATTEMPTS: u32 = 3;

/// HTTP access to a mirror plus the on-disk cache it fills.
pub(crate) struct Fetcher {
    client: reqwest::blocking::Client,
    root: PathBuf,
}

/// Longest a whole download may take (a large `.deb` on a slow mirror): a quarter hour.
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What arrived: its digest and size.
struct Downloaded {
    digest: Digest,
    size: u64,
}

impl Fetcher {
    /// A fetcher caching under `<cache>/debian/`.
    pub(crate) fn new(cache: &Path) -> Result<Self> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("lamina/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .timeout(DOWNLOAD_TIMEOUT)
            .build()
            .map_err(|source| Error::Http {
                url: "(client setup)".to_owned(),
                source,
            })?;
        Ok(Self {
            client,
            root: cache.join("debian"),
        })
    }

    /// Fetches and parses `dists/<suite>/InRelease` (always fresh: it is what moves).
    pub(crate) fn release(&self, recipe: &Recipe) -> Result<Release> {
        let url = format!("{}/dists/{}/InRelease", recipe.mirror_url(), recipe.suite);
        let text = self.with_retries(&url, || {
            let resp = self.get(&url)?;
            resp.text().map_err(|source| Error::Http {
                url: url.clone(),
                source,
            })
        })?;
        Ok(parse_release(&text))
    }

    /// Path of the cached `Packages.xz` for `component`/`arch`, downloading it (by hash,
    /// so a mirror mid-sync cannot hand over a different file) when absent.
    pub(crate) fn packages_index(
        &self,
        recipe: &Recipe,
        release: &Release,
        component: &str,
        arch: &str,
    ) -> Result<PathBuf> {
        let index = format!("{component}/binary-{arch}/Packages.xz");
        let Some((sha256, size)) = release.sha256.get(&index) else {
            return Err(Error::IndexNotInRelease {
                url: format!("{}/dists/{}/InRelease", recipe.mirror_url(), recipe.suite),
                index,
            });
        };
        let dest = self.root.join("indexes").join(format!("{sha256}.xz"));
        if file_len(&dest) == Some(*size) {
            return Ok(dest);
        }
        // TODO: check the InRelease OpenPGP signature before trusting these hashes.
        let url = format!(
            "{}/dists/{}/{component}/binary-{arch}/by-hash/SHA256/{sha256}",
            recipe.mirror_url(),
            recipe.suite
        );
        tracing::info!(%url, bytes = size, "downloading package index");
        self.download(&url, &dest, sha256, *size)?;
        Ok(dest)
    }

    /// Path of the cached `.deb` for a pinned package, downloading it when absent.
    /// A 404/410 means the pinned version left the mirror: [`Error::PinnedGone`].
    pub(crate) fn deb(&self, recipe: &str, mirror: &str, pkg: &LockedPackage) -> Result<PathBuf> {
        let dest = self.deb_path(pkg);
        match file_len(&dest) {
            Some(len) if len == pkg.size => return Ok(dest),
            Some(len) => {
                tracing::warn!(path = %dest.display(), len, expected = pkg.size, "cached .deb has the wrong size; downloading again");
            }
            None => {}
        }
        let url = format!("{}/{}", mirror.trim_end_matches('/'), pkg.filename);
        tracing::debug!(%url, bytes = pkg.size, "downloading package");
        match self.download(&url, &dest, &pkg.sha256, pkg.size) {
            Err(Error::HttpStatus {
                status: status @ (404 | 410),
                ..
            }) => Err(Error::PinnedGone {
                recipe: recipe.to_owned(),
                package: pkg.name.clone(),
                status,
            }),
            other => other.map(|()| dest),
        }
    }

    /// Where a pinned package is (or would be) cached.
    pub(crate) fn deb_path(&self, pkg: &LockedPackage) -> PathBuf {
        self.root.join("debs").join(format!("{}.deb", pkg.sha256))
    }

    fn get(&self, url: &str) -> Result<reqwest::blocking::Response> {
        let resp = self.client.get(url).send().map_err(|source| Error::Http {
            url: url.to_owned(),
            source,
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::HttpStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        Ok(resp)
    }

    fn with_retries<T>(&self, url: &str, mut op: impl FnMut() -> Result<T>) -> Result<T> {
        let mut attempt = 1;
        loop {
            match op() {
                Err(
                    err @ (Error::Http { .. }
                    | Error::HttpStatus {
                        status: 500..=599, ..
                    }),
                ) if attempt < ATTEMPTS => {
                    tracing::warn!(%url, attempt, "download failed, retrying: {err}");
                    std::thread::sleep(Duration::from_secs(u64::from(attempt)));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Streams `url` to `dest` through a temporary file, checking sha256 and size.
    fn download(&self, url: &str, dest: &Path, sha256: &str, size: u64) -> Result<()> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let got = self.with_retries(url, || {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(io_err("create temporary file in", dir))?;
            let resp = self.get(url)?;
            let got = copy_hashing(resp, tmp.as_file_mut(), size, url)?;
            if got.digest.hex() == sha256 && got.size == size {
                tmp.persist(dest).map_err(|e| Error::Io {
                    action: "rename into",
                    path: dest.to_owned(),
                    source: e.error,
                })?;
            }
            Ok(got)
        })?;
        if got.digest.hex() != sha256 || got.size != size {
            return Err(Error::Checksum {
                url: url.to_owned(),
                expected: sha256.to_owned(),
                actual: got.digest.hex().to_owned(),
                expected_size: size,
                actual_size: got.size,
            });
        }
        Ok(())
    }
}

/// Copies `from` into `to` computing sha256 and size; stops reading past `limit + 1`
/// bytes so a wrong or hostile response cannot fill the disk.
fn copy_hashing(
    from: impl Read,
    to: &mut std::fs::File,
    limit: u64,
    url: &str,
) -> Result<Downloaded> {
    let mut writer = HashingWriter::new(std::io::BufWriter::with_capacity(256 * 1024, to));
    std::io::copy(&mut from.take(limit.saturating_add(1)), &mut writer).map_err(|e| Error::Io {
        action: "download",
        path: PathBuf::from(url),
        source: e,
    })?;
    let (mut file, digest, size) = writer.finish();
    file.flush().map_err(io_err("write download for", url))?;
    Ok(Downloaded { digest, size })
}

fn file_len(path: &Path) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    /// Serves each request on `listener` with `status` and `body`, forever.
    fn serve(status: u16, body: &'static [u8]) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).unwrap() > 2 {
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).unwrap();
                stream.write_all(body).unwrap();
            }
        });
        format!("http://{addr}")
    }

    fn pkg(body: &[u8]) -> LockedPackage {
        LockedPackage {
            name: "dash".into(),
            version: "1".into(),
            arch: "amd64".into(),
            filename: "pool/dash.deb".into(),
            sha256: Digest::sha256_of(body).hex().to_owned(),
            size: body.len() as u64,
        }
    }

    #[test]
    fn deb_is_verified_and_cached() {
        let mirror = serve(200, b"deb bytes");
        let cache = tempfile::tempdir().unwrap();
        let f = Fetcher::new(cache.path()).unwrap();
        let path = f.deb("tiny", &mirror, &pkg(b"deb bytes")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"deb bytes");
        // A second call is a cache hit even with the mirror gone.
        let path2 = f
            .deb("tiny", "http://127.0.0.1:9", &pkg(b"deb bytes"))
            .unwrap();
        assert_eq!(path, path2);
    }

    #[test]
    fn wrong_bytes_leave_no_cache_entry() {
        let mirror = serve(200, b"tampered");
        let cache = tempfile::tempdir().unwrap();
        let f = Fetcher::new(cache.path()).unwrap();
        let p = pkg(b"deb bytes");
        assert!(matches!(
            f.deb("tiny", &mirror, &p),
            Err(Error::Checksum { .. })
        ));
        assert!(!f.deb_path(&p).exists());
        let leftovers = std::fs::read_dir(cache.path().join("debian/debs"))
            .unwrap()
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn missing_pin_says_how_to_refresh() {
        let mirror = serve(404, b"");
        let cache = tempfile::tempdir().unwrap();
        let f = Fetcher::new(cache.path()).unwrap();
        let err = f.deb("python3.13", &mirror, &pkg(b"x")).unwrap_err();
        assert!(matches!(err, Error::PinnedGone { status: 404, .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("base-images/python3.13/lamina.lock")
                && msg.contains("lamina base lock python3.13"),
            "{msg}"
        );
    }
}
