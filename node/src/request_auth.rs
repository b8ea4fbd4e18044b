//! Signed API requests: a profile of RFC 9421 (HTTP Message Signatures) with
//! the ed25519 keys members already hold.
//!
//! A client sends three headers:
//!
//! ```text
//! Content-Digest:  sha-256=:<base64 of SHA-256 of the body>:
//! Signature-Input: gemtrail=("@method" "@path" "@query" "content-digest");created=<unix s>;nonce="<hex>";keyid="<org>"
//! Signature:       gemtrail=:<base64 of the ed25519 signature>:
//! ```
//!
//! The signature covers the signature base of RFC 9421 §2.5 over those
//! components: the method, the path, the query (`?` when there is none),
//! the body's digest, and the parameters line. `keyid` names the member;
//! any of its current keys may sign. A node that requires signatures
//! refuses a request without them, signed by a non-member, outside
//! [`WINDOW_SECS`] of its clock, with a nonce it saw within that window, or
//! whose digest or signature does not check.

use base64::Engine as _;
use gemtrail_ledger::crypto::{PublicKey, SecretKey, Signature};
use gemtrail_ledger::ids::OrgId;

/// The signature's label in both headers.
pub const LABEL: &str = "gemtrail";

/// How far a request's `created` may be from the node's clock, either way.
pub const WINDOW_SECS: u64 = 300;

/// The covered components, as `Signature-Input` lists them.
const COMPONENTS: &str = r#"("@method" "@path" "@query" "content-digest")"#;

/// A request's parts that the signature covers.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// `GET`, `POST`...
    pub method: &'a str,
    /// The path, e.g. `/v1/status`.
    pub path: &'a str,
    /// The query without its `?`, if any.
    pub query: Option<&'a str>,
    /// The body (empty for a GET).
    pub body: &'a [u8],
}

/// `sha-256=:<base64>:` of `body` (RFC 9530).
pub fn content_digest(body: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, body);
    format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
    )
}

fn parameters(created: u64, nonce: &str, keyid: &OrgId) -> String {
    format!(r#"{COMPONENTS};created={created};nonce="{nonce}";keyid="{keyid}""#)
}

fn signature_base(parts: &RequestParts<'_>, digest: &str, parameters: &str) -> String {
    let query = parts
        .query
        .map_or_else(|| "?".to_owned(), |query| format!("?{query}"));
    format!(
        "\"@method\": {}\n\"@path\": {}\n\"@query\": {query}\n\"content-digest\": {digest}\n\"@signature-params\": {parameters}",
        parts.method.to_ascii_uppercase(),
        parts.path
    )
}

/// The three headers that sign `parts` as `org` with `key`, created at
/// `created` (Unix seconds) with a fresh random `nonce`.
pub fn sign(
    parts: &RequestParts<'_>,
    org: &OrgId,
    key: &SecretKey,
    created: u64,
    nonce: &str,
) -> [(&'static str, String); 3] {
    let digest = content_digest(parts.body);
    let parameters = parameters(created, nonce, org);
    let signature = key.sign(signature_base(parts, &digest, &parameters).as_bytes());
    let encoded = base64::engine::general_purpose::STANDARD.encode(signature.0);
    [
        ("content-digest", digest),
        ("signature-input", format!("{LABEL}={parameters}")),
        ("signature", format!("{LABEL}=:{encoded}:")),
    ]
}

/// What a signed request claims, read from its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// The member it is signed for.
    pub keyid: OrgId,
    /// When it was made (Unix seconds).
    pub created: u64,
    /// Its nonce.
    pub nonce: String,
    parameters: String,
    digest: String,
    signature: Signature,
}

/// Why a request's signature headers are refused before any key is looked at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClaimError {
    /// No `Signature-Input` or `Signature` header.
    #[error("the request is not signed: members sign each request (Signature-Input, Signature, Content-Digest; docs/api.md)")]
    Unsigned,
    /// The headers are there but do not parse as this profile.
    #[error("the request signature is malformed: {0}")]
    Malformed(String),
}

fn field<'a>(parameters: &'a str, name: &str) -> Option<&'a str> {
    parameters
        .split(';')
        .find_map(|item| item.strip_prefix(name)?.strip_prefix('='))
        .map(|value| value.trim_matches('"'))
}

