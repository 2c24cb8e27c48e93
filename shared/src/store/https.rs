//! The HTTPS client under the DynamoDB client: rustls (aws-lc) trusting only the roots DynamoDB's
//! endpoints chain to, compiled into the binary, so that a cold start reads no certificate files.
//!
//! The SDK's default client loads the machine's native roots when the DynamoDB client is built
//! (on Debian a bundle plus ~140 hashed files, on Amazon Linux the bundle twice): milliseconds of
//! every cold start, and a trust in ~150 authorities for a client that talks to one service.
//! AWS endpoints present Amazon Trust Services certificates, so those five roots are the default.
//! `AWS_CA_BUNDLE` (the variable the AWS CLI and SDKs read) replaces them with a PEM bundle of
//! the operator's choice: a partition with other authorities, or a TLS-inspecting proxy.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Why the roots named by `AWS_CA_BUNDLE` cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name} is invalid: {0}", name = CA_BUNDLE_VARIABLE)]
pub struct CaBundleError(String);

/// Amazon Root CA 1-4 and Starfield Services Root G2, the roots of Amazon Trust Services.
pub const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// The variable naming a PEM bundle to trust instead of Amazon Trust Services.
pub const CA_BUNDLE_VARIABLE: &str = "AWS_CA_BUNDLE";

/// The roots to trust: `AWS_CA_BUNDLE`'s file when set, else Amazon Trust Services.
pub fn trusted_roots(ca_bundle: Option<&str>) -> Result<Vec<u8>, CaBundleError> {
    let Some(path) = ca_bundle.map(str::trim).filter(|path| !path.is_empty()) else {
        return Ok(AMAZON_TRUST_SERVICES.to_vec());
    };
    let invalid = CaBundleError;
    let bundle = std::fs::read(path).map_err(|error| invalid(format!("unreadable: {error}")))?;
    let certificates = CertificateDer::pem_slice_iter(&bundle)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("not a PEM bundle: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid("holds no certificate".into()));
    }
    Ok(bundle)
}

/// An HTTPS (and plain HTTP, for DynamoDB Local) client trusting `roots` (PEM) only.
pub fn client(roots: Vec<u8>) -> SharedHttpClient {
    let context = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(roots))
        .build()
        .expect("a trust store without extra server names is a valid TLS context");
    Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(context)
        .build_https()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("valid PEM")
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_roots_of_mozillas_set() {
        let ours = certificates(AMAZON_TRUST_SERVICES);
        assert_eq!(ours.len(), 5);
        for root in &ours {
            assert!(
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.contains(root),
                "a compiled-in root is not byte for byte one of Mozilla's"
            );
        }
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 4",
            "Starfield Services Root",
        ] {
            assert!(
                ours.iter()
                    .any(|root| root.windows(name.len()).any(|w| w == name.as_bytes())),
                "{name} is missing"
            );
        }
    }

    #[test]
    fn without_a_bundle_amazon_trust_services_is_trusted() {
        assert_eq!(trusted_roots(None).unwrap(), AMAZON_TRUST_SERVICES);
        assert_eq!(trusted_roots(Some("  ")).unwrap(), AMAZON_TRUST_SERVICES);
    }

    #[test]
    fn a_bundle_replaces_the_roots_and_a_bad_one_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("tokengate-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.pem");
        let first_root = AMAZON_TRUST_SERVICES.split(|b| *b == b'#').nth(1).unwrap();
        std::fs::write(&good, first_root).unwrap();
        assert_eq!(trusted_roots(good.to_str()).unwrap(), first_root);

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "no certificates here\n").unwrap();
        for path in [empty, dir.join("missing.pem")] {
            let error = trusted_roots(path.to_str()).unwrap_err().to_string();
            assert!(error.contains(CA_BUNDLE_VARIABLE), "{error}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
