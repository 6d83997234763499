//! A redaction of a stream under way, chunk by chunk.

use super::*;

/// Writes what `out` holds to `output`, and empties it.
pub(super) fn write_out(out: &mut Vec<u8>, output: &mut impl Write) -> HostResult<()> {
    output
        .write_all(out)
        .map_err(|e| HostError::io("write", "<redacted copy>", e))?;
    out.clear();
    Ok(())
}

/// A redaction of a stream under way: what carries over from one chunk to the next.
#[derive(Default)]
pub(super) struct Stream {
    /// A private key block began in an earlier chunk and has not ended.
    pub(super) in_pem: bool,
    /// The same, in the undecoded bytes of a UTF-16 file.
    pub(super) raw_in_pem: bool,
    /// Where the undecoded bytes are redacted to, only to learn whether they hold a value.
    pub(super) raw_out: Vec<u8>,
}

impl Stream {
    /// Redacts `raw`, the next chunk of the file, into `out`, as `decoder` makes text of it.
    ///
    /// The bytes of a UTF-16 file are searched undecoded too: a value found there is
    /// single-byte text inside the file, which decoding would turn into CJK-looking characters
    /// that give the value back once encoded again; such a file is refused.
    pub(super) fn redact(
        &mut self,
        redactor: &Redactor,
        decoder: &mut Decoder,
        raw: &[u8],
        out: &mut Vec<u8>,
        counts: &mut Counts,
    ) -> HostResult<()> {
        if decoder.encoding() != Encoding::Utf8 {
            let mut found = Counts::new();
            self.raw_out.clear();
            redactor.redact_chunk(raw, &mut self.raw_in_pem, &mut self.raw_out, &mut found);
            if let Some(name) = found.keys().next() {
                return Err(encoding::undecodable(format!(
                    "it is UTF-16 but holds single-byte text as well, with a value to redact \
                     ({name}) in it"
                )));
            }
        }
        let text = decoder.text(raw)?;
        redactor.redact_chunk(text, &mut self.in_pem, out, counts);
        Ok(())
    }
}
