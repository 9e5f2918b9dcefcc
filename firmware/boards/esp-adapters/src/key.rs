//! The build-time key of the authenticated mode (`NOWCAM_KEY`), read next to
//! the build-time channel ([`crate::wifi::build_channel`]) and checked the
//! same way: in const evaluation, so a malformed key stops the build.

use nowcam_proto::auth::{Key, KEY_LEN};

/// Why a build-time key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTextError {
    /// not 64 characters (surrounding ASCII white space aside)
    WrongLength,
    /// a character that is not a hexadecimal digit
    NotHex,
}

const fn hex_digit(c: u8) -> Result<u8, KeyTextError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(KeyTextError::NotHex),
    }
}

/// Reads a key from build-time configuration: `None` when unset (the
/// default mode), else 64 hexadecimal digits, as `Key::from_hex` on the host
/// reads a `--key-file`.
pub const fn key_from_hex(text: Option<&str>) -> Result<Option<Key>, KeyTextError> {
    match bytes_from_hex::<KEY_LEN>(text) {
        Ok(Some(bytes)) => Ok(Some(Key::new(bytes))),
        Ok(None) => Ok(None),
        Err(error) => Err(error),
    }
}

/// The build-time key, for a `const`: a malformed `NOWCAM_KEY` stops the
/// build with a message naming the variable and the expected form.
pub const fn build_key(text: Option<&str>) -> Option<Key> {
    match key_from_hex(text) {
        Ok(key) => key,
        Err(KeyTextError::WrongLength) => {
            panic!("NOWCAM_KEY must be exactly 64 hexadecimal digits (a 32-byte key), or unset for the default mode")
        }
        Err(KeyTextError::NotHex) => {
            panic!("NOWCAM_KEY must be 64 hexadecimal digits (0-9, a-f, A-F): it holds another character")
        }
    }
}

/// Reads `N` bytes written as `2 × N` hexadecimal digits; `None` when unset.
pub const fn bytes_from_hex<const N: usize>(text: Option<&str>) -> Result<Option<[u8; N]>, KeyTextError> {
    let Some(text) = text else { return Ok(None) };
    let hex = text.as_bytes().trim_ascii();
    if hex.len() != 2 * N {
        return Err(KeyTextError::WrongLength);
    }
    let mut bytes = [0u8; N];
    let mut index = 0;
    while index < N {
        let high = match hex_digit(hex[2 * index]) {
            Ok(digit) => digit,
            Err(error) => return Err(error),
        };
        let low = match hex_digit(hex[2 * index + 1]) {
            Ok(digit) => digit,
            Err(error) => return Err(error),
        };
        bytes[index] = high << 4 | low;
        index += 1;
    }
    Ok(Some(bytes))
}

/// ESP-NOW's own encryption of unicast frames (CCMP), optional and fixed at
/// build time: `NOWCAM_LMK`, the local master key every peer is added with
/// (32 hexadecimal digits), and `NOWCAM_PMK`, the primary master key that
/// wraps it (32 hexadecimal digits; ESP-IDF's default when unset).
///
/// It covers unicast frames only, is not authentication (receivers also
/// take unencrypted frames from an encrypted peer, and encrypted frames can
/// be replayed: `shared/ESPNOW-FACTS.md`), and holds at most a few peers; the
/// authenticated mode (`NOWCAM_KEY`) is what guards the store. A camera with
/// an LMK sends every frame unicast, so that none goes out in the clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicastEncryption {
    pub pmk: [u8; 16],
    pub lmk: [u8; 16],
}

/// The primary master key of ESP-IDF's ESP-NOW examples (`CONFIG_ESPNOW_PMK`).
pub const DEFAULT_PMK: [u8; 16] = *b"pmk1234567890123";

/// The build-time unicast encryption, for a `const`: malformed values stop
/// the build with a message naming the variable.
pub const fn build_unicast_encryption(lmk: Option<&str>, pmk: Option<&str>) -> Option<UnicastEncryption> {
    let pmk = match bytes_from_hex::<16>(pmk) {
        Ok(Some(pmk)) => pmk,
        Ok(None) => DEFAULT_PMK,
        Err(_) => panic!("NOWCAM_PMK must be exactly 32 hexadecimal digits (a 16-byte key), or unset"),
    };
    match bytes_from_hex::<16>(lmk) {
        Ok(Some(lmk)) => Some(UnicastEncryption { pmk, lmk }),
        Ok(None) => None,
        Err(_) => panic!(
            "NOWCAM_LMK must be exactly 32 hexadecimal digits (a 16-byte key), or unset for no ESP-NOW encryption"
        ),
    }
}

/// The build's unicast encryption, read once for every binary.
pub const UNICAST_ENCRYPTION: Option<UnicastEncryption> =
    build_unicast_encryption(option_env!("NOWCAM_LMK"), option_env!("NOWCAM_PMK"));

const _: () = {
    assert!(matches!(bytes_from_hex::<2>(Some(" 0aFf\n")), Ok(Some([0x0a, 0xff]))));
    assert!(matches!(bytes_from_hex::<2>(Some("0aF")), Err(KeyTextError::WrongLength)));
    assert!(matches!(bytes_from_hex::<2>(Some("0aFg")), Err(KeyTextError::NotHex)));
    assert!(matches!(bytes_from_hex::<2>(None), Ok(None)));
};
