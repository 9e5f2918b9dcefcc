//! The test console over the chip's USB serial/JTAG port.

use esp_hal::usb::usb_serial_jtag::UsbSerialJtag;
use esp_hal::Blocking;
use nowcam_ports::Console;

/// The console port: never blocks, so a host that is not reading only loses output.
pub struct UsbConsole {
    port: UsbSerialJtag<'static, Blocking>,
}

impl UsbConsole {
    pub fn new(device: esp_hal::peripherals::USB_DEVICE<'static>) -> Self {
        UsbConsole { port: UsbSerialJtag::new(device) }
    }
}

impl Console for UsbConsole {
    fn write(&mut self, data: &[u8]) -> usize {
        let mut written = 0;
        for &byte in data {
            if self.port.write_byte_nb(byte).is_err() {
                break;
            }
            written += 1;
        }
        // Pushes out a partly filled endpoint buffer; a full one goes by itself.
        let _ = self.port.flush_tx_nb();
        written
    }

    fn read(&mut self, buffer: &mut [u8]) -> usize {
        let mut read = 0;
        while read < buffer.len() {
            match self.port.read_byte() {
                Ok(byte) => {
                    buffer[read] = byte;
                    read += 1;
                }
                Err(_) => break,
            }
        }
        read
    }
}
