//! Transcripts of the SCRAM state machine, starting from RFC 7677 §3's example.

use super::super::{Exchange, Mechanism, SaslError, Step, encode};
use super::*;

const CLIENT_FIRST: &str = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const SERVER_NONCE: &str = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const SERVER_FIRST: &str =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

fn salt() -> Vec<u8> {
    STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap()
}

fn keys(passwords: &[(&str, &str)]) -> Keys {
    Keys {
        salt: salt(),
        iterations: 4096,
        credentials: passwords
            .iter()
            .map(|(label, pw)| Credential {
                label: (*label).into(),
                secret: derive(pw, &salt(), 4096),
            })
            .collect(),
        server_nonce: SERVER_NONCE.into(),
        account_exists: true,
    }
}

fn challenge(step: Step) -> String {
    match step {
        Step::Challenge(c) => String::from_utf8(c).unwrap(),
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// Runs client-first and takes server-first; returns the exchange at client-final.
fn to_client_final(mechanism: Mechanism, exporter: Option<[u8; 32]>, first: &str) -> Exchange {
    let (mut x, step) = Exchange::start(mechanism, Some(&encode(first.as_bytes())), exporter);
    assert_eq!(step, Step::NeedKeys("user".into()));
    let server_first = challenge(x.keys(keys(&[("app1", "other"), ("account", "pencil")])));
    assert!(server_first.starts_with("r=rOprNGfwEbeRWgbNEkqO%hvYD"));
    x
}

#[test]
fn rfc7677_example() {
    let (mut x, step) = Exchange::start(Mechanism::ScramSha256, None, None);
    assert_eq!(step, Step::Challenge(vec![]));
    assert_eq!(
        x.respond(&encode(CLIENT_FIRST.as_bytes())),
        Step::NeedKeys("user".into())
    );
    assert_eq!(
        challenge(x.keys(keys(&[("account", "pencil")]))),
        SERVER_FIRST
    );
    let proved = x.respond(&format!("{}\r\n", encode(CLIENT_FINAL.as_bytes())));
    assert_eq!(
        proved,
        Step::Proved(Proved {
            username: "user".into(),
            matched: Some("account".into()),
            account_exists: true,
        })
    );
    assert_eq!(challenge(x.accepted()), SERVER_FINAL);
    assert_eq!(x.respond(""), Step::Finished);
}

#[test]
fn the_matching_credential_is_named_among_several() {
    let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
    let Step::Proved(p) = x.respond(&encode(CLIENT_FINAL.as_bytes())) else {
        panic!()
    };
    assert_eq!(p.matched.as_deref(), Some("account"));
    assert_eq!(challenge(x.accepted()), SERVER_FINAL);
}

#[test]
fn wrong_proof_matches_nothing_and_cannot_be_accepted() {
    let (mut x, _) = Exchange::start(
        Mechanism::ScramSha256,
        Some(&encode(CLIENT_FIRST.as_bytes())),
        None,
    );
    challenge(x.keys(keys(&[("account", "not-pencil")])));
    let Step::Proved(p) = x.respond(&encode(CLIENT_FINAL.as_bytes())) else {
        panic!()
    };
    assert_eq!(p.matched, None);
    assert!(matches!(x.accepted(), Step::Failed(_)), "no server-final");
    // An unknown user: no credentials at all.
    let (mut x, _) = Exchange::start(
        Mechanism::ScramSha256,
        Some(&encode(CLIENT_FIRST.as_bytes())),
        None,
    );
    let mut k = keys(&[]);
    k.account_exists = false;
    challenge(x.keys(k));
    let Step::Proved(p) = x.respond(&encode(CLIENT_FINAL.as_bytes())) else {
        panic!()
    };
    assert_eq!((p.matched, p.account_exists), (None, false));
}

#[test]
fn a_flipped_proof_bit_fails() {
    let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
    let bad = CLIENT_FINAL.replace("p=dHzb", "p=dHzc");
    let Step::Proved(p) = x.respond(&encode(bad.as_bytes())) else {
        panic!()
    };
    assert_eq!(p.matched, None);
}

fn scram_error(step: Step) -> ScramError {
    match step {
        Step::Failed(SaslError::Scram(e)) => e,
        other => panic!("expected a SCRAM failure, got {other:?}"),
    }
}

#[test]
fn channel_binding_plus_over_tls_exporter() {
    let exporter = [7u8; 32];
    let first = "p=tls-exporter,,n=user,r=rOprNGfwEbeRWgbNEkqO";
    let mut x = to_client_final(Mechanism::ScramSha256Plus, Some(exporter), first);
    // The c= value: gs2 header then the exporter bytes (RFC 9266 §2).
    let mut cbind = b"p=tls-exporter,,".to_vec();
    cbind.extend_from_slice(&exporter);
    // Build a right proof for this transcript, as a client would.
    let server_first =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    let without_proof = format!(
        "c={},r=rOprNGfwEbeRWgbNEkqO{SERVER_NONCE}",
        STANDARD.encode(&cbind)
    );
    let proof = client_proof(
        "pencil",
        &format!("n=user,r=rOprNGfwEbeRWgbNEkqO,{server_first},{without_proof}"),
    );
    let final_msg = format!("{without_proof},p={}", STANDARD.encode(proof));
    let Step::Proved(p) = x.respond(&encode(final_msg.as_bytes())) else {
        panic!()
    };
    assert_eq!(p.matched.as_deref(), Some("account"));

    // The same with another connection's exporter: refused.
    let mut x = to_client_final(Mechanism::ScramSha256Plus, Some([8u8; 32]), first);
    assert_eq!(
        scram_error(x.respond(&encode(final_msg.as_bytes()))),
        ScramError::ChannelBindingsDontMatch
    );
    // c=biws (no binding) after p=: refused.
    let mut x = to_client_final(Mechanism::ScramSha256Plus, Some(exporter), first);
    let unbound = CLIENT_FINAL.to_string();
    assert_eq!(
        scram_error(x.respond(&encode(unbound.as_bytes()))),
        ScramError::ChannelBindingsDontMatch
    );
}

/// ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage) (RFC 5802 §3).
fn client_proof(password: &str, auth_message: &str) -> [u8; 32] {
    let mut salted = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &salt(), 4096, &mut salted);
    let client_key = hmac(&salted, b"Client Key");
    let stored: [u8; 32] = Sha256::digest(client_key).into();
    let signature = hmac(&stored, auth_message.as_bytes());
    let mut proof = client_key;
    proof.iter_mut().zip(signature).for_each(|(p, s)| *p ^= s);
    proof
}

#[test]
fn gs2_flags_and_binding_rules() {
    let start = |m, exporter: Option<[u8; 32]>, first: &str| {
        Exchange::start(m, Some(&encode(first.as_bytes())), exporter).1
    };
    let tls13 = Some([1u8; 32]);
    // RFC 5802 §6: `y` while we offer -PLUS is a downgrade.
    assert_eq!(
        scram_error(start(Mechanism::ScramSha256, tls13, "y,,n=user,r=abc")),
        ScramError::ServerDoesSupportChannelBinding
    );
    // Without -PLUS on offer, `y` is fine.
    assert_eq!(
        start(Mechanism::ScramSha256, None, "y,,n=user,r=abc"),
        Step::NeedKeys("user".into())
    );
    // `p` with the plain mechanism, `n` with -PLUS: refused.
    assert_eq!(
        scram_error(start(
            Mechanism::ScramSha256,
            tls13,
            "p=tls-exporter,,n=user,r=abc"
        )),
        ScramError::OtherError
    );
    assert_eq!(
        scram_error(start(Mechanism::ScramSha256Plus, tls13, "n,,n=user,r=abc")),
        ScramError::OtherError
    );
    // Another binding type.
    assert_eq!(
        scram_error(start(
            Mechanism::ScramSha256Plus,
            tls13,
            "p=tls-unique,,n=user,r=abc"
        )),
        ScramError::UnsupportedChannelBindingType
    );
    // -PLUS without TLS 1.3.
    assert_eq!(
        scram_error(start(
            Mechanism::ScramSha256Plus,
            None,
            "p=tls-exporter,,n=user,r=abc"
        )),
        ScramError::ChannelBindingNotSupported
    );
    // m= extension.
    assert_eq!(
        scram_error(start(Mechanism::ScramSha256, None, "n,,m=ext,n=user,r=abc")),
        ScramError::ExtensionsNotSupported
    );
    // authzid: the same user is fine, another is not.
    assert_eq!(
        start(Mechanism::ScramSha256, None, "n,a=user,n=user,r=abc"),
        Step::NeedKeys("user".into())
    );
    assert_eq!(
        scram_error(start(
            Mechanism::ScramSha256,
            None,
            "n,a=admin,n=user,r=abc"
        )),
        ScramError::OtherError
    );
    // saslname escapes.
    assert_eq!(
        start(Mechanism::ScramSha256, None, "n,,n=a=2Cb=3Dc,r=abc"),
        Step::NeedKeys("a,b=c".into())
    );
    assert_eq!(
        scram_error(start(Mechanism::ScramSha256, None, "n,,n=a=2Db,r=abc")),
        ScramError::InvalidUsernameEncoding
    );
}

#[test]
fn malformed_messages_table() {
    let cases: &[&[u8]] = &[
        b"",
        b"n",
        b"n,,",
        b"n,,n=user",
        b"n,,n=user,r=",
        b"n,,r=abc,n=user",
        b"x,,n=user,r=abc",
        b"n,b=zz,n=user,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=user,r=a\x01c",
        b"n,,n=user,r=abc,junk",
        b"n,,n=\xff,r=abc",
    ];
    for case in cases {
        let (_, step) = Exchange::start(Mechanism::ScramSha256, Some(&encode(case)), None);
        assert!(
            matches!(step, Step::Failed(SaslError::Scram(_))),
            "{:?} gave {step:?}",
            String::from_utf8_lossy(case)
        );
    }
    let finals: &[&str] = &[
        "",
        "c=biws,r=x",
        "c=biws,p=AAAA",
        "c=!!!,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqOXXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    ];
    for bad in finals {
        let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
        assert!(
            matches!(x.respond(&encode(bad.as_bytes())), Step::Failed(_)),
            "{bad}"
        );
    }
}

#[test]
fn the_same_results_in_chunks_of_the_line() {
    // The exchange takes whole lines; a line split and rejoined by a driver gives the
    // same answer whatever the chunk size.
    let line = encode(CLIENT_FINAL.as_bytes());
    for size in [1, 2, 4, 8, 16, 512] {
        let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
        let mut joined = String::new();
        for chunk in line.as_bytes().chunks(size) {
            joined.push_str(std::str::from_utf8(chunk).unwrap());
        }
        assert!(matches!(
            x.respond(&joined),
            Step::Proved(Proved {
                matched: Some(_),
                ..
            })
        ));
    }
}

#[test]
fn oversized_bad_base64_and_cancel() {
    let huge = "A".repeat(MAX_MESSAGE + 4);
    let (_, step) = Exchange::start(Mechanism::ScramSha256, Some(&huge), None);
    assert_eq!(scram_error(step), ScramError::InvalidEncoding);
    let (_, step) = Exchange::start(Mechanism::ScramSha256, Some("!!!"), None);
    assert_eq!(step, Step::Failed(SaslError::BadBase64));
    let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
    assert_eq!(x.respond("*"), Step::Failed(SaslError::Cancelled));
    // After server-final only an empty answer completes.
    let mut x = to_client_final(Mechanism::ScramSha256, None, CLIENT_FIRST);
    assert!(matches!(
        x.respond(&encode(CLIENT_FINAL.as_bytes())),
        Step::Proved(_)
    ));
    challenge(x.accepted());
    assert_eq!(x.respond("*"), Step::Failed(SaslError::Cancelled));
    // Keys fed when none were asked for.
    let (mut x, _) = Exchange::start(Mechanism::ScramSha256, None, None);
    assert!(matches!(x.keys(keys(&[])), Step::Failed(_)));
}

#[test]
fn offered_mechanisms_and_errors() {
    let names = |cb| {
        Mechanism::offered(true, cb)
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(names(false), "PLAIN LOGIN SCRAM-SHA-256");
    assert_eq!(names(true), "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS");
    assert_eq!(
        Mechanism::offered(false, true),
        [Mechanism::Plain, Mechanism::Login]
    );
    assert_eq!(
        Mechanism::from_name("scram-sha-256-plus"),
        Some(Mechanism::ScramSha256Plus)
    );
    assert_eq!(server_error(ScramError::InvalidProof), b"e=invalid-proof");
}

#[test]
fn derive_matches_the_rfc_example() {
    // RFC 7677 §3's ServerSignature comes from these keys; the example passes only if
    // derive is right. Also: SASLprep maps a non-ASCII space to a space (RFC 4013 §2.1).
    assert_eq!(derive("a\u{00A0}b", b"s", 4096), derive("a b", b"s", 4096));
    assert_ne!(derive("pencil", b"s", 4096), derive("pencil", b"t", 4096));
}

#[test]
fn the_test_client_reproduces_the_rfc_example() {
    let bare = CLIENT_FIRST.trim_start_matches("n,,");
    let got = rfc7677::client_final("pencil", bare, SERVER_FIRST, b"n,,");
    assert_eq!(got.as_deref(), Some(CLIENT_FINAL));
}
