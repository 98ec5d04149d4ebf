//! Webhook request signatures, computed exactly as the provider computes them.
//!
//! The provider signs `URL + sorted(name + value)` with HMAC-SHA1 keyed by the account's
//! auth token (`X-Twilio-Signature`), or, when the request carries
//! `X-Twilio-Webhooks-Signature-Settings: ...algorithm=HMAC_SHA256`, with HMAC-SHA256 keyed
//! by a shared key. The URL is always rebuilt from the configured public base URL, never
//! from the Host header, because a TLS-terminating proxy changes scheme and host.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;

use crate::state::Keys;

/// Which keyed hash the request says it was signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    HmacSha1,
    HmacSha256,
}

impl Algorithm {
    /// Reads `X-Twilio-Webhooks-Signature-Settings`; a missing header, or one without
    /// `algorithm=`, means the classic HMAC-SHA1 scheme. An unknown algorithm is `None`
    /// and fails validation.
    pub fn from_settings_header(header: Option<&str>) -> Option<Self> {
        let Some(header) = header else {
            return Some(Algorithm::HmacSha1);
        };
        let algorithm = header
            .split(',')
            .filter_map(|part| part.trim().split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case("algorithm"))
            .map(|(_, value)| value.trim());
        match algorithm {
            None => Some(Algorithm::HmacSha1),
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA256") => Some(Algorithm::HmacSha256),
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA1") => Some(Algorithm::HmacSha1),
            Some(_) => None,
        }
    }
}

/// The parameters in the order the provider signs them: sorted by name and, for a
/// repeated name, by value, each distinct pair once (its helper libraries sign
/// `Digits=1&Digits=1` as one `Digits1`).
fn signed_order(params: &[(String, String)]) -> Vec<&(String, String)> {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
}

/// The string the provider signs: the URL, then each POST parameter's name and value,
/// in `signed_order`.
pub fn signing_payload(url: &str, params: &[(String, String)]) -> String {
    let sorted = signed_order(params);
    let mut payload = String::with_capacity(url.len() + params.len() * 24);
    payload.push_str(url);
    for (name, value) in sorted {
        payload.push_str(name);
        payload.push_str(value);
    }
    payload
}

/// Base64 of the keyed hash of `payload`.
pub fn sign(algorithm: Algorithm, key: &str, payload: &str) -> String {
    match algorithm {
        Algorithm::HmacSha1 => mac_base64::<Hmac<Sha1>>(key, payload),
        Algorithm::HmacSha256 => mac_base64::<Hmac<Sha256>>(key, payload),
    }
}

fn mac_base64<M: Mac + KeyInit>(key: &str, payload: &str) -> String {
    // HMAC takes keys of any length, so this never fails; an empty answer never validates.
    match <M as KeyInit>::new_from_slice(key.as_bytes()) {
        Ok(mut mac) => {
            mac.update(payload.as_bytes());
            BASE64.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// The URL with its default port removed, or added when it has none, as the pieces
/// that spell it: the provider is not consistent about which form it signs, so both are
/// accepted (as its own libraries do). Pieces of the original, so nothing is copied.
fn other_port_form(url: &str) -> Option<[&str; 3]> {
    let (scheme, rest) = url.split_once("://")?;
    // A media stream's upgrade is signed over its `wss://` URL.
    let default_port = if scheme.eq_ignore_ascii_case("https") || scheme.eq_ignore_ascii_case("wss")
    {
        ":443"
    } else if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("ws") {
        ":80"
    } else {
        return None;
    };
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_len);
    let head = scheme.len() + "://".len();
    // Userinfo is not expected here; a host:port split on the last colon is enough.
    Some(match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            [&url[..head + host.len()], "", path]
        }
        _ => [&url[..head + authority_len], default_port, path],
    })
}

/// Checks a request's signature in constant time. `url` is the full URL the provider
/// called, rebuilt from the public base URL plus the request's path and query.
///
/// Same result as comparing [`sign`] of [`signing_payload`] for each form of the URL,
/// without building either: the key is set up once, the URL and sorted parameters are
/// fed to the MAC in pieces, and the MAC is compared with the decoded header.
pub fn validate(
    keys: &Keys,
    settings_header: Option<&str>,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let Some(algorithm) = Algorithm::from_settings_header(settings_header) else {
        return false;
    };
    let Ok(expected) = BASE64.decode(signature) else {
        return false;
    };
    if expected.is_empty() {
        return false;
    }
    let sorted = signed_order(params);
    match algorithm {
        Algorithm::HmacSha1 => matches::<Hmac<Sha1>>(&keys.auth_token, url, &sorted, &expected),
        Algorithm::HmacSha256 => match &keys.shared_key {
            Some(key) => matches::<Hmac<Sha256>>(key, url, &sorted, &expected),
            None => false,
        },
    }
}

fn matches<M: Mac + KeyInit + Clone>(
    key: &str,
    url: &str,
    sorted: &[&(String, String)],
    expected: &[u8],
) -> bool {
    // HMAC takes keys of any length, so this never fails.
    let Ok(keyed) = <M as KeyInit>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    let check = |url_pieces: &[&str]| {
        let mut mac = keyed.clone();
        for piece in url_pieces {
            mac.update(piece.as_bytes());
        }
        for (name, value) in sorted {
            mac.update(name.as_bytes());
            mac.update(value.as_bytes());
        }
        mac.verify_slice(expected).is_ok()
    };
    let mut ok = check(&[url]);
    // Evaluate every form so the time taken does not depend on which one matched.
    if let Some(other) = other_port_form(url) {
        ok |= check(&other);
    }
    ok
}

