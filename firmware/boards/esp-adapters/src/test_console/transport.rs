//! The console's bytes: in from the USB-Serial-JTAG port and UART0, out
//! through esp-println's writer.
//!
//! esp-println writes straight to the port's registers (the USB-Serial-JTAG
//! FIFO on the C3, C6 and S3 once a USB host has been seen, the ROM's UART0
//! routine otherwise; esp-println 0.18 `src/lib.rs`, `auto_printer`), under
//! its own lock. Console frames go out through the same writer, so println
//! text and frames land on whichever port esp-println picked and never
//! overwrite each other's bytes. A frame is written without an `await`, so
//! no other task's println can fall between its pieces; the pieces are
//! written one by one so interrupts are not held off for a whole frame.
//!
//! The input side listens on both ports: esp-hal's async USB-Serial-JTAG
//! receiver (C3, C6, S3) and UART0's async receiver. A board is wired to
//! one of them (a dev kit's USB-Serial-JTAG connector, or a USB-UART bridge
//! on UART0; Wokwi's serial monitor is UART0 by default), and the other
//! stays quiet.

#[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
use embassy_futures::select::{select, Either};
use esp_hal::uart::{self, UartRx};
use esp_hal::Async;

/// Bytes handed to esp-println at a time: one USB-Serial-JTAG packet.
const WRITE_PIECE: usize = 64;

/// Bytes read from a port at a time.
pub const READ_CHUNK: usize = 64;

#[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
type UsbRx = esp_hal::usb::usb_serial_jtag::UsbSerialJtagRx<'static, Async>;

/// Why a port could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportError {
    /// UART0 refused its configuration
    UartConfig,
}

impl core::fmt::Display for TransportError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            TransportError::UartConfig => "UART0 refused its configuration",
        })
    }
}

impl core::error::Error for TransportError {}

/// The console's input ports.
pub struct ConsoleInput {
    #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
    usb: UsbRx,
    uart: UartRx<'static, Async>,
    uart_errors: u32,
}

impl ConsoleInput {
    /// Opens the USB-Serial-JTAG receiver and UART0's receiver on `uart_rx_pin`
    /// (the chip's U0RXD pin: GPIO20 on the C3, GPIO17 on the C6, GPIO44 on the S3).
    ///
    /// The USB-Serial-JTAG transmitter half is dropped: esp-println writes
    /// that FIFO itself, and esp-hal's transmitter has no `Drop` that would
    /// touch the port.
    #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
    pub fn new(
        usb: esp_hal::peripherals::USB_DEVICE<'static>,
        uart0: esp_hal::peripherals::UART0<'static>,
        uart_rx_pin: impl esp_hal::gpio::interconnect::PeripheralInput<'static>,
    ) -> Result<Self, TransportError> {
        let (usb, _usb_tx) = esp_hal::usb::usb_serial_jtag::UsbSerialJtag::new(usb).into_async().split();
        let uart = open_uart(uart0, uart_rx_pin)?;
        Ok(ConsoleInput { usb, uart, uart_errors: 0 })
    }

    /// Opens UART0's receiver on `uart_rx_pin` (GPIO3 on the classic ESP32,
    /// which has no USB-Serial-JTAG port).
    #[cfg(not(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3")))]
    pub fn new(
        uart0: esp_hal::peripherals::UART0<'static>,
        uart_rx_pin: impl esp_hal::gpio::interconnect::PeripheralInput<'static>,
    ) -> Result<Self, TransportError> {
        let uart = open_uart(uart0, uart_rx_pin)?;
        Ok(ConsoleInput { uart, uart_errors: 0 })
    }

    /// Waits for bytes on either port and copies them into `buffer`; returns how many.
    ///
    /// A UART error (overrun, framing, parity: a floating pin or a lost
    /// byte) is counted and reads as no bytes; the framing's CRC-32 catches
    /// whatever it broke.
    pub async fn read(&mut self, buffer: &mut [u8; READ_CHUNK]) -> usize {
        #[cfg(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3"))]
        {
            let mut uart_buffer = [0u8; READ_CHUNK];
            let usb_read = embedded_io_async::Read::read(&mut self.usb, buffer);
            match select(usb_read, self.uart.read_async(&mut uart_buffer)).await {
                // The USB-Serial-JTAG receiver never fails (esp-hal's error type is `Infallible`-like).
                Either::First(read) => read.unwrap_or(0),
                Either::Second(Ok(read)) => {
                    buffer[..read].copy_from_slice(&uart_buffer[..read]);
                    read
                }
                Either::Second(Err(_)) => {
                    self.uart_errors = self.uart_errors.wrapping_add(1);
                    0
                }
            }
        }
        #[cfg(not(any(feature = "esp32c3", feature = "esp32c6", feature = "esp32s3")))]
        {
            match self.uart.read_async(buffer).await {
                Ok(read) => read,
                Err(_) => {
                    self.uart_errors = self.uart_errors.wrapping_add(1);
                    0
                }
            }
        }
    }

    /// UART receive errors since boot.
    pub fn uart_errors(&self) -> u32 {
        self.uart_errors
    }
}

/// UART0's receiver at the ROM's 115200 baud, 8N1, so the ROM routine
/// esp-println uses for output keeps working on the same UART.
fn open_uart(
    uart0: esp_hal::peripherals::UART0<'static>,
    rx_pin: impl esp_hal::gpio::interconnect::PeripheralInput<'static>,
) -> Result<UartRx<'static, Async>, TransportError> {
    let config = uart::Config::default().with_baudrate(115_200);
    let rx = UartRx::new(uart0, config).map_err(|_| TransportError::UartConfig)?;
    Ok(rx.with_rx(rx_pin).into_async())
}

/// Writes bytes through esp-println, in pieces, without yielding.
pub fn write(bytes: &[u8]) {
    for piece in bytes.chunks(WRITE_PIECE) {
        esp_println::Printer::write_bytes(piece);
    }
}
