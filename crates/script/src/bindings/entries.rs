//! Directory entries and metadata as Rex returns them (`DirEntry`, `Metadata`, `EntryType`):
//! what `ls` and a directory handle's `list_entries` give.

use super::objects::Kind;

/// The result object and enum types of this area (see `objects`).
pub(crate) const KINDS: &[Kind] = &[];
