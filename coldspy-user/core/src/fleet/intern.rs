//! A string table for the merge: each distinct module, package, site or
//! label value is stored once and named by a dense [`Sym`], so the aggregate
//! of a fleet grows with the number of distinct names, not with the number
//! of import rows read.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A string of an [`Interner`]: a dense index, `0..interner.len()`.
pub type Sym = u32;

/// The Fx hash (rustc's): a multiply-rotate over 8-byte words. Fast on the
/// short names a merge looks up per row; not resistant to chosen collisions,
/// which is fine for a fleet's own profiles.
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// A `HashMap` keyed with [`FxHasher`].
pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Distinct strings, each stored once.
#[derive(Default, Debug)]
pub struct Interner {
    /// Raw bytes → symbol (invalid UTF-8 maps to its lossy text's symbol).
    ids: FxHashMap<Box<[u8]>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The symbol of `s`, added when new.
    pub fn intern(&mut self, s: &str) -> Sym {
        self.intern_bytes(s.as_bytes())
    }

    /// The symbol of UTF-8 `bytes` (invalid sequences read as U+FFFD, and
    /// map to the same symbol as that text).
    pub fn intern_bytes(&mut self, bytes: &[u8]) -> Sym {
        if let Some(&sym) = self.ids.get(bytes) {
            return sym;
        }
        if let Ok(text) = std::str::from_utf8(bytes) {
            return self.push(text);
        }
        let text = String::from_utf8_lossy(bytes).into_owned();
        let sym = match self.ids.get(text.as_bytes()) {
            Some(&sym) => sym,
            None => self.push(&text),
        };
        self.ids.insert(bytes.into(), sym);
        sym
    }

    fn push(&mut self, text: &str) -> Sym {
        let sym = Sym::try_from(self.names.len()).expect("fewer than 4 billion distinct names");
        self.names.push(text.into());
        self.ids.insert(text.as_bytes().into(), sym);
        sym
    }

    /// The text of a symbol.
    pub fn name(&self, sym: Sym) -> &str {
        &self.names[sym as usize]
    }

    /// Distinct strings held.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether it holds no string.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_string_is_stored_once() {
        let mut strings = Interner::default();
        let a = strings.intern("boto3");
        let b = strings.intern("json");
        assert_eq!(strings.intern("boto3"), a);
        assert_eq!(strings.intern_bytes(b"json"), b);
        assert_ne!(a, b);
        assert_eq!(
            (strings.name(a), strings.name(b), strings.len()),
            ("boto3", "json", 2)
        );
        // Invalid UTF-8 is its lossy text, one symbol for both spellings.
        let bad = strings.intern_bytes(b"caf\xff");
        assert_eq!(strings.name(bad), "caf\u{fffd}");
        assert_eq!(strings.intern("caf\u{fffd}"), bad);
        assert_eq!(strings.len(), 3);
    }
}
