//! Recoverable keys: AES-256-GCM under a per-workspace key derived (HKDF-SHA256) from a master
//! secret (32 bytes, base64). The ciphertext is bound to the key id (associated data), so an
//! encrypted copy cannot be moved to another key or workspace.
//!
//! Master keys are versioned: a [`Keyring`] holds them newest first (`ENCRYPTION_KEYS`), new
//! copies use the newest, and each copy records the id of the key that sealed it, so rotating
//! the master key never makes an existing copy unreadable while the old key is still listed.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hkdf::Hkdf;
use sha2::Sha256;

use super::random::random_bytes;

/// Identifies the derivation scheme in `encrypted_keys.encryption_key_id`; copies made since
/// master keys are versioned append `:<master key id>` ([`MasterKey::label`]).
pub const KEY_SCHEME: &str = "hkdf-sha256-aes256gcm-v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// ENCRYPTION_KEY is not 32 bytes of base64.
    BadMasterKey,
    /// The stored value is not one keygate wrote, or it was tampered with.
    Corrupt,
    /// The master key that sealed the copy is not among the configured ones.
    UnknownMasterKey,
    Random,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CryptoError::BadMasterKey => "ENCRYPTION_KEY must be 32 bytes, base64-encoded",
            CryptoError::Corrupt => "the encrypted key could not be decrypted",
            CryptoError::UnknownMasterKey => "the master key of the encrypted key is not configured",
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

    /// A public id of this master key (16 hex digits of SHA-256 over a label and the key): it
    /// tells which configured key sealed a copy and reveals nothing about the key.
    pub fn id(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::new().chain_update(b"keygate master key id\0").chain_update(self.0).finalize();
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    /// The `encryption_key_id` of copies sealed with this key.
    pub fn label(&self) -> String {
        format!("{KEY_SCHEME}:{}", self.id())
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

/// The configured master keys, newest first.
pub struct Keyring {
    keys: Vec<MasterKey>,
}

/// A decrypted copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub plaintext: String,
    /// Sealed with an older master key (or before keys were versioned): re-encrypt it.
    pub stale: bool,
}

impl Keyring {
    /// The keys from their base64 secrets, newest first; `None` when there is none.
    pub fn from_base64(secrets: &[String]) -> Result<Option<Keyring>, CryptoError> {
        let keys = secrets.iter().map(|s| MasterKey::from_base64(s)).collect::<Result<Vec<_>, _>>()?;
        Ok((!keys.is_empty()).then_some(Keyring { keys }))
    }

    /// The key new copies are sealed with.
    pub fn newest(&self) -> &MasterKey {
        // `from_base64` never builds an empty keyring
        &self.keys[0]
    }

    /// Opens a copy with the key its `label` names (a copy from before key versioning, labelled
    /// with the scheme alone, is tried with every key).
    pub fn decrypt(
        &self,
        workspace_id: &str,
        key_id: &str,
        encrypted: &str,
        label: &str,
    ) -> Result<Opened, CryptoError> {
        let newest = self.newest().id();
        let versioned = label.strip_prefix(KEY_SCHEME).and_then(|rest| rest.strip_prefix(':'));
        let candidates: Vec<&MasterKey> = match versioned {
            Some(id) => self.keys.iter().filter(|k| k.id() == id).collect(),
            None if label == KEY_SCHEME => self.keys.iter().collect(),
            None => Vec::new(),
        };
        if candidates.is_empty() {
            return Err(CryptoError::UnknownMasterKey);
        }
        for key in candidates {
            if let Ok(plaintext) = key.decrypt(workspace_id, key_id, encrypted) {
                return Ok(Opened { plaintext, stale: versioned != Some(newest.as_str()) });
            }
        }
        Err(CryptoError::Corrupt)
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
    fn keyring_rotation() {
        let old = B64.encode([1u8; 32]);
        let new = B64.encode([2u8; 32]);
        let only_old = Keyring::from_base64(std::slice::from_ref(&old)).expect("valid").expect("keys");
        let both = Keyring::from_base64(&[new.clone(), old.clone()]).expect("valid").expect("keys");
        let only_new = Keyring::from_base64(std::slice::from_ref(&new)).expect("valid").expect("keys");
        assert!(Keyring::from_base64(&[]).expect("valid").is_none());
        assert!(Keyring::from_base64(&["short".into()]).is_err());
        // ids are stable, distinct and not the key
        assert_eq!(only_old.newest().id(), both.keys[1].id());
        assert_ne!(only_old.newest().id(), only_new.newest().id());
        assert_eq!(only_old.newest().id().len(), 16);
        assert!(only_old.newest().label().starts_with("hkdf-sha256-aes256gcm-v1:"));

        let sealed = only_old.newest().encrypt("ws_1", "key_1", "secret").expect("encrypt");
        let label = only_old.newest().label();
        // the newest key reads its own copies as current
        assert_eq!(
            only_old.decrypt("ws_1", "key_1", &sealed, &label),
            Ok(Opened { plaintext: "secret".into(), stale: false })
        );
        // after rotation the old copy still opens, and is due for re-encryption
        assert_eq!(
            both.decrypt("ws_1", "key_1", &sealed, &label),
            Ok(Opened { plaintext: "secret".into(), stale: true })
        );
        // once the old key is gone the copy is unreadable, with a reason
        assert_eq!(only_new.decrypt("ws_1", "key_1", &sealed, &label), Err(CryptoError::UnknownMasterKey));
        // copies from before versioning (the scheme alone) are tried with every key
        assert_eq!(
            both.decrypt("ws_1", "key_1", &sealed, KEY_SCHEME),
            Ok(Opened { plaintext: "secret".into(), stale: true })
        );
        assert_eq!(only_new.decrypt("ws_1", "key_1", &sealed, KEY_SCHEME), Err(CryptoError::Corrupt));
        assert_eq!(both.decrypt("ws_1", "key_1", &sealed, "rot13"), Err(CryptoError::UnknownMasterKey));
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
