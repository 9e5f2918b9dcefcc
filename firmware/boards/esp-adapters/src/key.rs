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
    let Some(text) = text else { return Ok(None) };
    let hex = text.as_bytes().trim_ascii();
    if hex.len() != 2 * KEY_LEN {
        return Err(KeyTextError::WrongLength);
    }
    let mut bytes = [0u8; KEY_LEN];
    let mut index = 0;
    while index < KEY_LEN {
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
    Ok(Some(Key::new(bytes)))
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
