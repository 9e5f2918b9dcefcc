//! Compresses the web page (`page/index.html`) with gzip into `OUT_DIR`, so
//! the chip stores the page compressed and serves it with
//! `Content-Encoding: gzip` as it is.

use std::path::PathBuf;

fn main() {
    let source = PathBuf::from("page/index.html");
    println!("cargo:rerun-if-changed={}", source.display());
    let html = std::fs::read(&source).expect("page/index.html is readable");
    let deflated = miniz_oxide::deflate::compress_to_vec(&html, 10);
    let mut gzip = Vec::with_capacity(deflated.len() + 18);
    // RFC 1952 header: magic, deflate, no flags, no time, maximum compression, unknown OS.
    gzip.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    gzip.extend_from_slice(&deflated);
    gzip.extend_from_slice(&crc32(&html).to_le_bytes());
    gzip.extend_from_slice(&(html.len() as u32).to_le_bytes());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("index.html.gz"), gzip).expect("OUT_DIR is writable");
}

/// The CRC-32 gzip's trailer holds (IEEE, reflected).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
