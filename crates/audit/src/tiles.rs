//! The log's Merkle tree, stored as C2SP tlog-tiles hash tiles (<https://c2sp.org/tlog-tiles>).
//!
//! The tree is RFC 6962's over the records' exact lines. A level-0 tile holds 256 records'
//! leaf hashes; a level-L tile holds the roots of 256 full level-(L-1) tiles. A full tile never
//! changes once written; the right edge of each level is a partial tile (`.p/W`), rewritten
//! wider as the log grows, and the narrower one removed, so a log keeps at most one partial
//! tile per level. The records themselves stay in the segments, where the appender wrote
//! them once: tiles are derived from them, by the publisher, off the append path, and they
//! let `verify` name the record whose hash is not the one a checkpoint vouched for.
//!
//! Hashing, tile geometry and proofs are the `tlog_tiles` crate's (a port of Go's
//! sumdb/tlog); this module keeps the right edge of the tree in memory, and reads and writes
//! tile files.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tlog_tiles::{Tile, TileReader};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// Tile height: C2SP tlog-tiles fixes it at 8, so a full tile holds 256 hashes.
const HEIGHT: u8 = 8;
const WIDTH: usize = 1 << HEIGHT;
const HASH: usize = 32;

/// The hash of a record as a leaf: SHA-256(0x00 || record).
pub fn leaf_hash(record: &[u8]) -> Hash {
    tlog_tiles::record_hash(record).0
}

/// The root of the tree with no leaves: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    tlog_tiles::EMPTY_HASH.0
}

/// `x >> bits`, 0 once every bit is shifted out (a tree's top levels).
fn shr(x: u64, bits: u32) -> u64 {
    x.checked_shr(bits).unwrap_or(0)
}

/// The tile levels a tree can have: 64 bits of size, 8 a level.
const LEVELS: u32 = 64 / HEIGHT as u32;

/// A tile's path inside a log directory, as C2SP tlog-tiles names it: `tile/L/N[.p/W]`, N in
/// three-digit groups (`x001/234`).
pub(crate) fn tile_name(level: u8, n: u64, width: usize) -> String {
    // tlog_tiles names tiles as Go's sumdb does, with the height after `tile/`; C2SP
    // tlog-tiles fixes the height at 8 and leaves it out. `width` is 1..=256 at every caller.
    Tile::new(HEIGHT, level, n, width as u32, false)
        .path()
        .replacen("tile/8/", "tile/", 1)
}

/// The first `width` hashes of tile `n` at `level`: from the full tile, else from the widest
/// partial one. `None` when no file holds that many.
pub(crate) fn read_tile(
    dir: &Path,
    level: u8,
    n: u64,
    width: usize,
) -> io::Result<Option<Vec<u8>>> {
    let full = tile_name(level, n, WIDTH);
    let mut candidates = vec![(WIDTH, dir.join(&full))];
    if width < WIDTH {
        let partials = dir.join(format!("{full}.p"));
        match fs::read_dir(&partials) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let name = e.file_name();
                    if let Some(w) = name.to_str().and_then(|n| n.parse::<usize>().ok()) {
                        if (width..WIDTH).contains(&w) {
                            candidates.push((w, e.path()));
                        }
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // Widest first: it holds the most, and any width holds the same prefix.
        candidates[1..].sort_by_key(|c| std::cmp::Reverse(c.0));
    }
    for (w, path) in candidates {
        match fs::read(&path) {
            Ok(mut data) if data.len() == w * HASH => {
                data.truncate(width * HASH);
                return Ok(Some(data));
            }
            Ok(data) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{} is {} bytes, not the {} of {w} hashes",
                        path.display(),
                        data.len(),
                        w * HASH
                    ),
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Writes a tile by rename, so a reader never sees half of one. Not synced: tiles are derived
/// from the records, and the checkpoint that covers them is written and synced after them.
pub(crate) fn write_tile(dir: &Path, level: u8, n: u64, hashes: &[u8]) -> io::Result<PathBuf> {
    let path = dir.join(tile_name(level, n, hashes.len() / HASH));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, hashes)?;
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The right edge of the tree: at each tile level, the hashes of its partial tile. Enough to
/// extend the tree, write its tiles and compute its root, in O(log n) memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Edge {
    size: u64,
    /// `levels[L]` holds `(size >> 8L) % 256` hashes, concatenated.
    levels: Vec<Vec<u8>>,
}

/// A tile the edge moved past or holds: its level, its index in that level, its hashes.
pub(crate) type TileRef<'a> = (u8, u64, &'a [u8]);

impl Edge {
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf; `full` is called with every tile this completes, lowest level first.
    pub(crate) fn push<E>(
        &mut self,
        leaf: &Hash,
        mut full: impl FnMut(TileRef<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let index = self.size;
        let mut hash = *leaf;
        for level in 0..LEVELS {
            if self.levels.len() == level as usize {
                self.levels.push(Vec::with_capacity(WIDTH * HASH));
            }
            let tile = &mut self.levels[level as usize];
            tile.extend_from_slice(&hash);
            if tile.len() < WIDTH * HASH {
                break;
            }
            hash = Tile::subtree_hash(tile).0;
            full((
                level as u8,
                shr(index, u32::from(HEIGHT) * (level + 1)),
                tile,
            ))?;
            tile.clear();
        }
        self.size += 1;
        Ok(())
    }

    /// The partial tiles, lowest level first.
    pub(crate) fn partials(&self) -> impl Iterator<Item = TileRef<'_>> {
        self.levels
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.is_empty())
            .map(|(level, t)| {
                let n = shr(self.size, u32::from(HEIGHT) * (level as u32 + 1));
                (level as u8, n, t.as_slice())
            })
    }

    /// The RFC 6962 root of the tree.
    pub(crate) fn root(&self) -> Hash {
        // The tree's complete subtrees, left to right, are one per set bit of its size,
        // largest first; those of 2^(8L+k) leaves are 2^k consecutive hashes of the level-L
        // partial tile.
        let mut subtrees = Vec::new();
        for tile in self.levels.iter().rev() {
            let count = tile.len() / HASH;
            let mut at = 0;
            for k in (0..HEIGHT).rev() {
                let n = 1usize << k;
                if count & n != 0 {
                    subtrees.push(Tile::subtree_hash(&tile[at * HASH..(at + n) * HASH]));
                    at += n;
                }
            }
        }
        let Some(mut root) = subtrees.pop() else {
            return empty_root();
        };
        while let Some(left) = subtrees.pop() {
            root = tlog_tiles::node_hash(left, root);
        }
        root.0
    }

    /// The edge of the tree of `size` leaves, from the tiles in `dir`. The caller checks its
    /// root against a checkpoint before trusting it.
    pub(crate) fn load(dir: &Path, size: u64) -> io::Result<Edge> {
        let mut levels = Vec::new();
        for level in 0..LEVELS {
            let at_level = shr(size, u32::from(HEIGHT) * level);
            if at_level == 0 {
                break;
            }
            let count = (at_level % WIDTH as u64) as usize;
            let n = at_level / WIDTH as u64;
            let hashes = if count == 0 {
                Vec::with_capacity(WIDTH * HASH)
            } else {
                read_tile(dir, level as u8, n, count)?.ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("tile {} is missing", tile_name(level as u8, n, count)),
                    )
                })?
            };
            levels.push(hashes);
        }
        Ok(Edge { size, levels })
    }
}

