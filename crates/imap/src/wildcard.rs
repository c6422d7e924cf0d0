//! LIST and LSUB pattern matching (RFC 3501 §6.3.8, RFC 9051 §6.3.9): `*` matches
//! any run of characters, `%` any run without the hierarchy delimiter.
//!
//! Where it sits: the server's LIST, LSUB and LIST-EXTENDED test every mailbox name
//! against the client's pattern here. The pattern is the client's (up to a whole
//! command line), so the matcher is iterative and takes O(name × pattern) steps at
//! worst, never exponential time: it runs the pattern as a set of positions over the
//! name, one byte at a time (a Thompson-style simulation). Runs of wildcards collapse
//! first (`**`, `*%` and `%*` are `*`; `%%` is `%`), and a pattern with more plain
//! characters than the name cannot match, so the pattern it walks is never longer than
//! about twice the name.

/// Whether `name` matches `pattern`, with `*` and `%` as wildcards and `delimiter` as
/// the hierarchy delimiter. Byte-wise and case-sensitive (INBOX is the caller's).
pub fn matches(name: &[u8], pattern: &[u8], delimiter: u8) -> bool {
    let pattern = collapse(pattern);
    let plain = pattern.iter().filter(|&&b| !is_wild(b)).count();
    if plain > name.len() {
        return false;
    }
    // `live[p]`: the pattern's first `p` bytes match the name read so far.
    let m = pattern.len();
    let mut live = vec![false; m + 1];
    let mut next = vec![false; m + 1];
    live[0] = true;
    close(&pattern, &mut live);
    for &c in name {
        next.iter_mut().for_each(|s| *s = false);
        let mut any = false;
        for p in 0..m {
            if !live[p] {
                continue;
            }
            match pattern[p] {
                b'*' => next[p] = true,
                b'%' if c != delimiter => next[p] = true,
                b'%' => {}
                b if b == c => next[p + 1] = true,
                _ => continue,
            }
            any = true;
        }
        if !any {
            return false;
        }
        close(&pattern, &mut next);
        std::mem::swap(&mut live, &mut next);
    }
    live[m]
}

fn is_wild(b: u8) -> bool {
    b == b'*' || b == b'%'
}

/// A wildcard may match nothing: a live position on one lets the next one live too.
fn close(pattern: &[u8], live: &mut [bool]) {
    for p in 0..pattern.len() {
        if live[p] && is_wild(pattern[p]) {
            live[p + 1] = true;
        }
    }
}

/// The pattern with each run of wildcards as one: `*` if the run has one, else `%`.
fn collapse(pattern: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(pattern.len());
    for &b in pattern {
        match (out.last().copied(), b) {
            (Some(b'*'), b'*' | b'%') => {}
            (Some(b'%'), b'*') => {
                out.pop();
                out.push(b'*');
            }
            (Some(b'%'), b'%') => {}
            _ => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain recursive definition, for short inputs only.
    fn reference(name: &[u8], pattern: &[u8]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some((b'*', rest)) => (0..=name.len()).any(|i| reference(&name[i..], rest)),
            Some((b'%', rest)) => {
                let stop = name.iter().position(|&b| b == b'/').unwrap_or(name.len());
                (0..=stop).any(|i| reference(&name[i..], rest))
            }
            Some((&c, rest)) => name.first() == Some(&c) && reference(&name[1..], rest),
        }
    }

    fn m(name: &str, pattern: &str) -> bool {
        matches(name.as_bytes(), pattern.as_bytes(), b'/')
    }

    #[test]
    fn table() {
        let table = [
            ("a/b/c", "*", true),
            ("a/b/c", "a/*", true),
            ("a/b/c", "a/%", false),
            ("a/b", "a/%", true),
            ("a", "%", true),
            ("a/b", "%", false),
            ("a/b", "%/%", true),
            ("a/b", "%*", true),
            ("a/b", "%%", false),
            ("Sent", "S%t", true),
            ("Sent", "Trash", false),
            ("", "", true),
            ("", "*", true),
            ("", "%", true),
            ("a", "", false),
            ("abc", "a*c", true),
            ("abc", "a*b", false),
            ("a/c", "a%c", false),
            ("aXbXc", "*X*X*", true),
            ("aXb", "*X*X*", false),
        ];
        for (name, pattern, expected) in table {
            assert_eq!(m(name, pattern), expected, "{name:?} against {pattern:?}");
        }
    }

    #[test]
    fn adversarial_patterns_take_no_time() {
        let start = std::time::Instant::now();
        let name = "a".repeat(60);
        assert!(!m(&name, "*a*a*a*a*a*a*a*a*ab"));
        assert!(!m(&name, "%a%a%a%a%a%a%a%a%ab"));
        let long = "*a".repeat(10_000) + "b";
        assert!(!m(&name, &long));
        let wild = "*%".repeat(10_000);
        assert!(m(&name, &wild));
        let big = "a".repeat(1000);
        assert!(!m(&big, &("*a".repeat(400) + "b")));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn long_patterns_need_no_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let name = "a/".repeat(500);
                let pattern = "*".repeat(20_000) + &"%/".repeat(500);
                assert!(m(&name, &pattern));
                assert!(!m(&name, &"x".repeat(20_000)));
            })
            .expect("thread");
        handle.join().expect("no overflow");
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference(
            name in "[ab/]{0,8}",
            pattern in "[ab/*%]{0,8}",
        ) {
            prop_assert_eq!(
                matches(name.as_bytes(), pattern.as_bytes(), b'/'),
                reference(name.as_bytes(), pattern.as_bytes())
            );
        }
    }
}
