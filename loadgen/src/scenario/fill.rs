//! What rendering a template draws from: the [`Fill`] every renderer implements (the hot path's
//! mix, and [`OneFill`] for one item or request off it), and how a seeded item's id is written.

/// What rendering a template draws from. The defaults serve every caller but the hot path's
/// mix, which keeps its own sequence and keys.
pub trait Fill {
    /// A seeded item's number, from the key distribution.
    fn id(&mut self) -> u64;
    /// `n` distinct seeded item numbers.
    fn ids(&mut self, n: usize, out: &mut Vec<u64>);
    /// Writes the key of item `n` (generated items: `item-000042`).
    fn id_text(&self, out: &mut String, n: u64) {
        push_id(out, n);
    }
    /// Writes a fresh id.
    fn new_id(&mut self, out: &mut String);
    /// The payload text.
    fn payload(&self) -> &str;
    /// The next sequence number.
    fn seq(&mut self) -> u64;
    /// The random source of `{uuid}` and `{random_int}`.
    fn rng(&mut self) -> &mut fastrand::Rng;
    /// Writes `column` of this rendering's row of data file `file` (every field of one file
    /// in one request comes from the same row).
    fn field(&mut self, file: usize, column: &str, out: &mut String) {
        let _ = (file, column, out);
    }
    /// Writes the value of capture slot `slot` of the flow instance rendering (only a flow's
    /// steps capture).
    fn captured(&self, slot: usize, out: &mut String) {
        let _ = (slot, out);
    }
}

/// A [`Fill`] for rendering one item or request off the hot path: item `n`, and `{file.column}`
/// as `field` writes it (the caller owns the data files, so this module need not know them).
pub struct OneFill<'a> {
    /// The item `{id}` renders.
    pub n: u64,
    /// The payload.
    pub payload: &'a str,
    /// The random source.
    pub rng: fastrand::Rng,
    /// Writes column `.1` of data file `.0` for this rendering.
    pub field: &'a dyn Fn(usize, &str, &mut String),
}

impl Fill for OneFill<'_> {
    fn id(&mut self) -> u64 {
        self.n
    }
    fn ids(&mut self, n: usize, out: &mut Vec<u64>) {
        out.extend(self.n..self.n + n as u64);
    }
    fn new_id(&mut self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "new-{}", self.n);
    }
    fn payload(&self) -> &str {
        self.payload
    }
    fn seq(&mut self) -> u64 {
        self.n
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.rng
    }
    fn field(&mut self, file: usize, column: &str, out: &mut String) {
        (self.field)(file, column, out);
    }
}

/// The id of seeded item `n`: `item-000042`.
pub fn seeded_id(n: u64) -> String {
    format!("item-{n:06}")
}

/// Writes the id of seeded item `n` (generated items: `item-000042`).
pub fn push_id(out: &mut String, n: u64) {
    use std::fmt::Write;
    let _ = write!(out, "item-{n:06}");
}
