//! Password checks shared by every protocol driver, through [`crate::login`]: an app
//! password of the account (`postie user app-password`, see [`store::app_password`]),
//! or the account's own password unless `auth.account_password = "web-only"`.
//!
//! Each check costs exactly one argon2 verification whatever the outcome: a password of
//! the app-password form names its record by id, so only that one hash is checked (and
//! when no such record exists, the account password is); an unknown user is checked
//! against a fixed dummy hash. So the time a reply takes tells a guesser little about
//! which accounts or app passwords exist. A successful app-password login records its
//! last use. The argon2 work runs on the blocking pool, a bounded number at once
//! ([`hashing_slots`]). Never logs passwords.
//!
//! A right password whose SCRAM-SHA-256 keys (`store::scram`) are missing or stale gets
//! them made now, in the same bounded slots: that is how accounts from before SCRAM
//! (and passwords changed behind the server's back) become usable with SCRAM.

use config::AccountPassword;
use message::Address;
use std::sync::OnceLock;
use store::{Account, Store, StoreError};

/// What a password check found.
#[derive(Debug)]
pub(crate) enum Checked {
    /// The credentials are right.
    Ok(Account),
    /// Unknown user or wrong password (the caller cannot tell which from the reply);
    /// `account_exists` is for the throttle only.
    Wrong {
        /// The login name is an account.
        account_exists: bool,
    },
}

/// Where the password is presented, which decides the passwords that count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// SMTP AUTH, POP3, IMAP: an app password, or the account password unless
    /// `auth.account_password = "web-only"`.
    Mail,
    /// The web pages' sign-in form: the account password only, whatever
    /// `auth.account_password` says.
    WebPage,
    /// HTTP Basic on the API: an app password or the account password, whatever
    /// `auth.account_password` says.
    Api,
}

impl Via {
    /// The check for a login by `protocol` (the name logs and metrics use: `web` and
    /// `api` are the web face's, anything else a mail protocol).
    pub(crate) fn of(protocol: &str) -> Via {
        match protocol {
            "web" => Via::WebPage,
            "api" => Via::Api,
            _ => Via::Mail,
        }
    }
}

/// Checks `password` for the account named `username` (a mail address), presented
/// `via` a mail protocol or the web face.
pub(crate) async fn check(
    store: &dyn Store,
    auth: &config::Auth,
    username: &str,
    password: String,
    via: Via,
) -> Result<Checked, StoreError> {
    let account = match Address::parse(username.trim()) {
        Ok(address) => store.account_get(&address).await?,
        Err(_) => None,
    };
    let Some(account) = account else {
        tracing::info!(user = %username, "login failed: no such account");
        // The same argon2 work as for a real account.
        verify(password, dummy_hash().to_owned()).await;
        return Ok(Checked::Wrong {
            account_exists: false,
        });
    };
    if via != Via::WebPage
        && let Some((id, secret)) = store::app_password::parse(&password)
        && let Some(app) = store.app_password_get(account.id, id).await?
    {
        if !verify(secret.to_owned(), app.hash.clone()).await {
            tracing::info!(user = %username, app_password = %app.name, "login failed: wrong app password");
            return Ok(Checked::Wrong {
                account_exists: true,
            });
        }
        tracing::info!(user = %username, app_password = %app.name, "logged in with an app password");
        let label = store::scram::app_label(id);
        refresh_scram(store, account.id, &label, password.clone(), &app.hash).await;
        if let Err(e) = store.app_password_used(account.id, id, now_unix()).await {
            // The login stands; only the "last used" note is lost.
            tracing::warn!(error = %e, "could not record the app password's last use");
        }
        return Ok(Checked::Ok(account));
    }
    let right = verify(password.clone(), account.password_hash.clone()).await;
    if !right {
        tracing::info!(user = %username, "login failed: wrong password");
        return Ok(Checked::Wrong {
            account_exists: true,
        });
    }
    // Also under web-only: the keys exist, but SCRAM on the mail protocols skips them.
    let hash = account.password_hash.clone();
    refresh_scram(store, account.id, store::scram::ACCOUNT, password, &hash).await;
    if via == Via::Mail && auth.account_password == AccountPassword::WebOnly {
        tracing::info!(user = %username, "login failed: the account password is for the web page only (auth.account_password); use an app password");
        return Ok(Checked::Wrong {
            account_exists: true,
        });
    }
    Ok(Checked::Ok(account))
}

