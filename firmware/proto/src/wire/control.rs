//! Camera control: the esp32-camera `/control` variables, carried over ESP-NOW
//! from the receiver (which serves HTTP) to the camera.

macro_rules! control_variables {
    ($($variant:ident = $code:literal, $name:literal, $min:literal ..= $max:literal;)*) => {
        /// One esp32-camera `/control` variable, with the name its HTTP API uses.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[repr(u8)]
        pub enum ControlVariable {
            $($variant = $code,)*
        }

        impl ControlVariable {
            /// Every variable, in wire-code order.
            pub const ALL: &'static [ControlVariable] = &[$(ControlVariable::$variant,)*];

            /// The name the esp32-camera HTTP API uses (`/control?var=NAME&val=N`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(ControlVariable::$variant => $name,)*
                }
            }

            /// The inclusive range of values the esp32-camera driver accepts.
            pub const fn range(self) -> (i32, i32) {
                match self {
                    $(ControlVariable::$variant => ($min, $max),)*
                }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(ControlVariable::$variant),)*
                    _ => None,
                }
            }

            pub const fn from_code(code: u8) -> Option<Self> {
                match code {
                    $($code => Some(ControlVariable::$variant),)*
                    _ => None,
                }
            }

            pub const fn code(self) -> u8 {
                self as u8
            }

            pub const fn accepts(self, value: i32) -> bool {
                let (min, max) = self.range();
                value >= min && value <= max
            }
        }
    };
}

control_variables! {
    FrameSize = 0, "framesize", 0 ..= 13;
    Quality = 1, "quality", 4 ..= 63;
    Brightness = 2, "brightness", -2 ..= 2;
    Contrast = 3, "contrast", -2 ..= 2;
    Saturation = 4, "saturation", -2 ..= 2;
    Sharpness = 5, "sharpness", -2 ..= 2;
    Denoise = 6, "denoise", 0 ..= 8;
    SpecialEffect = 7, "special_effect", 0 ..= 6;
    WhiteBalanceMode = 8, "wb_mode", 0 ..= 4;
    AutoWhiteBalance = 9, "awb", 0 ..= 1;
    AutoWhiteBalanceGain = 10, "awb_gain", 0 ..= 1;
    AutoExposure = 11, "aec", 0 ..= 1;
    AutoExposureDsp = 12, "aec2", 0 ..= 1;
    AutoExposureLevel = 13, "ae_level", -2 ..= 2;
    ExposureValue = 14, "aec_value", 0 ..= 1200;
    AutoGain = 15, "agc", 0 ..= 1;
    GainValue = 16, "agc_gain", 0 ..= 30;
    GainCeiling = 17, "gainceiling", 0 ..= 6;
    BlackPixelCorrection = 18, "bpc", 0 ..= 1;
    WhitePixelCorrection = 19, "wpc", 0 ..= 1;
    RawGamma = 20, "raw_gma", 0 ..= 1;
    LensCorrection = 21, "lenc", 0 ..= 1;
    HorizontalMirror = 22, "hmirror", 0 ..= 1;
    VerticalFlip = 23, "vflip", 0 ..= 1;
    Downsize = 24, "dcw", 0 ..= 1;
    ColorBar = 25, "colorbar", 0 ..= 1;
    LedIntensity = 26, "led_intensity", 0 ..= 255;
}

/// The OV2640 frame sizes, numbered as esp32-camera's `framesize_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u8)]
pub enum FrameSize {
    R96x96 = 0,
    Qqvga = 1,
    Qcif = 2,
    Hqvga = 3,
    R240x240 = 4,
    Qvga = 5,
    Cif = 6,
    Hvga = 7,
    Vga = 8,
    Svga = 9,
    Xga = 10,
    Hd = 11,
    Sxga = 12,
    Uxga = 13,
}

impl FrameSize {
    pub const ALL: [FrameSize; 14] = [
        FrameSize::R96x96,
        FrameSize::Qqvga,
        FrameSize::Qcif,
        FrameSize::Hqvga,
        FrameSize::R240x240,
        FrameSize::Qvga,
        FrameSize::Cif,
        FrameSize::Hvga,
        FrameSize::Vga,
        FrameSize::Svga,
        FrameSize::Xga,
        FrameSize::Hd,
        FrameSize::Sxga,
        FrameSize::Uxga,
    ];

    pub const fn from_code(code: i32) -> Option<Self> {
        if code < 0 || code >= Self::ALL.len() as i32 {
            return None;
        }
        Some(Self::ALL[code as usize])
    }

    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Width and height in pixels.
    pub const fn dimensions(self) -> (u16, u16) {
        match self {
            FrameSize::R96x96 => (96, 96),
            FrameSize::Qqvga => (160, 120),
            FrameSize::Qcif => (176, 144),
            FrameSize::Hqvga => (240, 176),
            FrameSize::R240x240 => (240, 240),
            FrameSize::Qvga => (320, 240),
            FrameSize::Cif => (400, 296),
            FrameSize::Hvga => (480, 320),
            FrameSize::Vga => (640, 480),
            FrameSize::Svga => (800, 600),
            FrameSize::Xga => (1024, 768),
            FrameSize::Hd => (1280, 720),
            FrameSize::Sxga => (1280, 1024),
            FrameSize::Uxga => (1600, 1200),
        }
    }

    /// The upper-case name esp32-camera uses (`FRAMESIZE_VGA` without the prefix).
    pub const fn name(self) -> &'static str {
        match self {
            FrameSize::R96x96 => "96X96",
            FrameSize::Qqvga => "QQVGA",
            FrameSize::Qcif => "QCIF",
            FrameSize::Hqvga => "HQVGA",
            FrameSize::R240x240 => "240X240",
            FrameSize::Qvga => "QVGA",
            FrameSize::Cif => "CIF",
            FrameSize::Hvga => "HVGA",
            FrameSize::Vga => "VGA",
            FrameSize::Svga => "SVGA",
            FrameSize::Xga => "XGA",
            FrameSize::Hd => "HD",
            FrameSize::Sxga => "SXGA",
            FrameSize::Uxga => "UXGA",
        }
    }
}
