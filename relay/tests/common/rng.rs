//! A tiny seeded generator (SplitMix64) so randomized tests replay exactly from a printed
//! seed, with no dependence on a crate's stream staying stable across versions.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seeds to run: `PAIRPROG_SEED=n` replays one, otherwise `count` seeds from 0.
pub fn seeds(count: u64) -> Vec<u64> {
    match std::env::var("PAIRPROG_SEED") {
        Ok(s) => vec![s.parse().expect("PAIRPROG_SEED is a number")],
        Err(_) => (0..count).collect(),
    }
}