/// Makes the SCRAM keys of a credential just proven right, unless they are current
/// (RFC 5802 §3; the PBKDF2 work in the hashing slots). Failures are logged: the login
/// stands, and the next one tries again.
async fn refresh_scram(
    store: &dyn Store,
    account: store::AccountId,
    label: &str,
    password: String,
    hash: &str,
) {
    let record = match store::scram::load(store, account).await {
        Ok(record) => record,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the SCRAM keys");
            return;
        }
    };
    if record.as_ref().is_some_and(|r| r.is_current(label, hash)) {
        return;
    }
    let mut record = record.unwrap_or_default();
    let (l, h) = (label.to_owned(), hash.to_owned());
    let Some(record) = run_bounded(hashing_slots(), move || {
        record.set(&l, &password, &h);
        record
    })
    .await
    else {
        return;
    };
    match store::scram::save(store, account, &record).await {
        Ok(()) => tracing::info!(account = account.0, credential = %label, "SCRAM keys made"),
        Err(e) => tracing::warn!(error = %e, "could not keep the SCRAM keys"),
    }
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Verifies on the blocking pool, at most [`hashing_slots`] at once.
async fn verify(password: String, hash: String) -> bool {
    run_bounded(hashing_slots(), move || {
        store::password::verify(&password, &hash)
    })
    .await
    .unwrap_or(false)
}

/// How many argon2 verifications may run at once, server-wide: one per core (at least
/// two). Each takes a 19 MiB memory block and a core for tens of milliseconds, so
/// unbounded they cost memory in proportion to the logins in flight: 50 IMAP clients
/// logging in together peaked at 285 MiB of hash blocks (bench/imap-load), and a
/// stranger opening many connections at once could push it to the connection limit
/// times 19 MiB. More than one per core buys no speed anyway. Logins past the slots
/// wait their turn (within their command deadline).
pub(crate) fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(slot_count()))
}

/// One per core, at least two.
fn slot_count() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    cores.max(2)
}

