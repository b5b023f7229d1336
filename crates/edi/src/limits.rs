//! Bounds on what one input may demand, so a hostile or broken file costs a clear error instead
//! of unbounded memory.

/// Configurable limits. The defaults accept every real partner file seen in the field with a wide
/// margin while keeping one interchange's memory bounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest segment in bytes (an X12 BIN segment carrying a document counts in full).
    pub max_segment_len: usize,
    /// Most element separators in one segment.
    pub max_elements: usize,
    /// Most segments in one interchange.
    pub max_segments: usize,
    /// Largest interchange the streaming reader holds in memory at once; a larger one is an
    /// error, never an allocation.
    pub max_interchange_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_segment_len: 64 * 1024 * 1024,
            max_elements: 1024,
            max_segments: 50_000_000,
            max_interchange_len: 2 * 1024 * 1024 * 1024,
        }
    }
}
