//! The Merkle tree over audit records: RFC 6962 section 2.1 hashing (restated in RFC 9162
//! section 2.1), a compact tree that appends in O(log n) memory, and inclusion and
//! consistency proofs with their verifiers (RFC 9162 sections 2.1.3 and 2.1.4).
//!
//! Proofs are computed from the full list of leaf hashes, which the caller gets by rereading
//! the log; verification needs only the proof, the sizes and the roots, so a checkpoint holder
//! can check them without the log.

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Domain separation prefixes (RFC 6962 section 2.1): a leaf can never be passed off as an
/// interior node, or the other way round, because their preimages start differently.
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of a record as a leaf: SHA-256(0x00 || record).
pub fn leaf_hash(record: &[u8]) -> Hash {
    Sha256::new()
        .chain_update([LEAF_PREFIX])
        .chain_update(record)
        .finalize()
        .into()
}

/// The hash of an interior node: SHA-256(0x01 || left || right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([NODE_PREFIX])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// The root of the tree with no leaves: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// What can be wrong with a proof or with the sizes and indices it is asked about.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MerkleError {
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesOutOfOrder { old_size: u64, new_size: u64 },
    #[error("proof has {actual} hashes, but these sizes call for exactly {expected}")]
    ProofLength { expected: usize, actual: usize },
    #[error("the proof does not lead to the given root of the tree of {size} leaves")]
    RootMismatch { size: u64 },
    #[error("a compact tree of {size} leaves has {expected} frontier hashes, got {actual}")]
    FrontierLength {
        size: u64,
        expected: usize,
        actual: usize,
    },
}

/// An append-only Merkle tree that keeps only its frontier: the roots of the perfect
/// subtrees that make up the tree, largest (leftmost) first, one per set bit of `len`.
///
/// That is all RFC 6962's MTH needs, because MTH splits a tree at the largest power of two
/// below its size, so the left part is always a perfect subtree and the root is these
/// subtree roots folded from the right.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactTree {
    len: u64,
    /// Invariant: `frontier.len() == len.count_ones()`, and `frontier[i]` is the root of the
    /// perfect subtree for the i-th set bit of `len`, from the most significant.
    frontier: Vec<Hash>,
}

impl CompactTree {
    /// The tree with no leaves.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a tree saved with [`CompactTree::len`] and [`CompactTree::frontier`], so a
    /// writer can resume without rereading the log. The hashes cannot be checked here (that
    /// takes the leaves); only their number, which must match `len`.
    pub fn from_frontier(len: u64, frontier: Vec<Hash>) -> Result<Self, MerkleError> {
        // count_ones of a u64 is at most 64, so the cast is lossless.
        let expected = len.count_ones() as usize;
        if frontier.len() != expected {
            return Err(MerkleError::FrontierLength {
                size: len,
                expected,
                actual: frontier.len(),
            });
        }
        Ok(Self { len, frontier })
    }

    /// Appends a leaf hash (see [`leaf_hash`]).
    pub fn push(&mut self, leaf: Hash) {
        // Adding one to `len` carries through its trailing one bits: each carry merges the two
        // smallest subtrees, which are the last two frontier entries, into one twice as big.
        let merges = self.len.trailing_ones() as usize;
        // Cannot underflow: trailing_ones(len) <= count_ones(len) == frontier.len().
        let keep = self.frontier.len() - merges;
        let mut node = leaf;
        for left in self.frontier.drain(keep..).rev() {
            node = node_hash(&left, &node);
        }
        self.frontier.push(node);
        self.len += 1;
    }

    /// The number of leaves appended so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The roots of the perfect subtrees, largest first; save it with [`CompactTree::len`]
    /// and restore with [`CompactTree::from_frontier`].
    pub fn frontier(&self) -> &[Hash] {
        &self.frontier
    }

    /// The RFC 6962 Merkle Tree Hash of all leaves so far.
    pub fn root(&self) -> Hash {
        let mut subtrees = self.frontier.iter().rev();
        match subtrees.next() {
            None => empty_root(),
            Some(smallest) => subtrees.fold(*smallest, |right, left| node_hash(left, &right)),
        }
    }
}

impl Extend<Hash> for CompactTree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.push(leaf);
        }
    }
}

