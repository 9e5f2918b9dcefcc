//! `nowcam record`: reads a receiver's MJPEG stream
//! (`multipart/x-mixed-replace`, as `/stream` and esp32-camera's port 81
//! serve it) and writes the JPEGs unchanged into an AVI file (MJPG), which
//! ffmpeg, VLC and browsers' players play.
//!
//! Plain HTTP/1.1 over a std socket: the stream is one long response, and a
//! recording needs nothing more.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

/// When a recording stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Frames(u32),
    Elapsed(Duration),
}

/// What a finished recording holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recorded {
    pub frames: u32,
    pub width: u16,
    pub height: u16,
    pub seconds: f64,
}

/// Records `url` into `out` until `until`; `progress` hears of every frame
/// (frames so far, seconds so far).
pub fn record(url: &str, out: &Path, until: Until, mut progress: impl FnMut(u32, f64)) -> Result<Recorded> {
    let mut stream = MjpegStream::open(url, Duration::from_secs(20))?;
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut avi: Option<AviWriter> = None;
    let started = Instant::now();
    let mut file = Some(file);
    loop {
        let elapsed = started.elapsed();
        let done = match until {
            Until::Frames(limit) => avi.as_ref().is_some_and(|avi| avi.frames >= limit),
            Until::Elapsed(limit) => elapsed >= limit,
        };
        if done {
            break;
        }
        let frame = match stream.next_frame() {
            Ok(frame) => frame,
            Err(error) if avi.is_some() => {
                eprintln!("the stream ended: {error:#}");
                break;
            }
            Err(error) => return Err(error),
        };
        if avi.is_none() {
            let (width, height) = jpeg_dimensions(&frame).context("the first frame is not a JPEG with a size")?;
            let file = file.take().context("the file is taken once")?;
            avi = Some(AviWriter::start(file, width, height)?);
        }
        let writer = avi.as_mut().context("the writer exists")?;
        writer.frame(&frame)?;
        progress(writer.frames, started.elapsed().as_secs_f64());
    }
    let seconds = started.elapsed().as_secs_f64();
    let avi = avi.context("the stream ended before its first frame")?;
    let (frames, width, height) = (avi.frames, avi.width, avi.height);
    avi.finish(seconds)?;
    Ok(Recorded { frames, width, height, seconds })
}

/// The JPEGs of one `multipart/x-mixed-replace` response.
pub struct MjpegStream {
    reader: BufReader<TcpStream>,
    boundary: Vec<u8>,
}

impl MjpegStream {
    pub fn open(url: &str, timeout: Duration) -> Result<MjpegStream> {
        let rest = url.strip_prefix("http://").with_context(|| format!("{url}: only http:// URLs are supported"))?;
        let (authority, path) = rest.split_once('/').map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
        let address = if authority.contains(':') { authority.to_string() } else { format!("{authority}:80") };
        let socket = TcpStream::connect(&address).with_context(|| format!("connecting to {address}"))?;
        socket.set_read_timeout(Some(timeout))?;
        let mut writer = socket.try_clone()?;
        write!(writer, "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: multipart/x-mixed-replace\r\n\r\n")?;
        let mut reader = BufReader::new(socket);
        let mut status = String::new();
        reader.read_line(&mut status).context("reading the status line")?;
        let code = status.split_whitespace().nth(1).unwrap_or("");
        ensure!(code == "200", "{url}: the server answered {}", status.trim());
        let mut boundary = None;
        loop {
            let mut line = String::new();
            ensure!(reader.read_line(&mut line)? > 0, "{url}: the response ended in its headers");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-type") {
                    let value = value.trim();
                    ensure!(
                        value.to_ascii_lowercase().starts_with("multipart/"),
                        "{url}: Content-Type {value} is not an MJPEG stream (multipart/x-mixed-replace)"
                    );
                    boundary = value
                        .split(';')
                        .filter_map(|part| part.trim().strip_prefix("boundary="))
                        .next()
                        .map(|b| b.trim_matches('"').trim_start_matches("--").as_bytes().to_vec());
                }
            }
        }
        let boundary = boundary.with_context(|| format!("{url}: the stream names no multipart boundary"))?;
        Ok(MjpegStream { reader, boundary })
    }

    /// The next part's body: by its Content-Length when it has one, else up to the next boundary.
    pub fn next_frame(&mut self) -> Result<Vec<u8>> {
        let mut length = None;
        let mut in_headers = false;
        loop {
            let mut line = Vec::new();
            ensure!(self.reader.read_until(b'\n', &mut line)? > 0, "the stream ended");
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end();
            if !in_headers {
                if text.trim_start_matches("--").as_bytes() == self.boundary.as_slice() {
                    in_headers = true;
                }
                continue;
            }
            if text.is_empty() {
                break;
            }
            if let Some((name, value)) = text.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse::<usize>().ok();
                }
            }
        }
        match length {
            Some(length) => {
                let mut body = vec![0; length];
                self.reader.read_exact(&mut body).context("reading a frame")?;
                Ok(body)
            }
            None => {
                let mut marker = b"\r\n--".to_vec();
                marker.extend_from_slice(&self.boundary);
                let mut body = Vec::new();
                let mut byte = [0u8];
                while !body.ends_with(&marker) {
                    self.reader.read_exact(&mut byte).context("reading a frame")?;
                    body.push(byte[0]);
                }
                body.truncate(body.len() - marker.len());
                // The boundary line was consumed with the frame; put its header reading back in step.
                let mut rest = Vec::new();
                self.reader.read_until(b'\n', &mut rest)?;
                Ok(body)
            }
        }
    }
}

