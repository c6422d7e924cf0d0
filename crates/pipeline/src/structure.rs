//! The structure check: how deeply a message's MIME parts nest, and the limit past
//! which a message from the network is refused (`554 5.6.0`).
//!
//! Where it sits: the first stage for mail arriving over SMTP, run by the SMTP driver on
//! a blocking thread before [`crate::process`] (the parse is CPU work proportional to
//! the message size). Nothing else in the flow needs the limit to be safe: the vendored
//! mail-parser keeps encapsulated messages past its own `MAX_NESTING` opaque (see
//! `vendor/README.md`), and every tree walk in `imap` is bounded. Refusing here tells an
//! honest sender why, the way Postfix's `mime_nesting_limit` does.
//!
//! Security stance: reads untrusted bytes; no recursion (the walk below keeps its own
//! stack), no I/O.

use mail_parser::{MessageParser, PartType};

/// The deepest MIME nesting accepted from the network: multiparts and encapsulated
/// messages together, the message itself being depth 1. Postfix's
/// `mime_nesting_limit` default; RFC 2046 sets none.
pub const MAX_MIME_DEPTH: usize = 100;

/// How deeply the MIME parts of `raw` nest (1 for a single-part message, 0 when
/// mail-parser finds no message at all). Past the parser's own limit the count stops
/// growing, which is still over [`MAX_MIME_DEPTH`].
pub fn mime_depth(raw: &[u8]) -> usize {
    let Some(message) = MessageParser::default().parse(raw) else {
        return 0;
    };
    // (message, part index, depth of that part)
    let mut stack = vec![(&message, 0usize, 1usize)];
    let mut deepest = 0;
    while let Some((msg, id, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        let Some(part) = msg.parts.get(id) else {
            continue;
        };
        match &part.body {
            PartType::Multipart(children) => {
                // Children come after their parent in mail-parser's flat list; anything
                // else would be a cycle.
                stack.extend(
                    children
                        .iter()
                        .map(|&c| c as usize)
                        .filter(|&c| c > id)
                        .map(|c| (msg, c, depth + 1)),
                );
            }
            PartType::Message(inner) => stack.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    deepest
}

/// `Err` with the reply text when `raw` nests deeper than [`MAX_MIME_DEPTH`]
/// (RFC 3463 5.6.0: other or undefined media error).
pub fn check_structure(raw: &[u8]) -> Result<(), String> {
    let depth = mime_depth(raw);
    if depth > MAX_MIME_DEPTH {
        return Err(format!(
            "MIME nesting exceeds the limit of {MAX_MIME_DEPTH} levels"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_messages(levels: usize) -> Vec<u8> {
        let mut m = b"Subject: outer\r\n".to_vec();
        for _ in 0..levels {
            m.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
        }
        m.extend_from_slice(b"Subject: inner\r\n\r\nhello\r\n");
        m
    }

    fn nested_multiparts(levels: usize) -> Vec<u8> {
        let mut m = Vec::new();
        for i in 0..levels {
            m.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=\"b{i}x\"\r\n\r\n--b{i}x\r\n")
                    .as_bytes(),
            );
        }
        m.extend_from_slice(b"Content-Type: text/plain\r\n\r\nleaf\r\n");
        for i in (0..levels).rev() {
            m.extend_from_slice(format!("--b{i}x--\r\n").as_bytes());
        }
        m
    }

    /// Runs `f` on a thread with a small stack, so recursion on input depth
    /// overflows here (and fails the test) long before it would on a real worker.
    fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("spawn")
            .join()
            .expect("no panic")
    }

    #[test]
    fn depth_counts_messages_and_multiparts() {
        assert_eq!(mime_depth(b"Subject: x\r\n\r\nbody\r\n"), 1);
        assert_eq!(mime_depth(&nested_messages(1)), 2);
        assert_eq!(mime_depth(&nested_messages(5)), 6);
        assert_eq!(mime_depth(&nested_multiparts(3)), 4);
        let forwarded = b"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\n\r\none\r\n--X\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\ninner\r\n--X--\r\n";
        assert_eq!(mime_depth(forwarded), 3);
        assert!(check_structure(forwarded).is_ok());
    }

    #[test]
    fn the_limit_is_exact() {
        // depth = levels + 1
        assert!(check_structure(&nested_messages(MAX_MIME_DEPTH - 1)).is_ok());
        assert!(check_structure(&nested_messages(MAX_MIME_DEPTH)).is_err());
    }

    #[test]
    fn forty_thousand_nested_messages_are_refused_on_a_small_stack() {
        let refused = on_small_stack(|| check_structure(&nested_messages(40_000)));
        assert!(refused.unwrap_err().contains("MIME nesting"));
    }

    #[test]
    fn deep_multiparts_and_encoded_nesting_stay_on_a_small_stack() {
        let depth = on_small_stack(|| mime_depth(&nested_multiparts(10_000)));
        assert!(depth > MAX_MIME_DEPTH);
        // Nesting hidden in a base64 body (RFC 2046 §5.2.1 forbids the encoding, but
        // mail-parser decodes it and parses the result).
        let inner = nested_messages(40_000);
        let mut encoded =
            b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
        encoded.extend_from_slice(base64(&inner).as_bytes());
        on_small_stack(move || mime_depth(&encoded));
    }

    /// Found by fuzzing (`fuzz/corpus/mime/regression-mail-parser-invalid-part-id`): a
    /// multipart whose parts are broken encapsulated messages reached a
    /// `debug_assert!(false)` in mail-parser, so debug builds panicked on it.
    #[test]
    fn broken_encapsulated_parts_do_not_panic() {
        let raw = b"Content-Type:multipart/\n boundary==_2d98f6c3ddf4b54299ae2604b2717254\n\n--=_2d98f6c3ddf4b54299ae2604b2717254Content-Type:message/rfc822\n\nContent-Type:message/rfc822\n\n\n--=_2d98f6c3ddf4b54299ae2604b2717254--";
        assert!(mime_depth(raw) >= 1);
    }

    /// Plain base64 with line breaks (no crate needed for a test fixture).
    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for (i, chunk) in data.chunks(3).enumerate() {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for k in 0..4 {
                out.push(if k <= chunk.len() {
                    ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char
                } else {
                    '='
                });
            }
            if i % 19 == 18 {
                out.push_str("\r\n");
            }
        }
        out
    }
}
