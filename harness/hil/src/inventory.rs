//! Board inventory files: which boards a hardware-in-the-loop run may use,
//! read into a private raw form and validated into typed values.
//!
//! ```toml
//! [[board]]
//! name = "rx1"
//! kind = "serial"          # or "virtual"
//! chip = "esp32c3"
//! role = "receiver"        # or "sender"
//! port = "/dev/ttyACM0"    # or serial_number = "..."; not for virtual boards
//! ```
//!
//! A bad file gets one error naming the file, the board and the field, e.g.
//! `boards.toml: board rx1: chip: expected one of esp32, esp32c3, esp32c6,
//! esp32s3, found "esp32c2"`.

use std::fmt;
use std::path::{Path, PathBuf};

use nowcam_chips::Chip;
use serde::Deserialize;

/// What a board does in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoardRole {
    Sender,
    Receiver,
}

impl BoardRole {
    pub fn name(self) -> &'static str {
        match self {
            BoardRole::Sender => "sender",
            BoardRole::Receiver => "receiver",
        }
    }
}

impl fmt::Display for BoardRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the harness reaches a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoardKind {
    /// A real board on a serial port (USB-Serial-JTAG or a USB-UART bridge).
    Serial(PortSpec),
    /// A host process running the board's node and test console on a pseudo-terminal.
    Virtual,
}

/// Which serial port a real board is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// A device path such as `/dev/ttyACM0`.
    Path(PathBuf),
    /// The USB serial number, found among the ports present at run time.
    SerialNumber(String),
}

/// One validated board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub kind: BoardKind,
    pub chip: Chip,
    pub role: BoardRole,
}

/// A validated inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    pub path: PathBuf,
    pub boards: Vec<Board>,
}

/// Why an inventory file was refused.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("{path}: cannot read: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Syntax { path: String, message: String },
    #[error("{path}: {field}: expected {expected}, found {found}")]
    File { path: String, field: String, expected: String, found: String },
    #[error("{path}: board {board}: {field}: expected {expected}, found {found}")]
    Board { path: String, board: String, field: String, expected: String, found: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInventory {
    #[serde(default)]
    board: Vec<RawBoard>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoard {
    name: Option<String>,
    kind: Option<String>,
    chip: Option<String>,
    role: Option<String>,
    port: Option<String>,
    serial_number: Option<String>,
}

const KINDS: [&str; 2] = ["serial", "virtual"];
const ROLES: [&str; 2] = ["sender", "receiver"];

fn chip_names() -> String {
    Chip::ALL.iter().map(|chip| chip.name()).collect::<Vec<_>>().join(", ")
}

fn found(value: &Option<String>) -> String {
    value.as_ref().map_or_else(|| "nothing".to_owned(), |v| format!("{v:?}"))
}

impl Inventory {
    /// Reads and validates an inventory file.
    pub fn load(path: &Path) -> Result<Inventory, InventoryError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| InventoryError::Read { path: path.display().to_string(), source })?;
        Inventory::parse(path, &text)
    }

    /// Validates the text of an inventory file; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Inventory, InventoryError> {
        let shown = path.display().to_string();
        let raw: RawInventory = toml::from_str(text)
            .map_err(|error| InventoryError::Syntax { path: shown.clone(), message: error.message().to_owned() })?;
        if raw.board.is_empty() {
            return Err(InventoryError::File {
                path: shown,
                field: "board".into(),
                expected: "at least one [[board]] table".into(),
                found: "none".into(),
            });
        }
        let mut boards: Vec<Board> = Vec::with_capacity(raw.board.len());
        for (index, raw_board) in raw.board.into_iter().enumerate() {
            let board = validate(&shown, index, raw_board)?;
            if boards.iter().any(|other| other.name == board.name) {
                return Err(InventoryError::Board {
                    path: shown,
                    board: board.name.clone(),
                    field: "name".into(),
                    expected: "a name no other board has".into(),
                    found: format!("{:?} twice", board.name),
                });
            }
            boards.push(board);
        }
        Ok(Inventory { path: path.to_owned(), boards })
    }

    /// The boards of one role, in file order.
    pub fn with_role(&self, role: BoardRole) -> impl Iterator<Item = &Board> + '_ {
        self.boards.iter().filter(move |board| board.role == role)
    }
}

fn validate(path: &str, index: usize, raw: RawBoard) -> Result<Board, InventoryError> {
    let name = match raw.name {
        Some(name) if !name.trim().is_empty() => name,
        other => {
            return Err(InventoryError::File {
                path: path.to_owned(),
                field: format!("board[{index}].name"),
                expected: "a non-empty name".into(),
                found: found(&other),
            })
        }
    };
    let invalid = |field: &str, expected: String, value: &Option<String>| InventoryError::Board {
        path: path.to_owned(),
        board: name.clone(),
        field: field.to_owned(),
        expected,
        found: found(value),
    };
    let chip = raw
        .chip
        .as_deref()
        .and_then(Chip::from_name)
        .ok_or_else(|| invalid("chip", format!("one of {}", chip_names()), &raw.chip))?;
    let role = match raw.role.as_deref() {
        Some("sender") => BoardRole::Sender,
        Some("receiver") => BoardRole::Receiver,
        _ => return Err(invalid("role", format!("one of {}", ROLES.join(", ")), &raw.role)),
    };
    let kind = match raw.kind.as_deref() {
        Some("serial") => match (raw.port, raw.serial_number) {
            (Some(port), None) if !port.trim().is_empty() => BoardKind::Serial(PortSpec::Path(port.into())),
            (None, Some(number)) if !number.trim().is_empty() => BoardKind::Serial(PortSpec::SerialNumber(number)),
            (Some(_), Some(_)) => {
                return Err(invalid("port", "either port or serial_number, not both".into(), &Some("both".into())))
            }
            (port, _) => return Err(invalid("port", "a device path or a serial_number".into(), &port)),
        },
        Some("virtual") => {
            if raw.port.is_some() || raw.serial_number.is_some() {
                let value = raw.port.or(raw.serial_number);
                return Err(invalid("port", "no port for a virtual board".into(), &value));
            }
            BoardKind::Virtual
        }
        _ => return Err(invalid("kind", format!("one of {}", KINDS.join(", ")), &raw.kind)),
    };
    if chip == Chip::Esp32 && role == BoardRole::Sender {
        return Err(invalid(
            "role",
            "receiver (the classic ESP32 has no nowcam sender build; an ESP32-CAM keeps the seed's sketch)".into(),
            &Some("sender".into()),
        ));
    }
    Ok(Board { name, kind, chip, role })
}
