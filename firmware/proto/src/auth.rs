//! The authenticated mode: a pre-shared key, a truncated HMAC-SHA256 tag on
//! every frame, an HMAC-SHA256 over the whole image, and a receiver nonce
//! that binds every frame of a transfer to that transfer.
//!
//! ```text
//! tag       = HMAC-SHA256(key, direction u8 | nonce u32 LE | frame bytes up to the tag)[..8]
//! image MAC = HMAC-SHA256(key, "nowcam image" | session u32 LE | image length u32 LE | image)
//! ```
//!
//! - `direction` is 0 for frames a camera sends, 1 for frames a receiver
//!   sends, so that no frame can be reflected back to its sender.
//! - The frame bytes include the header with its TAGGED flag and kind, the
//!   session and the chunk index or poll id: a tag is bound to the session,
//!   the frame kind and the index.
//! - `nonce` is 0 for the offer, the challenge, an abort that answers a
//!   frame of no known transfer, and every frame outside a transfer (probes,
//!   telemetry, camera control). Every other frame of a transfer is bound to
//!   the nonce the receiver drew when it accepted the offer and sent in its
//!   Challenge. A recorded transfer replayed later finds another nonce and
//!   every one of its chunks is dropped; session ids are random as well.
//!
//! A transfer in the authenticated mode goes: SealedOffer (the offer and the
//! image MAC) → Challenge (the nonce) → chunks, status requests and statuses
//! as in the default mode → the receiver checks the CRC-32 *and* the image
//! MAC before it commits → Completion.
//!
//! Cost: the tag takes 8 of a chunk frame's 250 bytes, so a chunk carries 233
//! payload bytes instead of 241: 3.4 % more frames for the same image.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::wire::{flags, Frame, Result as WireResult, TAG_LEN};

type HmacSha256 = Hmac<Sha256>;

/// Bytes of a pre-shared key.
pub const KEY_LEN: usize = 32;

/// A pre-shared key. Its `Debug` form never shows the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key([u8; KEY_LEN]);

impl Key {
    pub const fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A key from untrusted bytes (a key file): exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::WrongLength)?;
        Ok(Self(bytes))
    }

    /// A key from 64 hexadecimal digits (a build-time environment variable).
    pub fn from_hex(hex: &str) -> Result<Self, KeyError> {
        let hex = hex.trim().as_bytes();
        if hex.len() != 2 * KEY_LEN {
            return Err(KeyError::WrongLength);
        }
        let mut bytes = [0u8; KEY_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let digit = |c: u8| match c {
                b'0'..=b'9' => Ok(c - b'0'),
                b'a'..=b'f' => Ok(c - b'a' + 10),
                b'A'..=b'F' => Ok(c - b'A' + 10),
                _ => Err(KeyError::NotHex),
            };
            *byte = digit(hex[2 * i])? << 4 | digit(hex[2 * i + 1])?;
        }
        Ok(Self(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Key(..)")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Key {
    fn format(&self, f: defmt::Formatter) {
        defmt::write!(f, "Key(..)")
    }
}

/// Why a key was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeyError {
    /// a key is 32 bytes (64 hexadecimal digits)
    WrongLength,
    /// the key is not hexadecimal
    NotHex,
}

impl core::fmt::Display for KeyError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyError::WrongLength => "a key is 32 bytes (64 hexadecimal digits)",
            KeyError::NotHex => "the key is not hexadecimal",
        })
    }
}

impl core::error::Error for KeyError {}

/// Who sent a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum Direction {
    /// A camera's frame, to a receiver.
    FromCamera = 0,
    /// A receiver's frame, to a camera.
    FromReceiver = 1,
}

/// Why a frame failed authentication; it is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthError {
    /// the authenticated mode requires a tag and the frame has none
    Untagged,
    /// the frame has a tag but this node has no key
    UnexpectedTag,
    /// the tag does not match (forged, corrupted, replayed from another transfer)
    BadTag,
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            AuthError::Untagged => "the frame carries no tag",
            AuthError::UnexpectedTag => "the frame carries a tag and no key is configured",
            AuthError::BadTag => "the frame's tag does not match",
        })
    }
}