/// The tiles of a log directory, for `tlog_tiles`' proofs (which authenticate them against a
/// checkpoint's root as they read them).
pub(crate) struct TileFiles<'a> {
    pub(crate) dir: &'a Path,
}

impl TileReader for TileFiles<'_> {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(
                |t| match read_tile(self.dir, t.level(), t.level_index(), t.width() as usize) {
                    Ok(Some(data)) => Ok(data),
                    _ => Err(tlog_tiles::Error::InvalidTile),
                },
            )
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// Tiles computed in memory from the records, for a log written before tiles (format 1).
#[derive(Default)]
pub(crate) struct TileMemory {
    full: HashMap<(u8, u64), Vec<u8>>,
    edge: Edge,
}

impl TileMemory {
    pub(crate) fn push(&mut self, leaf: &Hash) {
        let full = &mut self.full;
        let pushed: Result<(), ()> = self.edge.push(leaf, |(level, n, hashes)| {
            full.insert((level, n), hashes.to_vec());
            Ok(())
        });
        // The closure never fails.
        let _ = pushed;
    }

    pub(crate) fn size(&self) -> u64 {
        self.edge.size()
    }
}

impl TileReader for TileMemory {
    fn height(&self) -> u8 {
        HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles
            .iter()
            .map(|t| {
                let key = (t.level(), t.level_index());
                let width = t.width() as usize * HASH;
                let data = match self.full.get(&key) {
                    Some(d) => Some(d.as_slice()),
                    None => self
                        .edge
                        .partials()
                        .find(|(l, n, _)| (*l, *n) == key)
                        .map(|(_, _, d)| d),
                };
                match data {
                    Some(d) if d.len() >= width => Ok(d[..width].to_vec()),
                    _ => Err(tlog_tiles::Error::InvalidTile),
                }
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962's root, straight from its definition.
    fn reference_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                let (l, r) = (reference_root(&leaves[..k]), reference_root(&leaves[k..]));
                tlog_tiles::node_hash(tlog_tiles::Hash(l), tlog_tiles::Hash(r)).0
            }
        }
    }

    #[test]
    fn the_edge_root_is_rfc_6962s_root_at_every_size_across_tile_boundaries() {
        let leaves: Vec<Hash> = (0..70_000u32)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect();
        let mut edge = Edge::default();
        for (i, leaf) in leaves.iter().enumerate() {
            let size = i as u64;
            if size < 600 || size.is_multiple_of(4099) || size == 65_536 || size == 65_535 {
                assert_eq!(edge.root(), reference_root(&leaves[..i]), "size {size}");
            }
            edge.push::<()>(leaf, |_| Ok(())).unwrap();
        }
        assert_eq!(edge.root(), reference_root(&leaves));
    }

    #[test]
    fn an_edge_loaded_from_written_tiles_is_the_edge_that_wrote_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut edge = Edge::default();
        for i in 0..66_000u32 {
            edge.push(&leaf_hash(&i.to_le_bytes()), |(l, n, h)| {
                write_tile(dir.path(), l, n, h).map(|_| ())
            })
            .unwrap();
            if [1, 255, 256, 257, 65_535, 65_536, 65_999].contains(&edge.size()) {
                for (l, n, h) in edge.partials() {
                    write_tile(dir.path(), l, n, h).unwrap();
                }
                assert_eq!(Edge::load(dir.path(), edge.size()).unwrap(), edge);
            }
        }
    }

    #[test]
    fn tiles_are_named_as_c2sp_tlog_tiles_says() {
        assert_eq!(tile_name(0, 1_234_067, 256), "tile/0/x001/x234/067");
        assert_eq!(tile_name(1, 5, 7), "tile/1/005.p/7");
    }
}
