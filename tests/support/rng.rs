//! One deterministic PRNG for every test: xorshift64* (Vigna), small and
//! the same sequence on every machine, with no dependency.

/// xorshift64*: enough randomness for generated data, timing and
/// workloads. Print the seed with any failure so the run can be repeated.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`; every seed works, 0 included (it is
    /// scrambled and made odd, since xorshift never leaves the state 0).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True in about `percent` of the calls out of 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items` (not empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// `n` random bytes (the high byte of each draw, the best mixed one).
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next_u64() >> 56) as u8).collect()
    }
}

/// A seed that differs from run to run (the clock's nanoseconds), for tests
/// that should try new cases each time; they print it with every failure.
pub fn time_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A [`time_seed`] and a generator started from it; the seed is printed
/// (the test harness shows it with a failure), so the run can be repeated.
pub fn seeded() -> (u64, Rng) {
    let seed = time_seed();
    println!("seed {seed}");
    (seed, Rng::new(seed))
}