impl core::error::Error for AuthError {}

/// Tags and checks frames under one key; the key schedule is computed once.
#[derive(Clone)]
pub struct Authenticator {
    mac: HmacSha256,
}

impl core::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Authenticator(..)")
    }
}

impl Authenticator {
    pub fn new(key: &Key) -> Self {
        // HMAC takes a key of any length: this cannot fail.
        let mac = match HmacSha256::new_from_slice(&key.0) {
            Ok(mac) => mac,
            Err(_) => unreachable_key(),
        };
        Self { mac }
    }

    fn frame_mac(&self, direction: Direction, nonce: u32, frame: &[u8]) -> HmacSha256 {
        let mut mac = self.mac.clone();
        mac.update(&[direction as u8]);
        mac.update(&nonce.to_le_bytes());
        mac.update(frame);
        mac
    }

    /// Tags the untagged frame of `len` bytes at the start of `buffer`: sets
    /// the TAGGED flag and appends the tag; returns the new length.
    pub fn seal(&self, direction: Direction, nonce: u32, buffer: &mut [u8], len: usize) -> WireResult<usize> {
        let end = len + TAG_LEN;
        if end > crate::wire::MAX_FRAME_LEN {
            return Err(crate::wire::Error::TooLong);
        }
        let buffer = buffer.get_mut(..end).ok_or(crate::wire::Error::BufferTooSmall)?;
        {
            let frame = Frame::new_checked(&buffer[..len])?;
            if frame.is_tagged() {
                return Err(crate::wire::Error::UnsupportedFlags);
            }
        }
        buffer[2] |= flags::TAGGED;
        let tag = self.frame_mac(direction, nonce, &buffer[..len]).finalize().into_bytes();
        buffer[len..end].copy_from_slice(&tag[..TAG_LEN]);
        Ok(end)
    }

    /// Checks the tag of a frame (whose header `Frame::new_checked` accepts).
    pub fn verify(&self, direction: Direction, nonce: u32, bytes: &[u8]) -> Result<(), AuthError> {
        let frame = Frame::new_checked(bytes).map_err(|_| AuthError::BadTag)?;
        if !frame.is_tagged() {
            return Err(AuthError::Untagged);
        }
        let split = bytes.len() - TAG_LEN;
        self.frame_mac(direction, nonce, &bytes[..split])
            .verify_truncated_left(&bytes[split..])
            .map_err(|_| AuthError::BadTag)
    }

    /// Starts the MAC of an image offered under `session`.
    pub fn image_mac(&self, session: u32, image_len: u32) -> ImageMac {
        let mut mac = self.mac.clone();
        mac.update(b"nowcam image");
        mac.update(&session.to_le_bytes());
        mac.update(&image_len.to_le_bytes());
        ImageMac { mac }
    }
}

#[cold]
fn unreachable_key() -> ! {
    panic!("HMAC accepts keys of every length")
}

/// The HMAC of a whole image, fed in pieces (the receiver reads it back from flash).
#[derive(Clone)]
pub struct ImageMac {
    mac: HmacSha256,
}

impl ImageMac {
    pub fn update(&mut self, bytes: &[u8]) {
        self.mac.update(bytes);
    }

    pub fn finalize(self) -> [u8; 32] {
        self.mac.finalize().into_bytes().into()
    }

    /// Whether the image fed so far has this MAC (compared in constant time).
    pub fn matches(self, expected: &[u8; 32]) -> bool {
        self.mac.verify_slice(expected).is_ok()
    }
}

/// Checks a received frame: tagged and valid when a key is configured,
/// untagged otherwise.
pub fn check(
    authenticator: Option<&Authenticator>,
    direction: Direction,
    nonce: u32,
    bytes: &[u8],
) -> Result<(), AuthError> {
    match authenticator {
        Some(authenticator) => authenticator.verify(direction, nonce, bytes),
        None if bytes.get(2).is_some_and(|f| f & flags::TAGGED != 0) => Err(AuthError::UnexpectedTag),
        None => Ok(()),
    }
}
