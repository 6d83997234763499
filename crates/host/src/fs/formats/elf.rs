//! `file.elf_info()`: what `file` says of an ELF binary or core dump — its class, its
//! interpreter, and for a core dump the executable and platform recorded in its auxiliary
//! vector.
//!
//! The file is read on demand, never whole (a core dump can be gigabytes): the headers, the
//! interpreter segment and the note segments only, each within the file, with at most the
//! string limit read in all.

use std::cell::Cell;
use std::ops::Range;

use object::elf::{FileHeader32, FileHeader64, NT_AUXV, PT_LOAD};
use object::read::elf::{FileHeader, ProgramHeader};
use object::read::ReadCache;
use object::{Endianness, ReadRef};

use super::{bytes_limit, too_large, At};
use crate::error::{HostError, HostResult};
use crate::fs::FileHandle;
use crate::Host;

/// Auxiliary vector keys (`<elf.h>`): the executable's path, and the platform string.
const AT_EXECFN: u64 = 31;
const AT_PLATFORM: u64 = 15;

/// What `elf_info` finds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfInfo {
    /// The executable's path as it was started (`AT_EXECFN`), for a core dump.
    pub execfn: Option<String>,
    /// The platform string (`AT_PLATFORM`, e.g. `x86_64`), for a core dump.
    pub platform: Option<String>,
    /// The program interpreter (`PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`).
    pub interpreter: Option<String>,
    pub is_64bit: bool,
}

impl Host {
    /// `file.elf_info()`: needs `read` on the file.
    pub fn elf_info(&self, handle: &FileHandle) -> HostResult<ElfInfo> {
        let path = handle.path();
        let file = self.format_reader(handle)?;
        let cache = ReadCache::new(file);
        let budget = Cell::new(self.limits.max_string_bytes as u64);
        let data = Capped {
            cache: &cache,
            budget: &budget,
        };
        let not_elf =
            |why: &str| HostError::InvalidInput(format!("{path} is not a valid ELF file: {why}"));
        let ident = data
            .read_bytes_at(0, 16)
            .map_err(|()| not_elf("too short"))?;
        let info = match ident.get(4) {
            Some(&object::elf::ELFCLASS64) => parse::<FileHeader64<Endianness>>(data),
            Some(&object::elf::ELFCLASS32) => parse::<FileHeader32<Endianness>>(data),
            _ => return Err(not_elf("no ELF header")),
        };
        self.interrupt.check()?;
        if budget.get() == 0 {
            return Err(too_large(
                format!("the ELF headers of {path}"),
                bytes_limit(&self.limits),
            ));
        }
        info.map_err(|e| not_elf(&e.to_string()))
    }
}

fn parse<'d, Elf>(data: Capped<'d>) -> object::Result<ElfInfo>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let segments = header.program_headers(endian, data)?;
    let mut interpreter = None;
    for segment in segments {
        if let Some(bytes) = segment.interpreter(endian, data)? {
            interpreter = Some(String::from_utf8_lossy(bytes).into_owned());
            break;
        }
    }
    let mut execfn = None;
    let mut platform = None;
    'notes: for segment in segments {
        let Some(mut notes) = segment.notes(endian, data)? else {
            continue;
        };
        while let Some(note) = notes.next()? {
            // The auxiliary vector a core dump records, in the kernel's "CORE" note.
            if note.n_type(endian) == NT_AUXV && note.name() == b"CORE" {
                let word = if header.is_type_64() { 8 } else { 4 };
                for entry in note.desc().chunks_exact(2 * word) {
                    let (key, value) = entry.split_at(word);
                    let key = read_word(key, endian);
                    let value = read_word(value, endian);
                    match key {
                        AT_EXECFN => execfn = string_at(value, segments, endian, data),
                        AT_PLATFORM => platform = string_at(value, segments, endian, data),
                        _ => {}
                    }
                }
                break 'notes;
            }
        }
    }
    Ok(ElfInfo {
        execfn,
        platform,
        interpreter,
        is_64bit: header.is_type_64(),
    })
}

fn read_word(bytes: &[u8], endian: Endianness) -> u64 {
    let mut b = [0u8; 8];
    match (endian, bytes.len()) {
        (Endianness::Little, n) => {
            b[..n].copy_from_slice(bytes);
            u64::from_le_bytes(b)
        }
        (Endianness::Big, n) => {
            b[8 - n..].copy_from_slice(bytes);
            u64::from_be_bytes(b)
        }
    }
}

/// The NUL-terminated UTF-8 string at virtual address `addr` of the dumped process, found
/// through the loadable segment that holds it in the file.
fn string_at<'d, P: ProgramHeader<Endian = Endianness>>(
    addr: u64,
    segments: &[P],
    endian: Endianness,
    data: Capped<'d>,
) -> Option<String> {
    let segment = segments.iter().find(|s| {
        let start: u64 = s.p_vaddr(endian).into();
        let size: u64 = s.p_filesz(endian).into();
        s.p_type(endian) == PT_LOAD && start <= addr && addr - start < size
    })?;
    let start: u64 = segment.p_vaddr(endian).into();
    let offset: u64 = segment.p_offset(endian).into();
    let size: u64 = segment.p_filesz(endian).into();
    let at = offset.checked_add(addr - start)?;
    let bytes = data
        .read_bytes_at_until(at..offset.checked_add(size)?, 0)
        .ok()?;
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

/// The file read on demand, refusing any read past `budget` bytes in all: an ELF file's
/// headers say how much to read, and they are attacker input.
#[derive(Clone, Copy)]
struct Capped<'d> {
    cache: &'d ReadCache<At>,
    budget: &'d Cell<u64>,
}

impl Capped<'_> {
    fn spend(&self, size: u64) -> Result<(), ()> {
        match self.budget.get().checked_sub(size) {
            Some(left) => {
                self.budget.set(left);
                Ok(())
            }
            None => {
                self.budget.set(0);
                Err(())
            }
        }
    }
}

impl<'d> ReadRef<'d> for Capped<'d> {
    fn len(self) -> Result<u64, ()> {
        self.cache.len()
    }

    fn read_bytes_at(self, offset: u64, size: u64) -> Result<&'d [u8], ()> {
        self.spend(size)?;
        self.cache.read_bytes_at(offset, size)
    }

    fn read_bytes_at_until(self, range: Range<u64>, delimiter: u8) -> Result<&'d [u8], ()> {
        // The cache reads at most 4 KiB looking for the delimiter.
        self.spend((range.end.saturating_sub(range.start)).min(4096))?;
        self.cache.read_bytes_at_until(range, delimiter)
    }
}
