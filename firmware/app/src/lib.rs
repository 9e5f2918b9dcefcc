//! The sender and receiver node applications, generic over the ports (no_std, no IO)
#![no_std]
