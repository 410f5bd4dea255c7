//! Buyer tokens: `v1.<buyer>.<signature>`, the buyer name and an HMAC-SHA256 of it, both
//! base64url. The key lives in the database (`server_secrets`), so every server on the
//! same file, and the same server after a restart, accepts the tokens any of them signed.
//! A token carries no expiry: a buyer lives as long as the sale.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use data_encoding::BASE32HEX_NOPAD;
use hmac::{Hmac, Mac};
use rusqlite::params;
use sha2::Sha256;

use super::AppState;
use super::problem::Problem;
use crate::engine::Engine;
use crate::sql::Result;

type HmacSha256 = Hmac<Sha256>;

/// The cookie browsers get the token in (the storefront page never handles it).
pub const COOKIE: &str = "flashsale_token";

const SECRET_NAME: &str = "buyer_tokens";

/// The signing key, created by the first server to start on this database.
#[derive(Clone)]
pub struct Signer {
    /// The MAC keyed and not yet fed: keying hashes two blocks, done once here rather
    /// than for every request (a clone is a copy of two hash states).
    keyed: HmacSha256,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// Reads the key, creating it first if this database has none. `INSERT OR IGNORE`
    /// in one IMMEDIATE transaction: two servers starting together agree on one key.
    pub fn load(engine: &Engine) -> Result<Signer> {
        let fresh: [u8; 32] = rand::random();
        let now = engine.clock().now();
        if let Some(pg) = engine.server() {
            let key = super::idempotency::server_secret(pg, SECRET_NAME, &fresh, now)?;
            return Ok(Signer::new(&key));
        }
        let key: Vec<u8> = super::idempotency::file(engine)?.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO server_secrets (name, secret, created_at) VALUES (?1, ?2, ?3)",
                params![SECRET_NAME, &fresh[..], now],
            )?;
            Ok(tx.query_row(
                "SELECT secret FROM server_secrets WHERE name = ?1",
                [SECRET_NAME],
                |r| r.get(0),
            )?)
        })?;
        Ok(Signer::new(&key))
    }

    fn new(key: &[u8]) -> Signer {
        Signer {
            // HMAC takes a key of any length; this cannot fail.
            keyed: HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!()),
        }
    }

    fn mac(&self) -> HmacSha256 {
        self.keyed.clone()
    }

    pub fn token(&self, buyer: &str) -> String {
        let mut mac = self.mac();
        mac.update(buyer.as_bytes());
        let signature = mac.finalize().into_bytes();
        format!(
            "v1.{}.{}",
            URL_SAFE_NO_PAD.encode(buyer),
            URL_SAFE_NO_PAD.encode(signature)
        )
    }

    /// The buyer a token names, if this key signed it (compared in constant time).
    pub fn verify(&self, token: &str) -> Option<String> {
        let rest = token.strip_prefix("v1.")?;
        let (buyer, signature) = rest.split_once('.')?;
        let buyer = URL_SAFE_NO_PAD.decode(buyer).ok()?;
        // On the stack: a 32-byte signature, and room to notice a longer one.
        let mut decoded = [0u8; 64];
        let len = URL_SAFE_NO_PAD.decode_slice(signature, &mut decoded).ok()?;
        let mut mac = self.mac();
        mac.update(&buyer);
        mac.verify_slice(&decoded[..len]).ok()?;
        String::from_utf8(buyer).ok()
    }
}

/// The authenticated buyer of a request: from `Authorization: Bearer`, else the cookie.
#[derive(Debug, Clone)]
pub struct Buyer(pub String);

impl FromRequestParts<AppState> for Buyer {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let token = bearer(parts).or_else(|| cookie(parts));
        let Some(token) = token else {
            return Err(Problem::unauthorized(
                "This request needs a buyer token: POST /api/buyers, then send Authorization: Bearer TOKEN",
            ));
        };
        state.signer.verify(token).map(Buyer).ok_or_else(|| {
            Problem::unauthorized(
                "The buyer token is not one this sale signed; get a new one from POST /api/buyers",
            )
        })
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn cookie(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A buyer name for a new visitor: `web-` (so the console tells web buyers from bots),
/// the name they gave if it is short and printable, and a UUID v7 in lowercase
/// base32hex (26 characters) so names never clash. The name is the key of the holds'
/// per-buyer index, and a v7 is time-ordered: buyers who sign up together and buy
/// soon after insert next to each other in that index, instead of each dirtying a
/// random page of it (measured with `scripts/http-load.sh`'s buyers, a fresh file and
/// 128 connections: 31,500 add-to-carts/s against 22,400 with random names, and the
/// writer's CPU per hold halved). Six random hex digits used to clash: 170,000
/// visitors named "load" shared a name in about 900 pairs.
pub fn new_buyer(name: Option<&str>) -> String {
    let tag = BASE32HEX_NOPAD
        .encode(uuid::Uuid::now_v7().as_bytes())
        .to_ascii_lowercase();
    let name: String = name
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_'))
        .take(24)
        .collect();
    if name.is_empty() {
        format!("web-{tag}")
    } else {
        format!("web-{name}-{tag}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer(key: &[u8]) -> Signer {
        Signer::new(key)
    }

    #[test]
    fn a_token_names_its_buyer_only_under_its_key() {
        let s = signer(&[7; 32]);
        let t = s.token("web-ann-123456");
        assert_eq!(s.verify(&t).as_deref(), Some("web-ann-123456"));
        assert_eq!(signer(&[8; 32]).verify(&t), None, "another key");
        let forged = t.replace(
            &URL_SAFE_NO_PAD.encode("web-ann-123456"),
            &URL_SAFE_NO_PAD.encode("web-bob-123456"),
        );
        assert_eq!(
            s.verify(&forged),
            None,
            "another buyer under the same signature"
        );
        assert_eq!(s.verify("v1.garbage"), None);
        assert_eq!(s.verify(""), None);
    }

    #[test]
    fn buyer_names_start_with_web_and_drop_odd_characters() {
        assert!(new_buyer(None).starts_with("web-"));
        let named = new_buyer(Some("Ann <script>"));
        assert!(named.starts_with("web-Annscript-"), "{named}");
    }

    #[test]
    fn buyer_names_never_clash_and_sort_in_the_order_they_were_made() {
        let names: Vec<String> = (0..100_000).map(|_| new_buyer(Some("load"))).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "a name was given twice");
        assert!(names == sorted, "names sort in the order they were made");
        assert_eq!(names[0].len(), "web-load-".len() + 26, "{}", names[0]);
    }
}
