//! gzip on every core, bit-exact for a given level whatever the number of cores.
//!
//! The stream is cut into [`BLOCK_SIZE`] blocks of input, as pigz does: each block is deflated
//! on its own (on a pool of worker threads) with the last 32 KiB of the block before it as the
//! preset dictionary, and ends on a byte boundary with a sync flush (the last block ends the
//! stream). Because a block's bytes depend only on its input, its predecessor's tail and the
//! level, the output is the same on 1 core or 64; the block size is part of
//! [`crate::settings::WRITER_VERSION`]. The CRC-32 and length of the trailer are computed on
//! the writing thread as the input passes. A block of noise (already-compressed bytes) is
//! stored rather than deflated, decided from its bytes alone ([`incompressible`]).
//!
//! Written here rather than taken from a crate: the output must be a reproducibility contract
//! that lamina owns (block size, dictionary and flush points fixed, independent of thread
//! count and of any crate's buffer tuning), it must stream into lamina's hashing writer with
//! bounded memory, and it must use the same flate2/zlib-rs deflate as the rest of the build.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Input bytes per independently deflated block (pigz's default, 128 KiB).
pub const BLOCK_SIZE: usize = 128 * 1024;
/// The deflate window: how much of the previous block primes the next.
const DICT_SIZE: usize = 32 * 1024;
/// At most this many worker threads, whatever the machine.
const MAX_WORKERS: usize = 16;

/// The gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS unknown (255), so
/// the bytes say nothing about the machine that wrote them.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

struct Job {
    input: Vec<u8>,
    dict: Vec<u8>,
    last: bool,
    level: u32,
    reply: SyncSender<io::Result<Vec<u8>>>,
}

/// A gzip [`Write`]r that deflates blocks on `workers` threads; [`ParGzWriter::finish`]
/// ends the stream and returns the inner writer.
pub struct ParGzWriter<W: Write> {
    inner: Option<W>,
    level: u32,
    block: Vec<u8>,
    dict: Vec<u8>,
    crc: crc32fast::Hasher,
    len: u64,
    jobs: Option<mpsc::Sender<Job>>,
    pending: VecDeque<Receiver<io::Result<Vec<u8>>>>,
    max_pending: usize,
    workers: Vec<JoinHandle<()>>,
    header_written: bool,
}

impl<W: Write> ParGzWriter<W> {
    /// A writer at `level` (0–9) using every core (at most 16 threads).
    pub fn new(inner: W, level: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_workers(inner, level, cores)
    }

    /// A writer at `level` with `workers` threads (1 compresses on the calling thread). The
    /// output is the same for any `workers`.
    pub fn with_workers(inner: W, level: u32, workers: usize) -> Self {
        let workers = workers.clamp(1, MAX_WORKERS);
        let (jobs, threads) = if workers > 1 {
            let (tx, rx) = mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            let threads = (0..workers)
                .filter_map(|i| {
                    let rx = rx.clone();
                    std::thread::Builder::new()
                        .name(format!("lamina-gzip-{i}"))
                        .spawn(move || worker(&rx))
                        .ok()
                })
                .collect::<Vec<_>>();
            if threads.is_empty() {
                (None, threads)
            } else {
                (Some(tx), threads)
            }
        } else {
            (None, Vec::new())
        };
        Self {
            inner: Some(inner),
            level: level.min(9),
            block: Vec::with_capacity(BLOCK_SIZE),
            dict: Vec::new(),
            crc: crc32fast::Hasher::new(),
            len: 0,
            max_pending: 2 * threads.len().max(1),
            jobs,
            pending: VecDeque::new(),
            workers: threads,
            header_written: false,
        }
    }

    /// The inner writer (for byte counts while writing).
    pub fn get_ref(&self) -> Option<&W> {
        self.inner.as_ref()
    }

    /// Deflate the last block, write the trailer and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.write_oldest()?;
        }
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&self.crc.clone().finalize().to_le_bytes());
        // ISIZE: the input length modulo 2^32 (RFC 1952).
        trailer[4..].copy_from_slice(&((self.len & 0xffff_ffff) as u32).to_le_bytes());
        let mut inner = self.inner.take().ok_or_else(gone)?;
        inner.write_all(&trailer)?;
        Ok(inner)
    }

    /// Hand the current block to a worker (or deflate it here), keeping at most
    /// `max_pending` blocks in flight.
    fn submit(&mut self, last: bool) -> io::Result<()> {
        if !self.header_written {
            self.inner.as_mut().ok_or_else(gone)?.write_all(&HEADER)?;
            self.header_written = true;
        }
        let input = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
        // Only the last block can be short, and nothing follows it.
        let next_dict = input[input.len().saturating_sub(DICT_SIZE)..].to_vec();
        let dict = std::mem::replace(&mut self.dict, next_dict);
        let (reply, rx) = mpsc::sync_channel(1);
        let job = Job {
            input,
            dict,
            last,
            level: self.level,
            reply,
        };
        match &self.jobs {
            Some(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    run(job);
                }
            }
            None => run(job),
        }
        self.pending.push_back(rx);
        while self.pending.len() > self.max_pending {
            self.write_oldest()?;
        }
        Ok(())
    }

    fn write_oldest(&mut self) -> io::Result<()> {
        let Some(rx) = self.pending.pop_front() else {
            return Ok(());
        };
        let out = rx
            .recv()
            .map_err(|_| io::Error::other("a gzip worker thread stopped"))??;
        self.inner.as_mut().ok_or_else(gone)?.write_all(&out)
    }
}