impl FromIterator<Hash> for CompactTree {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Self::new();
        tree.extend(leaves);
        tree
    }
}

/// MTH of a run of leaves, hashing each node once.
fn subtree_root(leaves: &[Hash]) -> Hash {
    leaves.iter().copied().collect::<CompactTree>().root()
}

/// RFC 6962's split point: the largest power of two smaller than `n`. Needs `n >= 2`.
fn split_point(n: usize) -> usize {
    // n - 1 >= 1, so ilog2 does not panic.
    1 << (n - 1).ilog2()
}

/// The number of leaves in a slice, as the u64 sizes of the API. usize is at most 64 bits on
/// every target Rust supports, so this is lossless.
fn size_of(leaves: &[Hash]) -> u64 {
    leaves.len() as u64
}

/// The audit path (RFC 6962 PATH, RFC 9162 section 2.1.3.1) for the leaf at `index` in the
/// tree made of `leaves`, ordered from the leaf's sibling up to the root's child.
///
/// O(n): the siblings on the path cover disjoint runs of leaves, each hashed once.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, MerkleError> {
    let out_of_range = MerkleError::IndexOutOfRange {
        index,
        size: size_of(leaves),
    };
    let index = usize::try_from(index).map_err(|_| out_of_range.clone())?;
    if index >= leaves.len() {
        return Err(out_of_range);
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Ok(proof)
}

/// PATH(m, D[n]); appends to `proof` so the recursion needs one allocation.
fn path(m: usize, leaves: &[Hash], proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m < k {
        path(m, left, proof);
        proof.push(subtree_root(right));
    } else {
        path(m - k, right, proof);
        proof.push(subtree_root(left));
    }
}

/// The proof (RFC 6962 PROOF, RFC 9162 section 2.1.4.1) that the tree of the first
/// `old_size` leaves is a prefix of the tree made of all `leaves`. Empty when `old_size` is
/// 0 or the whole tree, since those need no proof.
///
/// O(n): the hashes in the proof cover disjoint runs of leaves, each hashed once.
pub fn consistency_proof(leaves: &[Hash], old_size: u64) -> Result<Vec<Hash>, MerkleError> {
    let out_of_order = MerkleError::SizesOutOfOrder {
        old_size,
        new_size: size_of(leaves),
    };
    let m = usize::try_from(old_size).map_err(|_| out_of_order.clone())?;
    if m > leaves.len() {
        return Err(out_of_order);
    }
    let mut proof = Vec::new();
    if m > 0 {
        subproof(m, leaves, true, &mut proof);
    }
    Ok(proof)
}

/// SUBPROOF(m, D[n], b), with `0 < m <= n`; appends to `proof`.
fn subproof(m: usize, leaves: &[Hash], whole_old_tree: bool, proof: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        // The old tree's root is known to the verifier only when this subtree is the whole
        // old tree; otherwise it must be in the proof.
        if !whole_old_tree {
            proof.push(subtree_root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k);
    if m <= k {
        subproof(m, left, whole_old_tree, proof);
        proof.push(subtree_root(right));
    } else {
        subproof(m - k, right, false, proof);
        proof.push(subtree_root(left));
    }
}

/// Which side of the running hash the next proof hash goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// HASH(0x01 || proof hash || running hash).
    Left,
    /// HASH(0x01 || running hash || proof hash).
    Right,
}

/// The walk up the tree that RFC 9162's verifiers do with `fn` (the node's index at the
/// current level) and `sn` (the last node's index at that level): one step per proof hash.
/// It depends only on the sizes, so it both drives verification and tells how long a proof
/// must be; verification and the length check cannot disagree.
#[derive(Debug, Clone)]
struct Walk {
    node: u64,
    last: u64,
}

impl Iterator for Walk {
    type Item = Side;

    fn next(&mut self) -> Option<Side> {
        // "If sn is 0, then stop the iteration": a longer proof is rejected by the caller.
        if self.last == 0 {
            return None;
        }
        let side = if self.node & 1 == 1 || self.node == self.last {
            // A node with no right sibling (node == last, even) is carried up unchanged until
            // it becomes a right child or the root of its level.
            while self.node & 1 == 0 && self.node != 0 {
                self.node >>= 1;
                self.last >>= 1;
            }
            Side::Left
        } else {
            Side::Right
        };
        self.node >>= 1;
        self.last >>= 1;
        Some(side)
    }
}

