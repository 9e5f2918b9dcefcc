//! Inventory files: what is accepted, and the error for each way to get one wrong.

use std::path::Path;

use nowcam_chips::Chip;
use nowcam_hil::inventory::{BoardKind, BoardRole, Inventory, PortSpec};

fn check_error(text: &str, expected: &str) {
    match Inventory::parse(Path::new("boards.toml"), text) {
        Ok(inventory) => panic!("expected the error {expected:?}, got {inventory:?}"),
        Err(error) => assert_eq!(error.to_string(), expected),
    }
}

#[test]
fn a_mixed_inventory_is_read_in_order() {
    let inventory = Inventory::parse(
        Path::new("boards.toml"),
        r#"
        [[board]]
        name = "rx1"
        kind = "serial"
        chip = "esp32c3"
        role = "receiver"
        port = "/dev/ttyACM0"

        [[board]]
        name = "cam1"
        kind = "serial"
        chip = "esp32s3"
        role = "sender"
        serial_number = "F4:12:FA:00:11:22"

        [[board]]
        name = "cam2"
        kind = "virtual"
        chip = "esp32c6"
        role = "sender"
        "#,
    )
    .unwrap();
    assert_eq!(inventory.boards.len(), 3);
    assert_eq!(inventory.boards[0].kind, BoardKind::Serial(PortSpec::Path("/dev/ttyACM0".into())));
    assert_eq!(inventory.boards[1].kind, BoardKind::Serial(PortSpec::SerialNumber("F4:12:FA:00:11:22".into())));
    assert_eq!(inventory.boards[1].chip, Chip::Esp32S3);
    assert_eq!(inventory.boards[2].kind, BoardKind::Virtual);
    let senders: Vec<&str> = inventory.with_role(BoardRole::Sender).map(|b| b.name.as_str()).collect();
    assert_eq!(senders, ["cam1", "cam2"]);
}

#[test]
fn every_mistake_names_the_file_the_board_and_the_field() {
    let board = |fields: &str| format!("[[board]]\nname = \"rx1\"\n{fields}\n");
    check_error("", "boards.toml: board: expected at least one [[board]] table, found none");
    check_error(
        "[[board]]\nkind = \"virtual\"\n",
        "boards.toml: board[0].name: expected a non-empty name, found nothing",
    );
    check_error(
        &board("kind = \"virtual\"\nchip = \"esp32c2\"\nrole = \"receiver\""),
        "boards.toml: board rx1: chip: expected one of esp32, esp32c3, esp32c6, esp32s3, found \"esp32c2\"",
    );
    check_error(
        &board("kind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"camera\""),
        "boards.toml: board rx1: role: expected one of sender, receiver, found \"camera\"",
    );
    check_error(
        &board("kind = \"usb\"\nchip = \"esp32c3\"\nrole = \"receiver\""),
        "boards.toml: board rx1: kind: expected one of serial, virtual, found \"usb\"",
    );
    check_error(
        &board("kind = \"serial\"\nchip = \"esp32c3\"\nrole = \"receiver\""),
        "boards.toml: board rx1: port: expected a device path or a serial_number, found nothing",
    );
    check_error(
        &board("kind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"receiver\"\nport = \"/dev/ttyACM0\""),
        "boards.toml: board rx1: port: expected no port for a virtual board, found \"/dev/ttyACM0\"",
    );
    check_error(
        &board("kind = \"virtual\"\nchip = \"esp32\"\nrole = \"sender\""),
        "boards.toml: board rx1: role: expected receiver (the classic ESP32 has no nowcam sender build; an ESP32-CAM keeps the seed's sketch), found \"sender\"",
    );
    let twice = format!(
        "{}{}",
        board("kind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"receiver\""),
        board("kind = \"virtual\"\nchip = \"esp32c3\"\nrole = \"sender\"")
    );
    check_error(&twice, "boards.toml: board rx1: name: expected a name no other board has, found \"rx1\" twice");
}

#[test]
fn unknown_keys_and_bad_syntax_are_refused_with_the_file_name() {
    let error = Inventory::parse(Path::new("boards.toml"), "[[board]]\nname = \"a\"\nbaud = 9600\n").unwrap_err();
    assert!(error.to_string().starts_with("boards.toml: unknown field `baud`"), "{error}");
    let error = Inventory::parse(Path::new("boards.toml"), "[[board]\n").unwrap_err();
    assert!(error.to_string().starts_with("boards.toml: "), "{error}");
}

#[test]
fn a_missing_file_is_a_read_error_naming_it() {
    let error = Inventory::load(Path::new("/nonexistent/boards.toml")).unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/boards.toml: cannot read:"), "{error}");
}
