//! The hostile-injection flags of `nowcam transfer` (see `nowcam_sim::hostile`).

#[derive(clap::Args)]
pub(crate) struct HostileFlags {
    /// A hostile station sends, before a chunk, with probability P, a copy of it with an altered payload
    #[arg(long, value_name = "P")]
    forge_chunks: Option<f64>,
    /// A hostile station answers a status request first, with probability P, claiming every chunk received
    #[arg(long, value_name = "P")]
    forge_status: Option<f64>,
    /// N fake sender addresses send offers and chunks during the transfer
    #[arg(long, value_name = "N")]
    flood_senders: Option<i64>,
    /// A hostile station replays the frames of an earlier session
    #[arg(long)]
    replay_old: bool,
}

impl HostileFlags {
    /// Whether any flag asks for a hostile station.
    pub(crate) fn any(&self) -> bool {
        self.forge_chunks.is_some() || self.forge_status.is_some() || self.flood_senders.is_some() || self.replay_old
    }

    /// The flags as a scenario `[hostile]` table, so that they are validated like scenario files.
    pub(crate) fn to_toml(&self) -> String {
        if !self.any() {
            return String::new();
        }
        let mut out = String::from("[hostile]\n");
        for (key, value) in [("forge_chunks", self.forge_chunks), ("forge_status", self.forge_status)] {
            if let Some(value) = value {
                out.push_str(&format!("{key} = {value:?}\n"));
            }
        }
        if let Some(n) = self.flood_senders {
            out.push_str(&format!("flood_senders = {n}\n"));
        }
        if self.replay_old {
            out.push_str("replay_old = true\n");
        }
        out
    }
}
