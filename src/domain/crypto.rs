//! Recoverable keys: AES-256-GCM under a per-workspace key derived (HKDF-SHA256) from the
//! `ENCRYPTION_KEY` master secret (32 bytes, base64). The ciphertext is bound to the key id
//! (associated data), so an encrypted copy cannot be moved to another key or workspace.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hkdf::Hkdf;
use sha2::Sha256;

use super::random::random_bytes;

/// Identifies the derivation scheme in `encrypted_keys.encryption_key_id`.
pub const KEY_SCHEME: &str = "hkdf-sha256-aes256gcm-v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// ENCRYPTION_KEY is not 32 bytes of base64.
    BadMasterKey,
    /// The stored value is not one keygate wrote, or it was tampered with.
    Corrupt,
    Random,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CryptoError::BadMasterKey => "ENCRYPTION_KEY must be 32 bytes, base64-encoded",
            CryptoError::Corrupt => "the encrypted key could not be decrypted",
            CryptoError::Random => "the random number generator failed",
        })
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn from_base64(secret: &str) -> Result<Self, CryptoError> {
        let bytes = B64.decode(secret.trim()).map_err(|_| CryptoError::BadMasterKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadMasterKey)?;
        Ok(MasterKey(key))
    }

    fn cipher(&self, workspace_id: &str) -> Result<Aes256Gcm, CryptoError> {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"keygate recoverable keys"), &self.0)
            .expand(workspace_id.as_bytes(), &mut okm)
            .map_err(|_| CryptoError::BadMasterKey)?;
        Aes256Gcm::new_from_slice(&okm).map_err(|_| CryptoError::BadMasterKey)
    }

    /// `base64(nonce ‖ ciphertext)` of `plaintext` with a given nonce (deterministic, for tests).
    pub fn encrypt_with_nonce(
        &self,
        workspace_id: &str,
        key_id: &str,
        plaintext: &str,
        nonce: [u8; 12],
    ) -> Result<String, CryptoError> {
        let payload = Payload { msg: plaintext.as_bytes(), aad: key_id.as_bytes() };
        let sealed = self
            .cipher(workspace_id)?
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| CryptoError::Corrupt)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    pub fn encrypt(&self, workspace_id: &str, key_id: &str, plaintext: &str) -> Result<String, CryptoError> {
        let nonce = random_bytes::<12>().map_err(|_| CryptoError::Random)?;
        self.encrypt_with_nonce(workspace_id, key_id, plaintext, nonce)
    }

    pub fn decrypt(&self, workspace_id: &str, key_id: &str, encrypted: &str) -> Result<String, CryptoError> {
        let raw = B64.decode(encrypted).map_err(|_| CryptoError::Corrupt)?;
        if raw.len() < 12 + 16 {
            return Err(CryptoError::Corrupt);
        }
        let (nonce, sealed) = raw.split_at(12);
        let payload = Payload { msg: sealed, aad: key_id.as_bytes() };
        let plain = self
            .cipher(workspace_id)?
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| CryptoError::Corrupt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Corrupt)
    }
}

/// Compares two secrets in constant time (for the operator token).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    use subtle::ConstantTimeEq;
    // hashing first makes the comparison independent of the lengths too
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.as_slice().ct_eq(hb.as_slice()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_base64(&B64.encode([7u8; 32])).expect("valid master key")
    }

    #[test]
    fn round_trip() {
        let m = master();
        let enc = m.encrypt("ws_1", "key_1", "prefix_secret").expect("encrypt");
        assert!(!enc.contains("secret"));
        assert_eq!(m.decrypt("ws_1", "key_1", &enc), Ok("prefix_secret".to_string()));
        // a fresh nonce every time
        assert_ne!(enc, m.encrypt("ws_1", "key_1", "prefix_secret").expect("encrypt"));
    }

    #[test]
    fn bound_to_workspace_key_and_master() {
        let m = master();
        let enc = m.encrypt_with_nonce("ws_1", "key_1", "secret", [1; 12]).expect("encrypt");
        assert_eq!(m.decrypt("ws_2", "key_1", &enc), Err(CryptoError::Corrupt));
        assert_eq!(m.decrypt("ws_1", "key_2", &enc), Err(CryptoError::Corrupt));
        let other = MasterKey::from_base64(&B64.encode([8u8; 32])).expect("valid");
        assert_eq!(other.decrypt("ws_1", "key_1", &enc), Err(CryptoError::Corrupt));
        let mut raw = B64.decode(&enc).expect("b64");
        raw[20] ^= 1;
        assert_eq!(m.decrypt("ws_1", "key_1", &B64.encode(raw)), Err(CryptoError::Corrupt));
        assert_eq!(m.decrypt("ws_1", "key_1", "bm90IGVub3VnaA=="), Err(CryptoError::Corrupt));
    }

    #[test]
    fn master_key_must_be_32_bytes() {
        assert!(MasterKey::from_base64(&B64.encode([1u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn secrets() {
        assert!(secrets_equal("token", "token"));
        assert!(!secrets_equal("token", "tokem"));
        assert!(!secrets_equal("token", "token2"));
        assert!(!secrets_equal("", "x"));
    }
}
