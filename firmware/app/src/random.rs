//! The node's random numbers: the protocol crate's SplitMix64.

pub(crate) use nowcam_proto::random::SplitMix64;