/// Runs `work` on the blocking pool once `slots` has a permit for it; `None` if the
/// work panicked.
pub(crate) async fn run_bounded<R: Send + 'static>(
    slots: &tokio::sync::Semaphore,
    work: impl FnOnce() -> R + Send + 'static,
) -> Option<R> {
    let _permit = slots.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

/// An argon2 hash of a random password nobody knows, made once, for checks of unknown
/// users.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let secret: [u8; 16] = rand::random();
        let text: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        store::password::hash(&text).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check from a mail protocol.
    async fn check(
        store: &dyn Store,
        auth: &config::Auth,
        username: &str,
        password: String,
    ) -> Result<Checked, StoreError> {
        super::check(store, auth, username, password, Via::Mail).await
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use store::memory::MemoryStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_verifications_at_once_than_slots() {
        let slots = Arc::new(tokio::sync::Semaphore::new(2));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..12 {
            let (slots, in_flight, most) = (slots.clone(), in_flight.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                run_bounded(&slots, move || {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Long enough for the others to pile up if nothing held them back.
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    i
                })
                .await
            }));
        }
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().unwrap());
        }
        done.sort_unstable();
        assert_eq!(done, (0..12).collect::<Vec<_>>(), "every check ran");
        assert!(most.load(Ordering::SeqCst) <= 2, "{most:?} at once");
        assert_eq!(most.load(Ordering::SeqCst), 2, "the slots were used");
    }

    #[test]
    fn at_least_two_slots() {
        assert!(slot_count() >= 2);
    }

    async fn store_with_alice() -> MemoryStore {
        let store = MemoryStore::new();
        store
            .domain_add(&message::Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        let hash = store::password::hash("alice-secret").unwrap();
        store
            .account_add(&Address::parse("alice@example.org").unwrap(), &hash)
            .await
            .unwrap();
        store
    }

    #[tokio::test]
    async fn right_wrong_and_unknown() {
        let store = store_with_alice().await;
        let auth = config::Auth::default();
        let ok = check(&store, &auth, "Alice@example.org", "alice-secret".into()).await;
        assert!(matches!(ok, Ok(Checked::Ok(a)) if a.address.to_string() == "alice@example.org"));
        let wrong = check(&store, &auth, "alice@example.org", "nope".into()).await;
        assert!(matches!(
            wrong,
            Ok(Checked::Wrong {
                account_exists: true
            })
        ));
        for name in ["bob@example.org", "not an address"] {
            let unknown = check(&store, &auth, name, "alice-secret".into()).await;
            assert!(matches!(
                unknown,
                Ok(Checked::Wrong {
                    account_exists: false
                })
            ));
        }
    }

    #[tokio::test]
    async fn web_only_refuses_the_account_password() {
        let store = store_with_alice().await;
        let auth = config::Auth {
            account_password: AccountPassword::WebOnly,
            ..config::Auth::default()
        };
        let got = check(&store, &auth, "alice@example.org", "alice-secret".into()).await;
        assert!(matches!(
            got,
            Ok(Checked::Wrong {
                account_exists: true
            })
        ));
    }

    #[tokio::test]
    async fn the_web_takes_the_account_password_even_when_web_only() {
        let store = store_with_alice().await;
        let auth = config::Auth {
            account_password: AccountPassword::WebOnly,
            ..config::Auth::default()
        };
        for via in [Via::WebPage, Via::Api] {
            let got = super::check(
                &store,
                &auth,
                "alice@example.org",
                "alice-secret".into(),
                via,
            )
            .await;
            assert!(matches!(got, Ok(Checked::Ok(_))), "{via:?}");
        }
    }

    #[tokio::test]
    async fn the_sign_in_form_refuses_app_passwords_the_api_takes_them() {
        let store = store_with_alice().await;
        let phone = app_password(&store, "phone").await;
        let auth = config::Auth::default();
        let page = super::check(
            &store,
            &auth,
            "alice@example.org",
            phone.clone(),
            Via::WebPage,
        )
        .await;
        assert!(matches!(page, Ok(Checked::Wrong { .. })));
        let api = super::check(&store, &auth, "alice@example.org", phone, Via::Api).await;
        assert!(matches!(api, Ok(Checked::Ok(_))));
    }

    /// Adds an app password to alice; returns the whole password.
    async fn app_password(store: &MemoryStore, name: &str) -> String {
        let (id, secret, whole) = store::app_password::generate();
        let alice = store
            .account_get(&Address::parse("alice@example.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let hash = store::password::hash(&secret).unwrap();
        store
            .app_password_add(alice.id, name, &id, &hash, 1)
            .await
            .unwrap();
        whole
    }

    #[tokio::test]
    async fn app_passwords_work_and_record_their_use() {
        let store = store_with_alice().await;
        let phone = app_password(&store, "phone").await;
        let web_only = config::Auth {
            account_password: AccountPassword::WebOnly,
            ..config::Auth::default()
        };
        for auth in [config::Auth::default(), web_only] {
            let got = check(&store, &auth, "alice@example.org", phone.clone()).await;
            assert!(matches!(got, Ok(Checked::Ok(_))), "{auth:?}");
        }
        let alice = store
            .account_get(&Address::parse("alice@example.org").unwrap())
            .await
            .unwrap()
            .unwrap();
        let list = store.app_password_list(alice.id).await.unwrap();
        assert!(list[0].last_used.is_some_and(|t| t > 1_000_000_000));

        // The right id with a wrong secret fails; so does another user's name.
        let (id, _) = store::app_password::parse(&phone).unwrap();
        let forged = format!("postie-{id}-{}", "a".repeat(24));
        let got = check(
            &store,
            &config::Auth::default(),
            "alice@example.org",
            forged,
        )
        .await;
        assert!(matches!(
            got,
            Ok(Checked::Wrong {
                account_exists: true
            })
        ));

        // Revoked: refused.
        store.app_password_revoke(alice.id, "phone").await.unwrap();
        let got = check(&store, &config::Auth::default(), "alice@example.org", phone).await;
        assert!(matches!(
            got,
            Ok(Checked::Wrong {
                account_exists: true
            })
        ));
    }

    #[tokio::test]
    async fn an_account_password_shaped_like_an_app_password_still_works() {
        let store = MemoryStore::new();
        store
            .domain_add(&message::Domain::parse("example.org").unwrap())
            .await
            .unwrap();
        let (_, _, odd) = store::app_password::generate();
        let hash = store::password::hash(&odd).unwrap();
        store
            .account_add(&Address::parse("carol@example.org").unwrap(), &hash)
            .await
            .unwrap();
        let got = check(&store, &config::Auth::default(), "carol@example.org", odd).await;
        assert!(
            matches!(got, Ok(Checked::Ok(_))),
            "no app password has that id"
        );
    }

    #[test]
    fn the_dummy_hash_is_a_real_hash_of_something_else() {
        let hash = dummy_hash();
        assert!(hash.starts_with("$argon2"));
        assert!(!store::password::verify("", hash));
    }
}
