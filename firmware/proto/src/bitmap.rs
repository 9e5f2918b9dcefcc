//! A fixed-capacity bit set of chunk indices: one bit per chunk, no allocation.

/// A set of chunk indices below `32 × WORDS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkBitmap<const WORDS: usize> {
    words: [u32; WORDS],
}

impl<const WORDS: usize> Default for ChunkBitmap<WORDS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const WORDS: usize> ChunkBitmap<WORDS> {
    /// How many chunk indices the bitmap can hold.
    pub const CAPACITY: usize = WORDS * 32;

    pub const fn new() -> Self {
        Self { words: [0; WORDS] }
    }

    /// Sets bit `index` and returns whether it was clear; indices past the capacity are ignored.
    pub fn insert(&mut self, index: usize) -> bool {
        match self.words.get_mut(index / 32) {
            Some(word) => {
                let mask = 1 << (index % 32);
                let was_clear = *word & mask == 0;
                *word |= mask;
                was_clear
            }
            None => false,
        }
    }

    pub fn remove(&mut self, index: usize) {
        if let Some(word) = self.words.get_mut(index / 32) {
            *word &= !(1 << (index % 32));
        }
    }

    pub fn contains(&self, index: usize) -> bool {
        self.words.get(index / 32).is_some_and(|word| word & (1 << (index % 32)) != 0)
    }

    pub fn clear(&mut self) {
        self.words = [0; WORDS];
    }

    /// Sets every bit below `count`.
    pub fn fill(&mut self, count: usize) {
        self.clear();
        let count = count.min(Self::CAPACITY);
        for word in 0..count / 32 {
            self.words[word] = u32::MAX;
        }
        if count % 32 != 0 {
            self.words[count / 32] = (1u32 << (count % 32)) - 1;
        }
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }

    /// The lowest set index at or above `from`.
    pub fn next_set(&self, from: usize) -> Option<usize> {
        self.scan(from, |w| w)
    }

    /// The lowest clear index at or above `from` (may be past any image's chunk count).
    pub fn next_clear(&self, from: usize) -> Option<usize> {
        self.scan(from, |w| !w)
    }

    fn scan(&self, from: usize, view: impl Fn(u32) -> u32) -> Option<usize> {
        let mut word_index = from / 32;
        let mut word = view(*self.words.get(word_index)?) & (u32::MAX << (from % 32));
        loop {
            if word != 0 {
                return Some(word_index * 32 + word.trailing_zeros() as usize);
            }
            word_index += 1;
            word = view(*self.words.get(word_index)?);
        }
    }

    /// Keeps only the bits also set in `other`'s complement (`self \ other`).
    pub fn subtract(&mut self, other: &Self) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a &= !b;
        }
    }

    /// Adds every bit of `other`.
    pub fn union(&mut self, other: &Self) {
        for (a, b) in self.words.iter_mut().zip(other.words.iter()) {
            *a |= b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_and_scan() {
        let mut b = ChunkBitmap::<4>::new();
        assert!(b.insert(0));
        assert!(!b.insert(0));
        assert!(b.insert(33));
        assert!(b.insert(127));
        assert!(!b.insert(128), "past capacity is ignored");
        assert!(b.contains(33) && !b.contains(32));
        assert_eq!(b.next_set(1), Some(33));
        assert_eq!(b.next_set(34), Some(127));
        assert_eq!(b.next_clear(0), Some(1));
        assert_eq!(b.count(), 3);
        b.remove(33);
        assert_eq!(b.next_set(1), Some(127));
    }

    #[test]
    fn fill_sets_exactly_the_prefix() {
        let mut b = ChunkBitmap::<4>::new();
        b.fill(70);
        assert_eq!(b.count(), 70);
        assert_eq!(b.next_clear(0), Some(70));
        b.fill(128);
        assert_eq!(b.next_clear(0), None);
    }
}
