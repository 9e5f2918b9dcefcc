//! The serial radio keeps esp-radio's queue discipline over the console.

use nowcam_console::{BoardMessage, DeliverError, ReportError, SerialRadio, Transmit};
use nowcam_ports::radio::{Radio, Received, SendError, SendHandle, SendReport, MAX_FRAME_LEN, V1_MAX_FRAME_LEN};
use nowcam_proto::MacAddress;

const OWN: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x01]);
const PEER: MacAddress = MacAddress([0x02, 0, 0, 0, 0, 0x02]);

/// The radio of a chip build: eight frames to send, ten received.
type ChipRadio = SerialRadio<8, 10>;

fn transmit(radio: &mut ChipRadio) -> Option<(u32, [u8; 6], Vec<u8>)> {
    radio.next_transmit().map(|transmit| (transmit.handle, transmit.destination, transmit.data.to_vec()))
}

#[test]
fn one_frame_is_on_the_air_until_its_report() {
    let mut radio = ChipRadio::new(OWN, 1);
    assert_eq!(radio.next_transmit(), None);
    assert_eq!(radio.send(PEER, b"first"), Ok(SendHandle(0)));
    assert_eq!(radio.send(MacAddress::BROADCAST, b"second"), Ok(SendHandle(1)));

    assert_eq!(transmit(&mut radio), Some((0, PEER.0, b"first".to_vec())));
    assert_eq!(radio.next_transmit(), None, "one in flight");
    assert_eq!(radio.in_flight(), Some(Transmit { handle: 0, destination: PEER.0, data: b"first" }));
    assert_eq!(radio.poll_send_report(), None);

    assert_eq!(radio.report(1, true), Err(ReportError::NotInFlight), "the second is not on the air");
    assert_eq!(radio.report(0, true), Ok(()));
    assert_eq!(radio.report(0, true), Err(ReportError::NotInFlight), "a report comes once");
    assert_eq!(radio.poll_send_report(), Some(SendReport { handle: SendHandle(0), acknowledged: true }));
    assert_eq!(radio.poll_send_report(), None);

    assert_eq!(transmit(&mut radio), Some((1, [0xFF; 6], b"second".to_vec())));
    assert_eq!(radio.report(1, false), Ok(()));
    assert_eq!(radio.poll_send_report(), Some(SendReport { handle: SendHandle(1), acknowledged: false }));
    assert_eq!(radio.next_transmit(), None);
    assert_eq!(radio.in_flight(), None);
    assert_eq!((radio.frames_sent(), radio.send_failed(), radio.send_refused()), (2, 1, 0));
}

#[test]
fn a_report_before_the_frame_went_out_is_refused() {
    let mut radio = ChipRadio::new(OWN, 1);
    radio.send(PEER, b"x").unwrap();
    assert_eq!(radio.report(0, true), Err(ReportError::NotInFlight));
    assert_eq!(transmit(&mut radio).map(|(handle, ..)| handle), Some(0));
}

#[test]
fn the_queue_holds_tx_frames_the_one_on_the_air_included() {
    let mut radio = ChipRadio::new(OWN, 1);
    for expected in 0..8 {
        assert_eq!(radio.send(PEER, &[expected as u8]), Ok(SendHandle(expected)));
    }
    assert_eq!(radio.send(PEER, b"ninth"), Err(SendError::QueueFull));
    assert!(radio.next_transmit().is_some());
    assert_eq!(radio.send(PEER, b"ninth"), Err(SendError::QueueFull), "the frame on the air still counts");
    assert_eq!(radio.send_refused(), 2);
    radio.report(0, true).unwrap();
    assert_eq!(radio.send(PEER, b"ninth"), Ok(SendHandle(8)));
    // A serial radio carries ESP-NOW v1 frames: 251 bytes and more are refused.
    let too_long = [0u8; V1_MAX_FRAME_LEN + 1];
    assert_eq!(radio.send(PEER, &too_long), Err(SendError::FrameTooLong));
    assert_eq!(radio.send(PEER, &too_long[..V1_MAX_FRAME_LEN]), Err(SendError::QueueFull));
}

#[test]
fn frames_go_out_in_order() {
    let mut radio = ChipRadio::new(OWN, 1);
    for index in 0..5u8 {
        radio.send(PEER, &[index; 3]).unwrap();
    }
    for index in 0..5u8 {
        let (handle, _, data) = transmit(&mut radio).unwrap();
        assert_eq!((handle, data), (u32::from(index), vec![index; 3]));
        radio.report(handle, true).unwrap();
    }
    let reports: Vec<_> = std::iter::from_fn(|| radio.poll_send_report()).map(|report| report.handle.0).collect();
    assert_eq!(reports, [0, 1, 2, 3, 4]);
}