/// Width and height from a JPEG's start-of-frame marker.
pub fn jpeg_dimensions(jpeg: &[u8]) -> Option<(u16, u16)> {
    if !jpeg.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let mut at = 2;
    while at + 9 < jpeg.len() {
        if jpeg[at] != 0xff {
            return None;
        }
        let marker = jpeg[at + 1];
        let length = usize::from(u16::from_be_bytes([jpeg[at + 2], jpeg[at + 3]]));
        // SOF0 to SOF15, except DHT (c4), JPG (c8) and DAC (cc).
        if (0xc0..=0xcf).contains(&marker) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            let height = u16::from_be_bytes([jpeg[at + 5], jpeg[at + 6]]);
            let width = u16::from_be_bytes([jpeg[at + 7], jpeg[at + 8]]);
            return Some((width, height));
        }
        at += 2 + length;
    }
    None
}

/// An AVI (RIFF) file of MJPG frames, with its sizes and index written at the end.
struct AviWriter {
    file: BufWriter<File>,
    width: u16,
    height: u16,
    frames: u32,
    largest: u32,
    /// Offset of each frame chunk from the `movi` list's type field, and its size.
    index: Vec<(u32, u32)>,
    movi_start: u64,
}

/// Offsets of the fields patched at the end.
const RIFF_SIZE_AT: u64 = 4;
const MICROSECONDS_PER_FRAME_AT: u64 = 32;
const TOTAL_FRAMES_AT: u64 = 48;
const SUGGESTED_BUFFER_AT: u64 = 60;
const STREAM_SCALE_AT: u64 = 128;
const STREAM_LENGTH_AT: u64 = 140;
const STREAM_BUFFER_AT: u64 = 144;
const MOVI_SIZE_AT: u64 = 216;

