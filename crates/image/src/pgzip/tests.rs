use std::io::{Read, Write};

use super::*;

/// Bytes that compress some (text-like runs) and some not (a xorshift stream).
fn sample(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|i| {
            if (i / 5000) % 2 == 0 {
                b"lamina layer bytes "[i % 19]
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            }
        })
        .collect()
}

/// `len` bytes of xorshift noise: nothing for deflate to find.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn compress(data: &[u8], level: u32, workers: usize, chunk: usize) -> Vec<u8> {
    let mut w = ParGzWriter::with_workers(Vec::new(), level, workers);
    for piece in data.chunks(chunk.max(1)) {
        w.write_all(piece).unwrap();
    }
    w.finish().unwrap()
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn output_is_the_same_on_any_number_of_threads_and_round_trips() {
    for len in [
        0,
        1,
        DICT_SIZE,
        BLOCK_SIZE,
        BLOCK_SIZE + 1,
        3 * BLOCK_SIZE + 12_345,
    ] {
        let data = sample(len);
        let one = compress(&data, 1, 1, 8192);
        for workers in [2, 3, 8] {
            assert_eq!(
                compress(&data, 1, workers, 100_000),
                one,
                "{len} bytes on {workers} workers"
            );
        }
        assert_eq!(gunzip(&one), data, "{len} bytes round trip");
        assert_eq!(&one[..10], &HEADER);
    }
}

#[test]
fn many_blocks_give_the_same_bytes_however_the_workers_share_them() {
    let data = sample(40 * BLOCK_SIZE + 999);
    let one = compress(&data, 1, 1, 65_536);
    for _ in 0..3 {
        assert_eq!(compress(&data, 1, 3, 1 << 20), one);
    }
    assert_eq!(gunzip(&one), data);
}

#[test]
fn every_level_round_trips_and_higher_levels_are_not_larger() {
    let data = sample(2 * BLOCK_SIZE + 77);
    let sizes: Vec<usize> = [0, 1, 6, 9]
        .iter()
        .map(|&level| {
            let gz = compress(&data, level, 2, 65_536);
            assert_eq!(gunzip(&gz), data, "level {level}");
            gz.len()
        })
        .collect();
    assert!(sizes[0] > data.len(), "level 0 stores: {sizes:?}");
    assert!(sizes[1] < sizes[0] && sizes[3] <= sizes[1], "{sizes:?}");
}

#[test]
fn the_dictionary_carries_matches_across_blocks() {
    // 16 KiB of noise, repeated over two blocks: without the previous block as dictionary the
    // second block would start with 16 KiB of literals again.
    let piece = 16 * 1024;
    let noise = noise(piece);
    let mut data = Vec::new();
    while data.len() < 2 * BLOCK_SIZE {
        data.extend_from_slice(&noise);
    }
    let gz = compress(&data, 1, 2, BLOCK_SIZE);
    assert_eq!(gunzip(&gz), data);
    assert!(
        gz.len() < piece + piece / 2,
        "{} bytes for {} bytes of repeated noise",
        gz.len(),
        data.len()
    );
}

#[test]
fn the_system_gzip_reads_it() {
    let data = sample(BLOCK_SIZE * 2 + 3);
    let gz = compress(&data, 1, 2, 4096);
    assert_eq!(system_gunzip(&gz), data);
}

/// `gzip -dc` of `gz`.
fn system_gunzip(gz: &[u8]) -> Vec<u8> {
    let Ok(mut child) = std::process::Command::new("gzip")
        .args(["-dc"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
    else {
        panic!("gzip(1) is needed for this test");
    };
    let mut stdin = child.stdin.take().unwrap();
    let gz = gz.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&gz));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn noise_is_stored_not_inflated_and_still_reads_back() {
    let noise = noise(5 * BLOCK_SIZE + 1234);
    let gz = compress(&noise, 1, 2, 1 << 16);
    assert_eq!(gunzip(&gz), noise);
    // Deflated, this noise grows ~5%; stored, only by block headers and the gzip frame.
    assert!(
        gz.len() <= noise.len() + noise.len() / 1000 + 64,
        "{} bytes for {} bytes of noise",
        gz.len(),
        noise.len()
    );
    assert_eq!(compress(&noise, 1, 1, 4096), gz, "the same on one thread");
    let mut text = sample(BLOCK_SIZE);
    text.extend_from_slice(&noise);
    let mixed = compress(&text, 1, 3, 1 << 20);
    assert_eq!(gunzip(&mixed), text);
    assert!(
        system_gunzip(&mixed) == text,
        "gzip(1) reads stored and deflated blocks mixed"
    );
}