#[test]
fn abandoning_reports_the_frame_on_the_air_lost() {
    let mut radio = ChipRadio::new(OWN, 1);
    radio.abandon_in_flight();
    assert_eq!(radio.poll_send_report(), None, "nothing on the air, nothing to report");
    radio.send(PEER, b"a").unwrap();
    radio.send(PEER, b"b").unwrap();
    radio.next_transmit().unwrap();
    radio.abandon_in_flight();
    assert_eq!(radio.poll_send_report(), Some(SendReport { handle: SendHandle(0), acknowledged: false }));
    assert_eq!(transmit(&mut radio).map(|(handle, ..)| handle), Some(1));
    assert_eq!(radio.send_failed(), 1);
}

#[test]
fn the_transmit_becomes_a_board_message() {
    let mut radio = ChipRadio::new(OWN, 1);
    radio.send(PEER, b"frame").unwrap();
    let message: BoardMessage = radio.next_transmit().unwrap().into();
    assert_eq!(message, BoardMessage::Transmit { handle: 0, destination: PEER.0, data: b"frame" });
}

#[test]
fn delivered_frames_are_received_in_order() {
    let mut radio = ChipRadio::new(OWN, 1);
    assert_eq!(radio.deliver(PEER.0, OWN.0, -61, b"one"), Ok(()));
    assert_eq!(radio.deliver(PEER.0, MacAddress::BROADCAST.0, -70, &[0xAB; V1_MAX_FRAME_LEN]), Ok(()));
    let mut buffer = [0u8; MAX_FRAME_LEN];
    assert_eq!(radio.receive(&mut buffer), Some(Received { source: PEER, destination: OWN, len: 3, rssi: Some(-61) }));
    assert_eq!(&buffer[..3], b"one");
    assert_eq!(
        radio.receive(&mut buffer),
        Some(Received { source: PEER, destination: MacAddress::BROADCAST, len: V1_MAX_FRAME_LEN, rssi: Some(-70) })
    );
    assert_eq!(buffer[..V1_MAX_FRAME_LEN], [0xAB; V1_MAX_FRAME_LEN]);
    assert_eq!(radio.receive(&mut buffer), None);
    assert_eq!((radio.frames_received(), radio.receive_dropped()), (2, 0));
}

#[test]
fn frames_past_the_receive_queue_are_dropped_and_counted() {
    let mut radio = ChipRadio::new(OWN, 1);
    for index in 0..10u8 {
        assert_eq!(radio.deliver(PEER.0, OWN.0, -50, &[index]), Ok(()));
    }
    assert_eq!(radio.deliver(PEER.0, OWN.0, -50, &[10]), Err(DeliverError::QueueFull));
    assert_eq!(radio.deliver(PEER.0, OWN.0, -50, &[11]), Err(DeliverError::QueueFull));
    assert_eq!(radio.deliver(PEER.0, OWN.0, -50, &[0; MAX_FRAME_LEN + 1]), Err(DeliverError::FrameTooLong));
    assert_eq!((radio.frames_received(), radio.receive_dropped()), (10, 3));

    let mut buffer = [0u8; MAX_FRAME_LEN];
    let kept: Vec<u8> = std::iter::from_fn(|| radio.receive(&mut buffer).map(|_| buffer[0])).collect();
    assert_eq!(kept, (0..10).collect::<Vec<u8>>(), "the oldest frames stay, newer ones are dropped");
    assert_eq!(radio.deliver(PEER.0, OWN.0, -50, &[12]), Ok(()), "room again once received");
}

#[test]
fn channel_moves_within_1_to_14() {
    let mut radio = ChipRadio::new(OWN, 6);
    assert_eq!((radio.address(), radio.channel()), (OWN, 6));
    for (channel, expect) in [(1, Ok(())), (14, Ok(())), (0, Err(SendError::Driver)), (15, Err(SendError::Driver))] {
        assert_eq!(radio.set_channel(channel), expect, "channel {channel}");
    }
    assert_eq!(radio.channel(), 14);
}

#[test]
fn error_messages_are_lower_case_without_a_period() {
    for message in [
        DeliverError::QueueFull.to_string(),
        DeliverError::FrameTooLong.to_string(),
        ReportError::NotInFlight.to_string(),
    ] {
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
