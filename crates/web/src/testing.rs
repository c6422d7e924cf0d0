//! Test helpers shared by the web crate's unit tests: a [`WebState`] over an
//! in-memory store whose login checks passwords directly (no throttle), and requests
//! through the router without sockets.

use crate::login::{LoginOutcome, Purpose};
use crate::principal::ConnInfo;
use crate::status::ServerStatus;
use crate::{MailPorts, WebState};
use message::{Address, Domain};
use std::sync::Arc;
use store::Store;

/// The mail ports the test state advertises.
pub const PORTS: MailPorts = MailPorts {
    imaps: Some(1993),
    pop3s: Some(1995),
    submissions: Some(1465),
};

/// A state over a fresh in-memory store with `example.org` local.
pub async fn state_with(config: config::Config) -> WebState {
    let store = store::memory::MemoryStore::new();
    store
        .domain_add(&Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let config = Arc::new(config);
    let login_store = store.clone();
    WebState {
        store,
        config: Arc::new(move || config.clone()),
        ports: PORTS,
        metrics: Arc::new(|| "postie_up 1\n".to_string()),
        login: Arc::new(move |_ip, user, password, purpose| {
            let store = login_store.clone();
            Box::pin(async move { check(store.as_ref(), &user, &password, purpose).await })
        }),
        status: Arc::new(ServerStatus::default),
        sessions: Arc::new(crate::session::Sessions::new()),
        capture: None,
    }
}

/// [`state_with`] the default config and host name `mail.example.net`.
pub async fn state() -> WebState {
    state_with(config::Config {
        hostname: "mail.example.net".into(),
        ..config::Config::default()
    })
    .await
}

/// A loopback, plain-HTTP connection.
pub fn conn() -> ConnInfo {
    ConnInfo {
        peer: std::net::SocketAddr::from(([127, 0, 0, 1], 40000)),
        secure: false,
    }
}

/// Adds an account with `password` (a cheap test hash), and the admin flag.
pub async fn add_account(state: &WebState, address: &str, password: &str, admin: bool) {
    let address = Address::parse(address).unwrap();
    let hash = store::password::hash(password).unwrap();
    state.store.account_add(&address, &hash).await.unwrap();
    if admin {
        state.store.account_set_admin(&address, true).await.unwrap();
    }
}

/// The password check without a throttle: the account password, or for the API an
/// app password too.
async fn check(store: &dyn Store, user: &str, password: &str, purpose: Purpose) -> LoginOutcome {
    let Ok(address) = Address::parse(user) else {
        return LoginOutcome::Wrong;
    };
    let Ok(Some(account)) = store.account_get(&address).await else {
        return LoginOutcome::Wrong;
    };
    if purpose == Purpose::Api
        && let Some((id, secret)) = store::app_password::parse(password)
        && let Ok(Some(app)) = store.app_password_get(account.id, id).await
    {
        return if store::password::verify(secret, &app.hash) {
            LoginOutcome::Ok(account)
        } else {
            LoginOutcome::Wrong
        };
    }
    if store::password::verify(password, &account.password_hash) {
        LoginOutcome::Ok(account)
    } else {
        LoginOutcome::Wrong
    }
}
