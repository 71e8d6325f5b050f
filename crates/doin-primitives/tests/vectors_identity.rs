//! The reference's identity and ECDSA vectors: peer ids from PKCS#8 / SEC1 PEM and SPKI,
//! P-256 only, and signature verification (valid, high-S, tampered).

use doin_primitives::identity::{
    parse_public_key, peer_id_of_spki, verify, Identity, IdentityError,
};

fn vectors(name: &str) -> Vec<serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/reference/test-vectors.json"
    );
    let text = std::fs::read_to_string(path).expect("test vectors present");
    let v: serde_json::Value = serde_json::from_str(&text).expect("vectors parse");
    v[name].as_array().expect("vector list").clone()
}

fn s<'a>(v: &'a serde_json::Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("field {k}"))
}

#[test]
fn peer_identity_vectors() {
    let cases = vectors("peer_identity");
    assert!(cases.len() >= 10);
    for case in &cases {
        let pem = s(case, "pem_pkcs8");
        let expected = s(case, "peer_id");
        let spki = hex::decode(s(case, "spki_der_hex")).expect("hex");
        if s(case, "curve") != "P-256" {
            assert!(matches!(
                Identity::from_pem(pem),
                Err(IdentityError::WrongCurve)
            ));
            assert!(peer_id_of_spki(&spki).is_err());
            continue;
        }
        let id = Identity::from_pem(pem).expect("P-256 PKCS#8 loads");
        assert_eq!(id.peer_id(), expected);
        assert_eq!(id.spki_der(), spki);
        assert_eq!(id.public_key_hex(), s(case, "public_key_uncompressed_hex"));
        assert_eq!(peer_id_of_spki(&spki).expect("spki"), expected);
        let scalar = hex::decode(s(case, "private_scalar_hex")).expect("hex");
        assert_eq!(
            Identity::from_scalar_bytes(&scalar)
                .expect("scalar")
                .peer_id(),
            expected
        );
        if let Some(sec1) = case["pem_sec1"].as_str() {
            assert_eq!(Identity::from_pem(sec1).expect("sec1").peer_id(), expected);
        }
        // Our own PEM reloads to the same identity.
        assert_eq!(
            Identity::from_pem(&id.to_pem()).expect("reload").peer_id(),
            expected
        );
    }
}

#[test]
fn ecdsa_signature_vectors() {
    let cases = vectors("ecdsa_signatures");
    assert!(cases.len() > 50);
    for case in &cases {
        let spki = hex::decode(s(case, "spki_der_hex")).expect("hex");
        let public = parse_public_key(&hex::encode(&spki[26..])).expect("point");
        let message = hex::decode(s(case, "message_hex")).expect("hex");
        let sig = hex::decode(s(case, "signature_der_hex")).expect("hex");
        let valid = case["valid"].as_bool().expect("valid flag");
        assert_eq!(
            verify(&public, &message, &sig),
            valid,
            "variant {}",
            s(case, "variant")
        );
        assert_eq!(
            doin_primitives::identity::verify_portable(&public, &message, &sig),
            valid,
            "portable, variant {}",
            s(case, "variant")
        );
    }
}

#[test]
fn our_signatures_verify_with_the_reference_rule() {
    let id = Identity::generate();
    let sig = id.sign(b"hello");
    let public = parse_public_key(id.public_key_hex()).expect("point");
    assert!(verify(&public, b"hello", &sig));
    assert!(!verify(&public, b"hellp", &sig));
}

#[test]
fn garbage_keys_are_typed_errors() {
    for pem in [
        "",
        "not a key",
        "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
    ] {
        assert!(Identity::from_pem(pem).is_err());
    }
    assert!(parse_public_key("04zz").is_err());
    assert!(parse_public_key("").is_err());
}