/// Signature for a JSON-bodied request: the URL carries `bodySHA256`, no parameters.
pub fn body_sha256_hex(body: &[u8]) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(body);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys {
            auth_token: "12345".into(),
            shared_key: Some("shared-secret".into()),
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn params() -> Vec<(String, String)> {
        pairs(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ])
    }

    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";

    /// The provider's own request-validator vectors (twilio-python).
    #[test]
    fn provider_vectors_validate() {
        let cases: &[(&str, &str)] = &[
            (URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
            (
                "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
            ),
            (
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "kvajT1Ptam85bY51eRf/AJRuM3w=",
            ),
            (
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
        ];
        for (url, sig) in cases {
            assert!(
                validate(&keys(), None, url, &params(), sig),
                "vector for {url}"
            );
        }
    }

    #[test]
    fn exact_signature_of_the_base_vector() {
        let payload = signing_payload(URL, &params());
        assert_eq!(
            sign(Algorithm::HmacSha1, "12345", &payload),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
    }

    #[test]
    fn repeated_names_sort_by_value() {
        let p = pairs(&[
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]);
        assert!(validate(
            &keys(),
            None,
            URL,
            &p,
            "IK+Dwps556ElfBT0I3Rgjkr1wJU="
        ));
    }

    /// A repeated identical parameter is signed once, as the provider's helper
    /// libraries do (sorted names, distinct sorted values); the expected value was
    /// computed outside this code, with Python's hmac over
    /// `URL + "CallSidCA1234567890ABCDE" + "Digits1" + "Digits2"`.
    #[test]
    fn repeated_identical_parameters_are_signed_once() {
        let p = pairs(&[
            ("Digits", "1"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "2"),
            ("Digits", "1"),
        ]);
        assert!(validate(
            &keys(),
            None,
            URL,
            &p,
            "8SzZmIQzW5BYHxknUlfz52dLGPo="
        ));
        assert_eq!(
            sign(Algorithm::HmacSha1, "12345", &signing_payload(URL, &p)),
            "8SzZmIQzW5BYHxknUlfz52dLGPo="
        );
    }

    /// A media stream's upgrade is signed over its `wss://` URL, no parameters; with
    /// or without the default port, as for `https://`.
    #[test]
    fn a_stream_upgrade_is_signed_over_its_wss_url() {
        let url = "wss://ivr.agency.gov/tty/stream";
        let sig = sign(Algorithm::HmacSha1, "12345", &signing_payload(url, &[]));
        assert!(validate(&keys(), None, url, &[], &sig));
        assert!(validate(
            &keys(),
            None,
            "wss://ivr.agency.gov:443/tty/stream",
            &[],
            &sig
        ));
        assert!(!validate(
            &keys(),
            None,
            "https://ivr.agency.gov/tty/stream",
            &[],
            &sig
        ));
    }

    #[test]
    fn json_body_vector() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let hash = body_sha256_hex(body);
        assert_eq!(
            hash,
            "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
        );
        let url = format!("{URL}&bodySHA256={hash}");
        assert!(validate(
            &keys(),
            None,
            &url,
            &[],
            "a9nBmqA0ju/hNViExpshrM61xv4="
        ));
    }

    #[test]
    fn tampered_requests_fail() {
        let mut p = params();
        p[2].1 = "9999".into();
        assert!(!validate(
            &keys(),
            None,
            URL,
            &p,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        assert!(!validate(&keys(), None, URL, &params(), ""));
        assert!(!validate(
            &keys(),
            None,
            URL,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8"
        ));
        let other = "https://mycompany.com/other.php?foo=1&bar=2";
        assert!(!validate(
            &keys(),
            None,
            other,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn sha256_settings_use_the_shared_key() {
        let header = Some("key=K1,algorithm=HMAC_SHA256");
        let payload = signing_payload(URL, &params());
        let good = sign(Algorithm::HmacSha256, "shared-secret", &payload);
        assert!(validate(&keys(), header, URL, &params(), &good));
        // Signed with the auth token instead of the shared key: refused.
        let wrong_key = sign(Algorithm::HmacSha256, "12345", &payload);
        assert!(!validate(&keys(), header, URL, &params(), &wrong_key));
        // The SHA-1 signature does not pass when the header asks for SHA-256.
        assert!(!validate(
            &keys(),
            header,
            URL,
            &params(),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
        // No shared key configured: SHA-256 requests are refused.
        let no_shared = Keys {
            auth_token: "12345".into(),
            shared_key: None,
        };
        assert!(!validate(&no_shared, header, URL, &params(), &good));
    }

    #[test]
    fn settings_header_parsing() {
        use Algorithm::*;
        assert_eq!(Algorithm::from_settings_header(None), Some(HmacSha1));
        assert_eq!(
            Algorithm::from_settings_header(Some("key=abc")),
            Some(HmacSha1)
        );
        assert_eq!(
            Algorithm::from_settings_header(Some("key=abc, algorithm=HMAC_SHA256")),
            Some(HmacSha256)
        );
        assert_eq!(Algorithm::from_settings_header(Some("algorithm=MD5")), None);
    }
}
