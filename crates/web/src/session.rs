//! Signed-in browser sessions of the web pages, and their CSRF tokens.
//!
//! Where it sits: the sign-in form (`pages::sign_in`) calls [`Sessions::start`] once
//! the password is right and sets the cookie [`cookie`] makes; every page reads the
//! cookie through [`Sessions::get`]; sign-out calls [`Sessions::end`]. Each form
//! carries the session's CSRF token in a hidden `csrf` field and its handler checks it
//! with [`Session::csrf_ok`] (403 without it). The sign-in form itself, before there
//! is a session, uses a double-submit cookie ([`LOGIN_CSRF_COOKIE`]).
//!
//! A session id is 128 random bits from the OS generator; the cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, and `Secure` when served over https. Sessions are kept
//! in this process's memory (a restart signs everyone out; with several nodes behind
//! one name, a browser stays on one node or signs in again), at most
//! [`MAX_SESSIONS`]: past that the oldest is dropped. A session lasts
//! [`IDLE_LIMIT`] without use and [`ABSOLUTE_LIMIT`] at most. Only the account's
//! address is kept: the account itself (admin flag included) is read from the store
//! on every request, so revoking admin or deleting the account takes effect at once.
//!
//! Security stance: ids are compared by map lookup of the whole random string; CSRF
//! tokens in constant time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The session cookie's name.
pub const COOKIE: &str = "postie_session";
/// The sign-in form's double-submit CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "postie_login_csrf";
/// The most sessions kept at once.
pub const MAX_SESSIONS: usize = 10_000;
/// A session unused this long is over.
pub const IDLE_LIMIT: Duration = Duration::from_secs(60 * 60);
/// A session is over this long after sign-in, used or not.
pub const ABSOLUTE_LIMIT: Duration = Duration::from_secs(12 * 60 * 60);

/// One signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account's address, normalized.
    pub address: String,
    /// The token every form of this session carries.
    pub csrf: String,
    started: Instant,
    last_used: Instant,
}

impl Session {
    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), presented.as_bytes())
    }
}

/// The sessions of this process.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// No sessions yet.
    pub fn new() -> Sessions {
        Sessions::default()
    }

    /// Starts a session for `address`; returns its id (the cookie's value).
    pub fn start(&self, address: &str) -> String {
        self.start_at(address, Instant::now())
    }

    fn start_at(&self, address: &str, now: Instant) -> String {
        let id = random_token();
        let session = Session {
            address: address.to_owned(),
            csrf: random_token(),
            started: now,
            last_used: now,
        };
        let mut map = self.lock();
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| alive(s, now));
        }
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), session);
        id
    }

    /// The live session with this id, marked as used now.
    pub fn get(&self, id: &str) -> Option<Session> {
        self.get_at(id, Instant::now())
    }

    fn get_at(&self, id: &str, now: Instant) -> Option<Session> {
        let mut map = self.lock();
        let session = map.get_mut(id)?;
        if !alive(session, now) {
            map.remove(id);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends the session (sign-out).
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Ends every session of `address` (its password changed, it was removed).
    pub fn end_all_of(&self, address: &str) {
        self.lock().retain(|_, s| s.address != address);
    }

    /// How many sessions are kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// No sessions kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves a consistent map (every update is one
        // call), so a poisoned lock is still usable.
        self.by_id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn alive(s: &Session, now: Instant) -> bool {
    now.duration_since(s.last_used) < IDLE_LIMIT && now.duration_since(s.started) < ABSOLUTE_LIMIT
}

/// 128 random bits from the OS generator, as 32 lower-case hex digits.
pub fn random_token() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Set-Cookie` value for a session (or with an empty value and `Max-Age=0`, to
/// clear it): `HttpOnly; SameSite=Strict; Path=/`, and `Secure` over https.
pub fn cookie(name: &str, value: &str, secure: bool) -> String {
    let mut c = format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/");
    if value.is_empty() {
        c.push_str("; Max-Age=0");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// The value of cookie `name` in a `Cookie` request header, if present.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Byte strings compared in time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_get_end() {
        let sessions = Sessions::new();
        let id = sessions.start("alice@example.org");
        let s = sessions.get(&id).expect("live");
        assert_eq!(s.address, "alice@example.org");
        assert!(s.csrf_ok(&s.csrf.clone()));
        assert!(!s.csrf_ok(""));
        assert!(!s.csrf_ok("00000000000000000000000000000000"));
        assert!(sessions.get("nope").is_none());
        sessions.end(&id);
        assert!(sessions.get(&id).is_none());
    }

    #[test]
    fn idle_and_absolute_limits() {
        let sessions = Sessions::new();
        let t0 = Instant::now();
        let id = sessions.start_at("a@example.org", t0);
        assert!(
            sessions
                .get_at(&id, t0 + IDLE_LIMIT - Duration::from_secs(1))
                .is_some()
        );
        assert!(sessions.get_at(&id, t0 + 2 * IDLE_LIMIT).is_none(), "idle");
        let id = sessions.start_at("a@example.org", t0);
        let mut t = t0;
        while t < t0 + ABSOLUTE_LIMIT - IDLE_LIMIT {
            t += IDLE_LIMIT / 2;
            assert!(sessions.get_at(&id, t).is_some());
        }
        assert!(
            sessions.get_at(&id, t0 + ABSOLUTE_LIMIT).is_none(),
            "absolute"
        );
    }

    #[test]
    fn bounded_and_oldest_dropped() {
        let sessions = Sessions::new();
        let t0 = Instant::now();
        let first = sessions.start_at("first@example.org", t0);
        for i in 1..MAX_SESSIONS + 5 {
            sessions.start_at("x@example.org", t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(sessions.len(), MAX_SESSIONS);
        assert!(
            sessions
                .get_at(&first, t0 + Duration::from_secs(1))
                .is_none()
        );
    }

    #[test]
    fn end_all_of_one_address() {
        let sessions = Sessions::new();
        let a = sessions.start("a@example.org");
        let b = sessions.start("b@example.org");
        sessions.end_all_of("a@example.org");
        assert!(sessions.get(&a).is_none());
        assert!(sessions.get(&b).is_some());
    }

    #[test]
    fn cookies() {
        assert_eq!(
            cookie(COOKIE, "abc", true),
            "postie_session=abc; HttpOnly; SameSite=Strict; Path=/; Secure"
        );
        assert!(cookie(COOKIE, "", false).contains("Max-Age=0"));
        assert_eq!(
            cookie_value("a=1; postie_session=xyz; b=2", COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", COOKIE), None);
    }
}
