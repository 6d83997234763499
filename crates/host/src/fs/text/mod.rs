//! The streaming text readers behind cat, grep, tail, wc, sed and awk.
//!
//! Every function here receives a file that the gate already permitted and that the caller
//! already opened: nothing here resolves a path. Each reads the whole file from its start,
//! whatever the descriptor's offset, through a bounded buffer, so memory does not grow with the
//! file; it polls the run's interrupt before every read, and refuses a result with `TooLarge` as
//! soon as building it would cross the run's [`Limits`].
//!
//! Lines are split on `\n`. Results that are lists of lines (grep, tail, awk) and `cat`'s
//! numbered text drop the terminator and a `\r` just before it, as Rex does; `cat` and `sed`
//! otherwise keep the file's bytes, `\r` and final newline included. Bytes that are not UTF-8
//! become U+FFFD.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use grep_matcher::LineTerminator;
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{
    BinaryDetection, MmapChoice, Searcher, SearcherBuilder, Sink, SinkError, SinkMatch,
};
use memchr::{memchr, memrchr_iter};
use regex::Regex;

use crate::error::{HostError, HostResult};
use crate::{Interrupt, Limits};

mod awk;
mod cat;
mod grep;
mod lines;
mod results;
mod sed;
mod tail;
#[cfg(test)]
mod tests;
mod wc;

pub use awk::{
    awk_count_unique, awk_field, awk_filter, awk_filter_field, awk_filter_range, awk_split, awk_sum,
};
pub use cat::cat;
pub use grep::{grep, GrepOptions, GrepOutput};
pub(crate) use lines::Polled;
pub use sed::{sed, SedOptions};
pub use tail::{tail, TailLines};
pub use wc::{wc, WcCounts};

use grep::compile;
use lines::*;
use results::*;

/// Stands for the file in error messages: these functions receive a descriptor, not a path.
const FILE: &str = "<file>";

/// Read size for wc, cat and the line reader: large enough that a read system call costs
/// little next to the bytes it brings, small enough to stay in L2.
const CHUNK: usize = 256 << 10;

/// Read size when tail scans backwards: the last lines of a file are usually near its end.
const TAIL_CHUNK: usize = 64 << 10;

/// The limits and stop flag every reader obeys.
#[derive(Clone, Copy, Debug)]
pub struct TextCtx<'a> {
    pub limits: Limits,
    pub interrupt: &'a Interrupt,
}