fn gone() -> io::Error {
    io::Error::other("the gzip stream was already finished")
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(BLOCK_SIZE - self.block.len());
        self.block.extend_from_slice(&buf[..n]);
        self.crc.update(&buf[..n]);
        self.len += n as u64;
        if self.block.len() == BLOCK_SIZE {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        // Blocks are fixed by the input, never by flushes (that would change the bytes).
        Ok(())
    }
}

impl<W: Write> Drop for ParGzWriter<W> {
    fn drop(&mut self) {
        self.jobs.take();
        self.pending.clear();
        for t in self.workers.drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => run(job),
            Err(_) => return,
        }
    }
}

/// Deflate one job and send the bytes back (a reply nobody waits for is dropped).
fn run(job: Job) {
    // A fresh compressor per block: zlib-rs's `reset` does not return every part of its state
    // to the start (measured: a reused compressor made the output depend on which worker had
    // compressed what before), and the output must depend on the block alone.
    let block = if job.level > 0 && incompressible(&job.input) {
        Ok(stored_blocks(&job.input, job.last))
    } else {
        let mut c = Compress::new(Compression::new(job.level), false);
        deflate_block(&mut c, &job.input, &job.dict, job.last)
    };
    let _ = job.reply.send(block);
}

/// Raw deflate of `input` primed with `dict`, ending with a sync flush (or the stream's end).
fn deflate_block(c: &mut Compress, input: &[u8], dict: &[u8], last: bool) -> io::Result<Vec<u8>> {
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() + input.len() / 8 + 64);
    let start_in = c.total_in();
    loop {
        let consumed = (c.total_in() - start_in) as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_in = (c.total_in() - start_in) as usize == input.len();
        match status {
            Status::StreamEnd => return Ok(out),
            _ if done_in && !last && out.len() < out.capacity() => return Ok(out),
            _ => out.reserve(out.capacity().max(4096)),
        }
    }
}

/// Bytes probed for matches in a block that looks like noise.
const PROBE: usize = 4096;

/// Whether a block is noise that deflate cannot shrink (already-compressed files: wheels'
/// `.so` sections rarely, but images, archives and model weights often). zlib-rs's level 1
/// spends ~3× as long on such bytes as on text and makes them ~5% larger (measured on this
/// machine: 61 vs 198 MB/s, 1.055 vs 0.28 of the input), so they are stored instead.
///
/// Two cheap tests, both pure integer functions of the block (the output must depend on the
/// block alone, whatever the machine): every byte value occurs and none more than twice its
/// fair share — and then, since noise can repeat (a file vendored twice), a 4 KiB probe from
/// the middle of the block, primed with the 32 KiB before it, must not shrink below 98%.
fn incompressible(input: &[u8]) -> bool {
    if input.len() < DICT_SIZE + 2 * PROBE {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in input {
        counts[usize::from(b)] += 1;
    }
    let fair = input.len() / 256;
    if counts.iter().any(|&n| n == 0 || n as usize > 2 * fair) {
        return false;
    }
    let mid = input.len() / 2;
    let mut probe = Compress::new(Compression::new(1), false);
    if probe.set_dictionary(&input[mid - DICT_SIZE..mid]).is_err() {
        return false;
    }
    let mut out = Vec::with_capacity(2 * PROBE);
    if probe
        .compress_vec(&input[mid..mid + PROBE], &mut out, FlushCompress::Sync)
        .is_err()
    {
        return false;
    }
    out.len() * 100 >= PROBE * 98
}

/// `input` as stored deflate blocks (RFC 1951 §3.2.4: a header byte on a byte boundary —
/// every block here starts on one — then LEN, its complement and the bytes, ≤ 65,535 each),
/// the last one final when the stream ends here.
fn stored_blocks(input: &[u8], last: bool) -> Vec<u8> {
    const MAX: usize = 65_535;
    let mut out = Vec::with_capacity(input.len() + 5 * (input.len() / MAX + 1));
    let count = input.len().div_ceil(MAX).max(1);
    for (i, chunk) in input.chunks(MAX).enumerate() {
        out.push(u8::from(last && i + 1 == count));
        let len = chunk.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests;
