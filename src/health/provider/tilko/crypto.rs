//! Tilko's field encryption: each request gets a fresh AES-128 key; personal fields are
//! AES-128-CBC encrypted under it (PKCS#7 padding, the all-zero IV Tilko's SDKs use) and base64
//! encoded; the key itself travels RSA-encrypted (PKCS#1 v1.5) under the public key Tilko serves,
//! base64 encoded, in the `ENC-KEY` header. aws-lc-rs (already compiled for rustls) does both.

use aws_lc_rs::{
    cipher::{AES_128, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey},
    iv::FixedLength,
    rand::{SecureRandom, SystemRandom},
    rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};

/// Tilko's IV is fixed at zero; the key is fresh per request, so equal plaintexts under
/// different requests still differ.
const IV: [u8; 16] = [0; 16];

/// One request's encryption: the fresh AES key and its RSA-wrapped form for `ENC-KEY`.
pub struct RequestCipher {
    key: [u8; 16],
    pub enc_key_header: String,
}

impl RequestCipher {
    /// A fresh key wrapped under `public_key_b64` (base64 of an X.509 SubjectPublicKeyInfo, as
    /// Tilko's `GetPublicKey` answers).
    pub fn new(public_key_b64: &str) -> anyhow::Result<Self> {
        let der = STANDARD.decode(public_key_b64.trim()).map_err(|_| anyhow::anyhow!("the public key is not base64"))?;
        let public = PublicEncryptingKey::from_der(&der).map_err(|_| anyhow::anyhow!("the public key is not RSA"))?;
        let rsa = Pkcs1PublicEncryptingKey::new(public).map_err(|_| anyhow::anyhow!("RSA PKCS#1 key"))?;
        let mut key = [0u8; 16];
        SystemRandom::new().fill(&mut key).map_err(|_| anyhow::anyhow!("no randomness"))?;
        let mut wrapped = vec![0u8; rsa.ciphertext_size()];
        let wrapped = rsa.encrypt(&key, &mut wrapped).map_err(|_| anyhow::anyhow!("RSA encryption failed"))?;
        Ok(Self { key, enc_key_header: STANDARD.encode(wrapped) })
    }

    /// `plain` encrypted for a request field (base64).
    pub fn encrypt(&self, plain: &str) -> anyhow::Result<String> {
        let unbound = UnboundCipherKey::new(&AES_128, &self.key).map_err(|_| anyhow::anyhow!("AES key"))?;
        let cipher = PaddedBlockEncryptingKey::cbc_pkcs7(unbound).map_err(|_| anyhow::anyhow!("AES-CBC"))?;
        let mut data = plain.as_bytes().to_vec();
        cipher
            .less_safe_encrypt(&mut data, EncryptionContext::Iv128(FixedLength::from(IV)))
            .map_err(|_| anyhow::anyhow!("AES encryption failed"))?;
        Ok(STANDARD.encode(data))
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::{
        cipher::{DecryptionContext, PaddedBlockDecryptingKey},
        encoding::AsDer,
        rsa::{KeySize, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey},
    };

    use super::*;

    #[test]
    fn the_wrapped_key_opens_the_fields_and_nothing_else_does() {
        let private = PrivateDecryptingKey::generate(KeySize::Rsa2048).unwrap();
        let public_der = private.public_key().as_der().unwrap();
        let cipher = RequestCipher::new(&STANDARD.encode(public_der.as_ref())).unwrap();
        let field = cipher.encrypt("홍길동").unwrap();
        assert_ne!(field, STANDARD.encode("홍길동"));

        let rsa = Pkcs1PrivateDecryptingKey::new(private).unwrap();
        let wrapped = STANDARD.decode(&cipher.enc_key_header).unwrap();
        let mut out = vec![0u8; rsa.min_output_size()];
        let key = rsa.decrypt(&wrapped, &mut out).unwrap().to_vec();
        assert_eq!(key.len(), 16);
        let aes = PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &key).unwrap()).unwrap();
        let mut data = STANDARD.decode(field).unwrap();
        let plain = aes.decrypt(&mut data, DecryptionContext::Iv128(FixedLength::from(IV))).unwrap();
        assert_eq!(std::str::from_utf8(plain).unwrap(), "홍길동");

        let other = RequestCipher::new(&STANDARD.encode(public_der.as_ref())).unwrap();
        assert_ne!(other.encrypt("홍길동").unwrap(), cipher.encrypt("홍길동").unwrap(), "a fresh key per request");
        assert!(RequestCipher::new("not base64!").is_err());
    }
}
