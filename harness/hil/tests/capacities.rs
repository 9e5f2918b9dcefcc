//! The board backend takes a board only when its ready message carries
//! the table's capacities for its chip and radio, the largest frame included.

use nowcam_chips::{Capacities, Chip};
use nowcam_console::{RadioKind, Role, PROTOCOL_VERSION, SERIAL_RADIO_FRAME_LEN};
use nowcam_hil::backend::capacities_mismatch;
use nowcam_hil::console::BoardInfo;
use nowcam_proto::MacAddress;

fn board(chip: Chip, radio: RadioKind, capacities: Capacities) -> BoardInfo {
    BoardInfo {
        protocol_version: PROTOCOL_VERSION,
        firmware_version: "0.1.0".to_owned(),
        chip,
        role: Role::Receiver,
        mac: MacAddress([0x02, 0, 0, 0, 0, 1]),
        channel: 1,
        radio,
        capacities,
    }
}

#[test]
fn current_builds_are_taken() {
    for chip in Chip::ALL {
        let table = chip.capacities();
        assert_eq!(table.max_frame_len, 1470, "{chip}: ESP-NOW v2 frames");
        assert_eq!(capacities_mismatch(&board(chip, RadioKind::EspNow, table)), None, "{chip}");
        let serial = Capacities { max_frame_len: SERIAL_RADIO_FRAME_LEN, ..table };
        assert_eq!(capacities_mismatch(&board(chip, RadioKind::Serial, serial)), None, "{chip}");
    }
}

#[test]
fn a_board_whose_largest_frame_differs_is_refused() {
    let table = nowcam_chips::ESP32C3;
    let v1 = Capacities { max_frame_len: 250, ..table };
    let (expected, found) = capacities_mismatch(&board(Chip::Esp32C3, RadioKind::EspNow, v1)).unwrap();
    assert!(expected.contains("max_frame_len: 1470"), "{expected}");
    assert!(found.contains("max_frame_len: 250") && found.ends_with("(flash the current firmware)"), "{found}");
    // A serial-radio build that claimed v2 frames could not carry them over the console.
    assert!(capacities_mismatch(&board(Chip::Esp32C3, RadioKind::Serial, table)).is_some());
    let deeper = Capacities { radio_receive_queue: 32, ..table };
    assert!(capacities_mismatch(&board(Chip::Esp32C3, RadioKind::EspNow, deeper)).is_some());
}