/// Folds `proof` into `seed` along `walk`; the caller has checked the lengths match.
fn chain(seed: Hash, proof: &[Hash], walk: Walk) -> Hash {
    proof
        .iter()
        .zip(walk)
        .fold(seed, |acc, (p, side)| match side {
            Side::Left => node_hash(p, &acc),
            Side::Right => node_hash(&acc, p),
        })
}

fn check_length(expected: usize, proof: &[Hash]) -> Result<(), MerkleError> {
    if proof.len() == expected {
        Ok(())
    } else {
        Err(MerkleError::ProofLength {
            expected,
            actual: proof.len(),
        })
    }
}

fn check_root(computed: &Hash, given: &Hash, size: u64) -> Result<(), MerkleError> {
    if computed == given {
        Ok(())
    } else {
        Err(MerkleError::RootMismatch { size })
    }
}

/// Checks that `leaf` (a leaf hash) is at `index` in the tree of `size` leaves whose root is
/// `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), MerkleError> {
    if index >= size {
        return Err(MerkleError::IndexOutOfRange { index, size });
    }
    let walk = Walk {
        node: index,
        last: size - 1,
    };
    check_length(walk.clone().count(), proof)?;
    check_root(&chain(*leaf, proof, walk), root, size)
}

/// Checks that the tree of `old_size` leaves with root `old_root` is a prefix of the tree of
/// `new_size` leaves with root `new_root` (RFC 9162 section 2.1.4.2).
///
/// The RFC defines proofs for `0 < old_size < new_size`; the two edge cases need no proof
/// hashes: equal sizes need equal roots, and the empty tree is a prefix of every tree, given
/// `old_root` really is the empty tree's root.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), MerkleError> {
    if old_size > new_size {
        return Err(MerkleError::SizesOutOfOrder { old_size, new_size });
    }
    if old_size == new_size {
        check_length(0, proof)?;
        return check_root(old_root, new_root, new_size);
    }
    if old_size == 0 {
        check_length(0, proof)?;
        return check_root(&empty_root(), old_root, 0);
    }

    // Steps 3-4: start from the last old leaf and climb while it is a right child; those
    // levels are inside the largest perfect subtree the old and new trees share.
    let mut walk = Walk {
        node: old_size - 1,
        last: new_size - 1,
    };
    while walk.node & 1 == 1 {
        walk.node >>= 1;
        walk.last >>= 1;
    }
    // Step 2: when the old tree is itself a perfect subtree, that shared subtree's root is
    // the old root and the proof leaves it out; otherwise it is the proof's first hash.
    let seed_in_proof = !old_size.is_power_of_two();
    check_length(usize::from(seed_in_proof) + walk.clone().count(), proof)?;
    let (seed, rest) = match proof.split_first() {
        // The length check makes the proof non-empty whenever the seed is in it.
        Some((first, rest)) if seed_in_proof => (*first, rest),
        _ => (*old_root, proof),
    };

    // Step 6: the old root only takes in left siblings, since everything to the right of
    // the old tree is new; the new root takes in both.
    let mut old = seed;
    let mut new = seed;
    for (p, side) in rest.iter().zip(walk) {
        match side {
            Side::Left => {
                old = node_hash(p, &old);
                new = node_hash(p, &new);
            }
            Side::Right => new = node_hash(&new, p),
        }
    }
    check_root(&old, old_root, old_size)?;
    check_root(&new, new_root, new_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH exactly as RFC 6962 section 2.1 writes it, recursively and without sharing work:
    /// the independent reference everything else is compared against.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = naive_split(n);
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// The largest power of two below n, by counting up rather than by bit tricks.
    fn naive_split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// PATH(m, D[n]) as RFC 6962 section 2.1.1 writes it.
    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = naive_split(n);
        let (mut p, sibling) = if m < k {
            (naive_path(m, &leaves[..k]), naive_root(&leaves[k..]))
        } else {
            (naive_path(m - k, &leaves[k..]), naive_root(&leaves[..k]))
        };
        p.push(sibling);
        p
    }

    /// SUBPROOF(m, D[n], b) as RFC 6962 section 2.1.2 writes it.
    fn naive_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b {
                Vec::new()
            } else {
                vec![naive_root(leaves)]
            };
        }
        let k = naive_split(n);
        let (mut p, other) = if m <= k {
            (naive_subproof(m, &leaves[..k], b), naive_root(&leaves[k..]))
        } else {
            (
                naive_subproof(m - k, &leaves[k..], false),
                naive_root(&leaves[..k]),
            )
        };
        p.push(other);
        p
    }

    fn test_leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("record {i}").as_bytes()))
            .collect()
    }

    fn unhex(s: &str) -> Hash {
        let bytes: Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    }

    fn ceil_log2(n: u64) -> usize {
        if n <= 1 {
            0
        } else {
            (64 - (n - 1).leading_zeros()) as usize
        }
    }

    /// Flips one bit of one byte.
    fn tamper(h: &Hash) -> Hash {
        let mut h = *h;
        h[7] ^= 0x10;
        h
    }

    /// The leaves of the RFC 6962 test vectors published by Certificate Transparency
    /// (transparency-dev/merkle testonly), and the root for each size 1..=8.
    const REFERENCE_LEAVES: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    const REFERENCE_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn reference_leaves() -> Vec<Hash> {
        REFERENCE_LEAVES.iter().map(|r| leaf_hash(r)).collect()
    }

    #[test]
    fn empty_tree_root_is_sha256_of_the_empty_string() {
        let expected = unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(empty_root(), expected);
        assert_eq!(CompactTree::new().root(), expected);
    }

    #[test]
    fn roots_match_the_published_rfc6962_test_vectors() {
        let leaves = reference_leaves();
        for (n, expected) in REFERENCE_ROOTS.iter().enumerate() {
            let tree: CompactTree = leaves[..=n].iter().copied().collect();
            assert_eq!(tree.root(), unhex(expected), "size {}", n + 1);
            assert_eq!(naive_root(&leaves[..=n]), unhex(expected), "size {}", n + 1);
        }
    }

    #[test]
    fn proofs_match_the_published_rfc6962_test_vectors() {
        let leaves = reference_leaves();
        let inclusion: [(u64, &[&str]); 2] = [
            (
                0,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
        ];
        for (index, expected) in inclusion {
            let expected: Vec<Hash> = expected.iter().map(|h| unhex(h)).collect();
            assert_eq!(inclusion_proof(&leaves, index).unwrap(), expected);
        }
        let consistency: [(u64, usize, &[&str]); 3] = [
            (
                2,
                8,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, expected) in consistency {
            let expected: Vec<Hash> = expected.iter().map(|h| unhex(h)).collect();
            assert_eq!(consistency_proof(&leaves[..new], old).unwrap(), expected);
        }
    }

    #[test]
    fn leaf_and_node_hashes_are_domain_separated() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut concatenated = a.to_vec();
        concatenated.extend_from_slice(&b);
        // A leaf whose record is two hashes must not collide with the node over them.
        assert_ne!(leaf_hash(&concatenated), node_hash(&a, &b));
        assert_ne!(node_hash(&a, &b), node_hash(&b, &a));
    }

    #[test]
    fn compact_tree_root_equals_naive_mth_for_every_size_up_to_64() {
        let leaves = test_leaves(64);
        let mut tree = CompactTree::new();
        assert_eq!(tree.root(), naive_root(&[]));
        for n in 1..=64 {
            tree.push(leaves[n - 1]);
            assert_eq!(tree.len(), n as u64);
            assert_eq!(tree.frontier().len(), n.count_ones() as usize);
            assert_eq!(tree.root(), naive_root(&leaves[..n]), "size {n}");
        }
    }

    #[test]
    fn frontier_round_trip_resumes_the_same_tree() {
        let leaves = test_leaves(64);
        for split in 0..=64 {
            let before: CompactTree = leaves[..split].iter().copied().collect();
            let mut resumed =
                CompactTree::from_frontier(before.len(), before.frontier().to_vec()).unwrap();
            assert_eq!(resumed, before);
            resumed.extend(leaves[split..].iter().copied());
            assert_eq!(resumed.root(), naive_root(&leaves), "resumed at {split}");
        }
    }

    #[test]
    fn frontier_with_the_wrong_number_of_hashes_is_rejected() {
        let tree: CompactTree = test_leaves(5).into_iter().collect();
        let mut frontier = tree.frontier().to_vec();
        frontier.push([0; 32]);
        assert_eq!(
            CompactTree::from_frontier(5, frontier),
            Err(MerkleError::FrontierLength {
                size: 5,
                expected: 2,
                actual: 3
            })
        );
        assert!(CompactTree::from_frontier(0, vec![[0; 32]]).is_err());
        assert!(CompactTree::from_frontier(7, vec![[0; 32]; 2]).is_err());
    }

    #[test]
    fn inclusion_proofs_equal_rfc_path_and_verify_for_every_index_and_size_up_to_64() {
        let leaves = test_leaves(64);
        for n in 1..=64usize {
            let tree = &leaves[..n];
            let root = naive_root(tree);
            for m in 0..n {
                let proof = inclusion_proof(tree, m as u64).unwrap();
                assert_eq!(proof, naive_path(m, tree), "index {m} size {n}");
                assert!(proof.len() <= ceil_log2(n as u64), "index {m} size {n}");
                verify_inclusion(&tree[m], m as u64, n as u64, &proof, &root)
                    .unwrap_or_else(|e| panic!("index {m} size {n}: {e}"));
            }
        }
    }

    #[test]
    fn consistency_proofs_equal_rfc_proof_and_verify_for_every_pair_of_sizes_up_to_64() {
        let leaves = test_leaves(64);
        for n in 0..=64usize {
            let tree = &leaves[..n];
            let new_root = naive_root(tree);
            for m in 0..=n {
                let proof = consistency_proof(tree, m as u64).unwrap();
                let expected = if m == 0 || m == n {
                    Vec::new()
                } else {
                    naive_subproof(m, tree, true)
                };
                assert_eq!(proof, expected, "old {m} new {n}");
                // A consistency proof can need one hash more than an inclusion proof: the
                // root of the largest subtree the trees share (3 hashes for 3 -> 4).
                assert!(proof.len() <= ceil_log2(n as u64) + 1, "old {m} new {n}");
                let old_root = naive_root(&leaves[..m]);
                verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof)
                    .unwrap_or_else(|e| panic!("old {m} new {n}: {e}"));
            }
        }
    }

    #[test]
    fn inclusion_proof_for_an_index_past_the_end_is_an_error() {
        let leaves = test_leaves(5);
        assert_eq!(
            inclusion_proof(&leaves, 5),
            Err(MerkleError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert!(inclusion_proof(&[], 0).is_err());
        assert!(inclusion_proof(&leaves, u64::MAX).is_err());
    }

    #[test]
    fn consistency_proof_for_an_old_size_past_the_end_is_an_error() {
        let leaves = test_leaves(5);
        assert_eq!(
            consistency_proof(&leaves, 6),
            Err(MerkleError::SizesOutOfOrder {
                old_size: 6,
                new_size: 5
            })
        );
        assert!(consistency_proof(&leaves, u64::MAX).is_err());
    }

    #[test]
    fn tampered_inclusion_proofs_wrong_leaves_roots_indices_and_sizes_are_rejected() {
        let leaves = test_leaves(64);
        let roots: Vec<Hash> = (0..=64).map(|n| naive_root(&leaves[..n])).collect();
        for n in 1..=64usize {
            let tree = &leaves[..n];
            let root = roots[n];
            let size = n as u64;
            for m in 0..n {
                let index = m as u64;
                let leaf = &tree[m];
                let proof = inclusion_proof(tree, index).unwrap();
                let verify = |leaf: &Hash, index, size, proof: &[Hash], root: &Hash| {
                    verify_inclusion(leaf, index, size, proof, root)
                };

                assert_eq!(
                    verify(&tamper(leaf), index, size, &proof, &root),
                    Err(MerkleError::RootMismatch { size })
                );
                assert!(verify(leaf, index, size, &proof, &tamper(&root)).is_err());
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = tamper(&bad[i]);
                    assert!(verify(leaf, index, size, &bad, &root).is_err());
                }
                // A proof is bound to its position: claiming another index fails, and so
                // does presenting it for another tree (another size with that tree's root).
                for other in (0..size).filter(|&o| o != index) {
                    assert!(verify(leaf, other, size, &proof, &root).is_err());
                }
                for other in (index + 1..=64).filter(|&s| s != size) {
                    let other_root = &roots[other as usize];
                    assert!(verify(leaf, index, other, &proof, other_root).is_err());
                }
                let mut longer = proof.clone();
                longer.push(root);
                assert_eq!(
                    verify(leaf, index, size, &longer, &root),
                    Err(MerkleError::ProofLength {
                        expected: proof.len(),
                        actual: proof.len() + 1
                    })
                );
                if let Some((_, shorter)) = proof.split_last() {
                    assert!(matches!(
                        verify(leaf, index, size, shorter, &root),
                        Err(MerkleError::ProofLength { .. })
                    ));
                }
                assert_eq!(
                    verify(leaf, size, size, &proof, &root),
                    Err(MerkleError::IndexOutOfRange { index: size, size })
                );
            }
        }
    }

    #[test]
    fn tampered_consistency_proofs_wrong_roots_and_wrong_sizes_are_rejected() {
        let leaves = test_leaves(64);
        let roots: Vec<Hash> = (0..=64).map(|n| naive_root(&leaves[..n])).collect();
        for n in 1..=64usize {
            for m in 1..n {
                let (old, new) = (m as u64, n as u64);
                let proof = consistency_proof(&leaves[..n], old).unwrap();
                let (old_root, new_root) = (&roots[m], &roots[n]);

                // When the old tree is a perfect subtree its root seeds both computations,
                // so a wrong one shows up as a wrong new root.
                assert!(matches!(
                    verify_consistency(old, new, &tamper(old_root), new_root, &proof),
                    Err(MerkleError::RootMismatch { .. })
                ));
                assert_eq!(
                    verify_consistency(old, new, old_root, &tamper(new_root), &proof),
                    Err(MerkleError::RootMismatch { size: new })
                );
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = tamper(&bad[i]);
                    assert!(verify_consistency(old, new, old_root, new_root, &bad).is_err());
                }
                // The proof is bound to both sizes: it does not show consistency between
                // any other pair of trees, even given their true roots.
                for other in (1..=new).filter(|&s| s != old) {
                    let other_root = &roots[other as usize];
                    assert!(verify_consistency(other, new, other_root, new_root, &proof).is_err());
                }
                for other in (old..=64).filter(|&s| s != new) {
                    let other_root = &roots[other as usize];
                    assert!(verify_consistency(old, other, old_root, other_root, &proof).is_err());
                }
                let mut longer = proof.clone();
                longer.push(*new_root);
                assert!(matches!(
                    verify_consistency(old, new, old_root, new_root, &longer),
                    Err(MerkleError::ProofLength { .. })
                ));
                assert!(matches!(
                    verify_consistency(old, new, old_root, new_root, &proof[1..]),
                    Err(MerkleError::ProofLength { .. })
                ));
                assert!(matches!(
                    verify_consistency(old, new, old_root, new_root, &[]),
                    Err(MerkleError::ProofLength { .. })
                ));
                assert_eq!(
                    verify_consistency(new, old, new_root, old_root, &proof),
                    Err(MerkleError::SizesOutOfOrder {
                        old_size: new,
                        new_size: old
                    })
                );
            }
        }
    }

    #[test]
    fn consistency_with_equal_sizes_or_the_empty_tree_needs_matching_roots_and_no_proof() {
        let leaves = test_leaves(5);
        let root = naive_root(&leaves);
        let empty = empty_root();
        assert_eq!(verify_consistency(5, 5, &root, &root, &[]), Ok(()));
        assert_eq!(
            verify_consistency(5, 5, &tamper(&root), &root, &[]),
            Err(MerkleError::RootMismatch { size: 5 })
        );
        assert_eq!(
            verify_consistency(5, 5, &root, &root, &[root]),
            Err(MerkleError::ProofLength {
                expected: 0,
                actual: 1
            })
        );
        assert_eq!(verify_consistency(0, 5, &empty, &root, &[]), Ok(()));
        assert_eq!(verify_consistency(0, 0, &empty, &empty, &[]), Ok(()));
        assert_eq!(
            verify_consistency(0, 5, &root, &root, &[]),
            Err(MerkleError::RootMismatch { size: 0 })
        );
        assert!(verify_consistency(0, 5, &empty, &root, &[root]).is_err());
    }
}