/// Reads the claim from the three header values.
pub fn read_claim(
    input: Option<&str>,
    signature: Option<&str>,
    digest: Option<&str>,
) -> Result<Claim, ClaimError> {
    let (Some(input), Some(signature)) = (input, signature) else {
        return Err(ClaimError::Unsigned);
    };
    let malformed = |what: &str| ClaimError::Malformed(what.to_owned());
    let parameters = input
        .strip_prefix(LABEL)
        .and_then(|rest| rest.strip_prefix('='))
        .ok_or_else(|| malformed("Signature-Input has no gemtrail= signature"))?;
    if !parameters.starts_with(COMPONENTS) {
        return Err(malformed(
            "the signature must cover @method, @path, @query and content-digest",
        ));
    }
    let created = field(parameters, "created")
        .and_then(|value| value.parse().ok())
        .ok_or_else(|| malformed("no created time"))?;
    let nonce = field(parameters, "nonce")
        .filter(|nonce| (16..=64).contains(&nonce.len()))
        .ok_or_else(|| malformed("no nonce of 16 to 64 characters"))?;
    let keyid = field(parameters, "keyid")
        .and_then(|org| OrgId::parse(org).ok())
        .ok_or_else(|| malformed("no keyid naming a member"))?;
    let encoded = signature
        .strip_prefix(LABEL)
        .and_then(|rest| rest.strip_prefix("=:"))
        .and_then(|rest| rest.strip_suffix(':'))
        .ok_or_else(|| malformed("Signature has no gemtrail=:...: value"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes).ok())
        .ok_or_else(|| malformed("the signature is not 64 bytes of base64"))?;
    Ok(Claim {
        keyid,
        created,
        nonce: nonce.to_owned(),
        parameters: parameters.to_owned(),
        digest: digest
            .ok_or_else(|| malformed("no Content-Digest"))?
            .to_owned(),
        signature: Signature(bytes),
    })
}

impl Claim {
    /// Whether `created` is within the window around `now` (Unix seconds).
    pub fn is_fresh(&self, now: u64) -> bool {
        self.created.abs_diff(now) <= WINDOW_SECS
    }

    /// Whether the body matches the digest and one of `keys` signed these
    /// parts.
    pub fn verifies(&self, parts: &RequestParts<'_>, keys: &[PublicKey]) -> bool {
        if content_digest(parts.body) != self.digest {
            return false;
        }
        let base = signature_base(parts, &self.digest, &self.parameters);
        keys.iter()
            .any(|key| key.verify_uncached(base.as_bytes(), &self.signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(body: &[u8]) -> RequestParts<'_> {
        RequestParts {
            method: "POST",
            path: "/v1/transactions",
            query: Some("wait=true"),
            body,
        }
    }

    #[test]
    fn a_signed_request_verifies_and_any_change_breaks_it() {
        let key = SecretKey::from_seed(&[3; 32]);
        let org = OrgId::parse("miner").unwrap();
        let headers = sign(&parts(b"tx"), &org, &key, 1_000, "0123456789abcdef");
        let claim = read_claim(
            Some(&headers[1].1),
            Some(&headers[2].1),
            Some(&headers[0].1),
        )
        .unwrap();
        assert_eq!((claim.keyid.as_str(), claim.created), ("miner", 1_000));
        assert!(claim.verifies(&parts(b"tx"), &[key.public_key()]));
        assert!(!claim.verifies(&parts(b"tX"), &[key.public_key()]));
        let other = RequestParts {
            path: "/v1/transactions/batch",
            ..parts(b"tx")
        };
        assert!(!claim.verifies(&other, &[key.public_key()]));
        let stranger = SecretKey::from_seed(&[4; 32]).public_key();
        assert!(!claim.verifies(&parts(b"tx"), &[stranger]));
        assert!(claim.is_fresh(1_000 + WINDOW_SECS) && !claim.is_fresh(1_001 + WINDOW_SECS));
    }

    #[test]
    fn missing_or_malformed_headers_are_told_apart() {
        assert_eq!(read_claim(None, None, None), Err(ClaimError::Unsigned));
        let error = read_claim(Some("other=(\"@method\")"), Some("x"), Some("d")).unwrap_err();
        assert!(matches!(error, ClaimError::Malformed(_)), "{error}");
    }
}
