//! The Merkle tree over a log's entries, as RFC 9162 (Certificate Transparency 2.0)
//! §2.1 defines it: leaf hash SHA-256(0x00 ‖ entry), node hash SHA-256(0x01 ‖ left ‖
//! right), the left subtree holding the largest power of two below the size. Inclusion
//! and consistency proofs are made and checked exactly as §2.1.3 and §2.1.4 say.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The leaf hash of an entry's bytes (its line without the newline).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(entry);
    h.finalize().into()
}

/// The hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (for `n` > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The root hash of the tree over `leaves` (leaf hashes), `MTH(D[n])`.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let (left, right) = leaves.split_at(split(leaves.len()));
            node_hash(&root(left), &root(right))
        }
    }
}

/// The inclusion proof of leaf `index` in the tree over `leaves`, `PATH(m, D[n])`;
/// `None` when the index is outside the tree.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_into(leaves, index, &mut path);
    Some(path)
}

fn path_into(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len());
    let (left, right) = leaves.split_at(k);
    if m < k {
        path_into(left, m, out);
        out.push(root(right));
    } else {
        path_into(right, m - k, out);
        out.push(root(left));
    }
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    s == 0 && r == *root
}

/// The consistency proof between the tree over the first `old` leaves and the tree
/// over all `leaves`, `PROOF(m, D[n])`; `None` unless 0 < `old` ≤ n.
pub fn consistency_proof(leaves: &[Hash], old: usize) -> Option<Vec<Hash>> {
    if old == 0 || old > leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    subproof(leaves, old, true, &mut path);
    Some(path)
}

fn subproof(leaves: &[Hash], m: usize, whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(left, m, whole, out);
        out.push(root(right));
    } else {
        subproof(right, m - k, false, out);
        out.push(root(left));
    }
}

/// Checks a consistency proof between a tree of `old` leaves with root `old_root`
/// and one of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2). Equal sizes
/// need an empty proof and equal roots; the empty tree is consistent with every tree.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> bool {
    if old > new {
        return false;
    }
    if old == 0 {
        return path.is_empty() && *old_root == empty_root();
    }
    if old == new {
        return path.is_empty() && old_root == new_root;
    }
    let mut proof: Vec<Hash> = Vec::with_capacity(path.len() + 1);
    if old.is_power_of_two() {
        proof.push(*old_root);
    }
    proof.extend_from_slice(path);
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if s == 0 {
            return false;
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    fr == *old_root && sr == *new_root && s == 0
}

/// The right edge of a tree: the roots of its perfect subtrees, largest first (one
/// per set bit of the size). Enough to append leaves and compute the root without
/// the leaves themselves, so a writer resumes a log of any size from at most 64
/// hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Perfect subtree roots, left to right (sizes descending).
    peaks: Vec<Hash>,
}

impl Frontier {
    /// An empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// A frontier from its size and peaks; `None` unless there is one peak per set
    /// bit of the size.
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Frontier> {
        (size.count_ones() as usize == peaks.len()).then_some(Frontier { size, peaks })
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect subtree roots, largest first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Appends a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut hash = leaf;
        // Each trailing one bit of the old size is a peak of the same height as the
        // carry: merge them, as a binary counter carries.
        let mut size = self.size;
        while size & 1 == 1 {
            if let Some(left) = self.peaks.pop() {
                hash = node_hash(&left, &hash);
            }
            size >>= 1;
        }
        self.peaks.push(hash);
        self.size += 1;
    }

    /// The root hash.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect()
    }

    #[test]
    fn the_frontier_root_is_the_tree_root_at_every_size() {
        let all = leaves(70);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), root(&[]));
        for (i, leaf) in all.iter().enumerate() {
            frontier.push(*leaf);
            assert_eq!(frontier.root(), root(&all[..=i]), "size {}", i + 1);
            assert_eq!(frontier.peaks().len(), (i + 1).count_ones() as usize);
        }
    }

    #[test]
    fn rfc_6962_test_vector_roots() {
        // The leaves of Certificate Transparency's reference test vectors (the
        // inputs of RFC 6962's Go and C++ test suites), with their roots.
        let inputs: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let hashes: Vec<Hash> = inputs.iter().map(|i| leaf_hash(i)).collect();
        assert_eq!(
            crate::support::hex::hex(&root(&hashes[..1])),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            crate::support::hex::hex(&root(&hashes)),
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
        );
        assert_eq!(
            crate::support::hex::hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    proptest! {
        #[test]
        fn inclusion_proofs_verify_and_any_change_fails(n in 1usize..80, seed: usize, flip: usize) {
            let all = leaves(n);
            let index = seed % n;
            let r = root(&all);
            let path = inclusion_proof(&all, index).unwrap();
            prop_assert!(verify_inclusion(index as u64, n as u64, &all[index], &path, &r));
            // Another index or leaf, or any changed bit of the path, fails.
            let other = (index + 1) % n;
            if other != index {
                prop_assert!(!verify_inclusion(other as u64, n as u64, &all[index], &path, &r));
            }
            prop_assert!(!verify_inclusion(index as u64, n as u64, &leaf_hash(b"x"), &path, &r));
            if !path.is_empty() {
                let mut bad = path.clone();
                let at = flip % (bad.len() * 256);
                bad[at / 256][(at % 256) / 8] ^= 1 << (at % 8);
                prop_assert!(!verify_inclusion(index as u64, n as u64, &all[index], &bad, &r));
                prop_assert!(!verify_inclusion(index as u64, n as u64, &all[index], &path[1..], &r));
            }
        }

        #[test]
        fn consistency_proofs_verify_and_any_change_fails(n in 1usize..80, seed: usize, flip: usize) {
            let all = leaves(n);
            let old = 1 + seed % n;
            let (r1, r2) = (root(&all[..old]), root(&all));
            let path = consistency_proof(&all, old).unwrap();
            prop_assert!(verify_consistency(old as u64, n as u64, &r1, &r2, &path));
            prop_assert!(!verify_consistency(old as u64, n as u64, &r2, &r1, &path) || r1 == r2);
            if old < n {
                // A fork: the same size, another last leaf before `old`.
                let mut forked = all.clone();
                forked[old - 1] = leaf_hash(b"fork");
                let fr = root(&forked[..old]);
                prop_assert!(!verify_consistency(old as u64, n as u64, &fr, &r2, &path));
                let mut bad = path.clone();
                let at = flip % (bad.len() * 256);
                bad[at / 256][(at % 256) / 8] ^= 1 << (at % 8);
                prop_assert!(!verify_consistency(old as u64, n as u64, &r1, &r2, &bad));
            }
        }
    }
}
