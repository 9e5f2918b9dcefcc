//! The two stations of a link and the two directions between them.

use core::fmt;

/// One end of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Station {
    A,
    B,
}

impl fmt::Display for Station {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Station::A => "a",
            Station::B => "b",
        })
    }
}

/// Which way a frame travels. Each direction has its own loss state and its
/// own random stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    /// From station A to station B.
    AToB,
    /// From station B to station A.
    BToA,
}

impl Direction {
    /// Both directions, A to B first.
    pub const ALL: [Direction; 2] = [Direction::AToB, Direction::BToA];

    /// The direction answers (MAC ACKs) travel in.
    pub const fn reverse(self) -> Direction {
        match self {
            Direction::AToB => Direction::BToA,
            Direction::BToA => Direction::AToB,
        }
    }

    /// The station that sends in this direction.
    pub const fn sender(self) -> Station {
        match self {
            Direction::AToB => Station::A,
            Direction::BToA => Station::B,
        }
    }

    /// The station that receives in this direction.
    pub const fn receiver(self) -> Station {
        match self {
            Direction::AToB => Station::B,
            Direction::BToA => Station::A,
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Direction::AToB => 0,
            Direction::BToA => 1,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::AToB => "a->b",
            Direction::BToA => "b->a",
        })
    }
}