impl AviWriter {
    fn start(file: File, width: u16, height: u16) -> Result<AviWriter> {
        let mut header = Vec::with_capacity(224);
        let u32le = |v: &mut Vec<u8>, n: u32| v.extend_from_slice(&n.to_le_bytes());
        let u16le = |v: &mut Vec<u8>, n: u16| v.extend_from_slice(&n.to_le_bytes());
        let (w, h) = (u32::from(width), u32::from(height));
        header.extend_from_slice(b"RIFF");
        u32le(&mut header, 0); // patched: file size - 8
        header.extend_from_slice(b"AVI LIST");
        u32le(&mut header, 192); // hdrl list size
        header.extend_from_slice(b"hdrlavih");
        u32le(&mut header, 56);
        u32le(&mut header, 100_000); // patched: microseconds per frame
        u32le(&mut header, 0); // max bytes per second
        u32le(&mut header, 0); // padding granularity
        u32le(&mut header, 0x10); // AVIF_HASINDEX
        u32le(&mut header, 0); // patched: total frames
        u32le(&mut header, 0); // initial frames
        u32le(&mut header, 1); // streams
        u32le(&mut header, 0); // patched: suggested buffer size
        u32le(&mut header, w);
        u32le(&mut header, h);
        header.extend_from_slice(&[0; 16]); // reserved
        header.extend_from_slice(b"LIST");
        u32le(&mut header, 116); // strl list size
        header.extend_from_slice(b"strlstrh");
        u32le(&mut header, 56);
        header.extend_from_slice(b"vidsMJPG");
        u32le(&mut header, 0); // flags
        u16le(&mut header, 0); // priority
        u16le(&mut header, 0); // language
        u32le(&mut header, 0); // initial frames
        u32le(&mut header, 100_000); // patched: scale (microseconds per frame)
        u32le(&mut header, 1_000_000); // rate
        u32le(&mut header, 0); // start
        u32le(&mut header, 0); // patched: length in frames
        u32le(&mut header, 0); // patched: suggested buffer size
        u32le(&mut header, u32::MAX); // quality: default
        u32le(&mut header, 0); // sample size
        u16le(&mut header, 0);
        u16le(&mut header, 0);
        u16le(&mut header, width);
        u16le(&mut header, height); // rcFrame
        header.extend_from_slice(b"strf");
        u32le(&mut header, 40);
        u32le(&mut header, 40); // BITMAPINFOHEADER size
        u32le(&mut header, w);
        u32le(&mut header, h);
        u16le(&mut header, 1); // planes
        u16le(&mut header, 24); // bits per pixel
        header.extend_from_slice(b"MJPG");
        u32le(&mut header, w * h * 3);
        header.extend_from_slice(&[0; 16]); // resolution, colours
        header.extend_from_slice(b"LIST");
        u32le(&mut header, 4); // patched: movi list size
        header.extend_from_slice(b"movi");
        debug_assert_eq!(header.len(), 224);
        let mut file = BufWriter::new(file);
        file.write_all(&header)?;
        Ok(AviWriter { file, width, height, frames: 0, largest: 0, index: Vec::new(), movi_start: 220 })
    }

    fn frame(&mut self, jpeg: &[u8]) -> Result<()> {
        let size = u32::try_from(jpeg.len()).context("a frame over 4 GB")?;
        let offset = self.file.stream_position()? - self.movi_start;
        self.file.write_all(b"00dc")?;
        self.file.write_all(&size.to_le_bytes())?;
        self.file.write_all(jpeg)?;
        if size % 2 == 1 {
            self.file.write_all(&[0])?;
        }
        self.index.push((offset as u32, size));
        self.frames += 1;
        self.largest = self.largest.max(size);
        Ok(())
    }

    fn finish(mut self, seconds: f64) -> Result<()> {
        let movi_end = self.file.stream_position()?;
        self.file.write_all(b"idx1")?;
        self.file.write_all(&(self.index.len() as u32 * 16).to_le_bytes())?;
        for (offset, size) in &self.index {
            self.file.write_all(b"00dc")?;
            self.file.write_all(&0x10u32.to_le_bytes())?; // AVIIF_KEYFRAME
            self.file.write_all(&offset.to_le_bytes())?;
            self.file.write_all(&size.to_le_bytes())?;
        }
        let end = self.file.stream_position()?;
        let per_frame = if self.frames > 1 { (seconds * 1e6 / f64::from(self.frames)).round() as u32 } else { 100_000 };
        let per_frame = per_frame.max(1);
        let patches = [
            (RIFF_SIZE_AT, (end - 8) as u32),
            (MICROSECONDS_PER_FRAME_AT, per_frame),
            (TOTAL_FRAMES_AT, self.frames),
            (SUGGESTED_BUFFER_AT, self.largest + 8),
            (STREAM_SCALE_AT, per_frame),
            (STREAM_LENGTH_AT, self.frames),
            (STREAM_BUFFER_AT, self.largest + 8),
            (MOVI_SIZE_AT, (movi_end - self.movi_start) as u32),
        ];
        for (at, value) in patches {
            self.file.seek(SeekFrom::Start(at))?;
            self.file.write_all(&value.to_le_bytes())?;
        }
        self.file.flush()?;
        if self.frames == 0 {
            bail!("no frame was recorded");
        }
        Ok(())
    }
}
