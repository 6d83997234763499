//! `cert.verify_cert(root)` and `cert.verify_cert_chain(root, intermediates)`: whether a PEM
//! certificate chains to a root, as `openssl verify -CAfile root [-untrusted ...]` says it,
//! for TLS server use, at the current time, without revocation checks.

use std::io::Read;
use std::time::SystemTime;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use webpki::{anchor_from_trusted_cert, EndEntityCert, KeyUsage, ALL_VERIFICATION_ALGS};

use super::{bytes_limit, io_error, too_large};
use crate::error::{HostError, HostResult};
use crate::fs::FileHandle;
use crate::Host;

impl Host {
    /// Verifies the first certificate of `cert` against the first of `root`, through the
    /// certificates of `intermediates` and any that follow the first in `cert` (a bundled
    /// chain). Needs `read` on every file. `Ok` when it verifies; a certificate that does not
    /// parse, or a chain that does not verify, is an error that says why.
    pub fn verify_cert_chain(
        &self,
        cert: &FileHandle,
        root: &FileHandle,
        intermediates: &[&FileHandle],
    ) -> HostResult<()> {
        let roots = self.read_certs(root)?;
        let leaf = self.read_certs(cert)?;
        let mut chain = Vec::new();
        for handle in intermediates {
            chain.extend(self.read_certs(handle)?);
        }
        let root_der = roots.first().ok_or_else(|| {
            HostError::InvalidInput(format!("{}: no certificate in the root file", root.path()))
        })?;
        let anchor = anchor_from_trusted_cert(root_der).map_err(|e| {
            HostError::InvalidInput(format!(
                "{}: not a usable root certificate: {e}",
                root.path()
            ))
        })?;
        let (leaf_der, bundled) = leaf.split_first().ok_or_else(|| {
            HostError::InvalidInput(format!("{}: no certificate in the file", cert.path()))
        })?;
        chain.extend(bundled.iter().cloned());
        let end_entity = EndEntityCert::try_from(leaf_der).map_err(|e| {
            HostError::InvalidInput(format!("{}: not a valid certificate: {e}", cert.path()))
        })?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|e| HostError::InvalidInput(format!("the clock is before 1970: {e}")))?;
        end_entity
            .verify_for_usage(
                ALL_VERIFICATION_ALGS,
                &[anchor],
                &chain,
                UnixTime::since_unix_epoch(now),
                KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| {
                HostError::InvalidInput(format!(
                    "{}: the certificate chain does not verify against {}: {e:?}",
                    cert.path(),
                    root.path()
                ))
            })?;
        Ok(())
    }

    /// The PEM certificates of a file, read within the string limit.
    fn read_certs(&self, handle: &FileHandle) -> HostResult<Vec<CertificateDer<'static>>> {
        let path = handle.path();
        let input = self.format_reader(handle)?;
        let max = self.limits.max_string_bytes;
        let mut pem = Vec::new();
        input
            .take(max as u64 + 1)
            .read_to_end(&mut pem)
            .map_err(|e| io_error("read", path, e))?;
        if pem.len() > max {
            return Err(too_large(
                format!("the certificates of {path}"),
                bytes_limit(&self.limits),
            ));
        }
        CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HostError::InvalidInput(format!("{path}: not PEM certificates: {e}")))
    }
}
