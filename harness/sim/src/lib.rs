//! Discrete-event simulator of nowcam nodes over the ESP-NOW link model, scenarios, captures and reports
