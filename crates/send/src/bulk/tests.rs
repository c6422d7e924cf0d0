//! The bulk runner against the local queue (an in-memory store): checks before
//! sending, personalisation, results, resume.

use super::*;
use store::Store;
use store::memory::MemoryStore;

fn template() -> Draft {
    Draft {
        from: "News <news@example.org>".into(),
        subject: Some("Hello {{name}}".into()),
        text: Some("Dear {{ name }}, your code is {{code}}.".into()),
        ..Draft::default()
    }
}

fn rows(dir: &Path, n: usize, extra: &str) -> Rows {
    let path = dir.join("people.csv");
    let mut text = String::from("email,name,code\n");
    for i in 1..=n {
        text.push_str(&format!("user{i}@example.org,Name {i},C{i}\n"));
    }
    text.push_str(extra);
    std::fs::write(&path, text).unwrap();
    Rows::read(&path).unwrap()
}

fn job(dir: &Path, rows: Rows) -> Job {
    Job {
        template: template(),
        rows,
        address_column: "email".into(),
        attach_column: None,
        unsubscribe: None,
        concurrency: 3,
        rate: None,
        results: Some(dir.join("results.csv")),
        resume: false,
    }
}

async fn sink(accounts: usize) -> (Arc<MemoryStore>, Sink) {
    let store = Arc::new(MemoryStore::new());
    store
        .domain_add(&message::Domain::parse("example.org").unwrap())
        .await
        .unwrap();
    for i in 1..=accounts {
        let a = Address::parse(&format!("user{i}@example.org")).unwrap();
        store.account_add(&a, "x").await.unwrap();
    }
    let queue = LocalQueue::new(store.clone(), "mx.example.org", None, 0);
    (store, Sink::Local(Box::new(queue), Submitter { uid: 0 }))
}

fn never() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    std::mem::forget(tx);
    rx
}

async fn queued_subjects(store: &MemoryStore) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for entry in store.queue_list().await.unwrap() {
        let body = store.queue_body(entry.id).await.unwrap();
        let m = mail_parser::MessageParser::new().parse(&body).unwrap();
        out.push((
            entry.envelope.recipients[0].to_string(),
            m.subject().unwrap_or_default().to_string(),
        ));
    }
    out.sort();
    out
}

#[test]
fn checks_before_sending() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(dir.path(), 2, "");
    let mut j = job(dir.path(), r.clone());
    j.template.subject = Some("Hi {{first_name}} {{name}} {{city}}".into());
    let e = plan(j).unwrap_err();
    assert!(e.contains("{{city}}, {{first_name}}"), "{e}");

    let mut j = job(dir.path(), r.clone());
    j.address_column = "mail".into();
    assert!(plan(j).unwrap_err().contains("--address-column"));

    let mut j = job(dir.path(), r.clone());
    j.template.cc = vec!["x@example.org".into()];
    assert!(plan(j).unwrap_err().contains("Cc and Bcc"));

    let mut j = job(dir.path(), r.clone());
    j.unsubscribe = Some("https://x.org/u?{{token}}".into());
    assert!(plan(j).unwrap_err().contains("{{token}}"));

    let mut j = job(dir.path(), r.clone());
    j.unsubscribe = Some("ftp://x.org".into());
    assert!(plan(j).is_err());

    let mut j = job(dir.path(), r.clone());
    j.results = None;
    j.resume = true;
    assert!(plan(j).unwrap_err().contains("--results"));

    std::fs::write(dir.path().join("results.csv"), "x").unwrap();
    let e = plan(job(dir.path(), r.clone())).unwrap_err();
    assert!(e.contains("--resume"), "{e}");
    std::fs::remove_file(dir.path().join("results.csv")).unwrap();

    let path = dir.path().join("att.csv");
    std::fs::write(
        &path,
        "email,file\na@example.org,there.txt\nb@example.org,missing.pdf\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("there.txt"), "x").unwrap();
    let mut j = job(dir.path(), Rows::read(&path).unwrap());
    j.template.subject = None;
    j.template.text = Some("x".into());
    j.attach_column = Some("file".into());
    let e = plan(j).unwrap_err();
    assert!(
        e.contains("row 2: missing.pdf") && !e.contains("there.txt"),
        "{e}"
    );
}

#[tokio::test]
async fn sends_one_personalised_message_per_row() {
    let dir = tempfile::tempdir().unwrap();
    // Row 21 is not a local user (refused), row 22 not an address (invalid).
    let r = rows(
        dir.path(),
        20,
        "nobody@example.org,Nobody,X\nnot-an-address,Bad,Y\n",
    );
    let mut j = job(dir.path(), r);
    j.unsubscribe = Some("https://example.org/unsub?u={{email}}&c={{code}}".into());
    let (store, sink) = sink(20).await;
    let seen = Arc::new(Mutex::new(0));
    let counter = seen.clone();
    let summary = run(
        plan(j).unwrap(),
        sink,
        never(),
        Box::new(move |_| *counter.lock().unwrap() += 1),
    )
    .await
    .unwrap();
    assert_eq!(summary.count(Status::Sent), 20);
    assert_eq!(summary.count(Status::Refused), 1);
    assert_eq!(summary.count(Status::Invalid), 1);
    assert_eq!(summary.not_attempted, 0);
    assert_eq!(*seen.lock().unwrap(), 22);

    let subjects = queued_subjects(&store).await;
    assert_eq!(subjects.len(), 20);
    assert!(subjects.contains(&("user7@example.org".into(), "Hello Name 7".into())));

    let entry = store
        .queue_list()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.envelope.recipients[0].to_string() == "user3@example.org")
        .unwrap();
    let body = String::from_utf8(store.queue_body(entry.id).await.unwrap()).unwrap();
    assert!(body.contains("\r\nTo: <user3@example.org>\r\n"), "{body}");
    assert!(
        body.contains(
            "List-Unsubscribe: <https://example.org/unsub?u=user3%40example.org&c=C3>\r\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"),
        "{body}"
    );
    assert!(body.contains("Dear Name 3, your code is C3."), "{body}");

    let results = journal::load(&dir.path().join("results.csv")).unwrap();
    assert_eq!(results.len(), 22);
    assert_eq!(results[&21].status, Status::Refused);
    assert_eq!(results[&22].status, Status::Invalid);
    assert!(!results[&5].queue_id.is_empty());
    let text = std::fs::read_to_string(dir.path().join("results.csv")).unwrap();
    assert_eq!(text.lines().count(), 23, "one line per row after the run");
}

#[tokio::test]
async fn resume_sends_only_what_is_left() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(dir.path(), 6, "");
    let results = dir.path().join("results.csv");
    // A killed run: 1 sent, 2 in flight, 3 deferred, 4 pending then refused.
    std::fs::write(
        &results,
        "row,address,status,reply,queue_id\n\
         1,user1@example.org,pending,,\n\
         1,user1@example.org,sent,250 ok,q1\n\
         2,user2@example.org,pending,,\n\
         3,user3@example.org,deferred,451 later,\n\
         4,user4@example.org,pending,,\n\
         4,user4@example.org,refused,550 no,\n",
    )
    .unwrap();
    let mut j = job(dir.path(), r);
    j.resume = true;
    let p = plan(j).unwrap();
    assert_eq!(p.todo, [3, 5, 6]);
    let (store, sink) = sink(6).await;
    let summary = run(p, sink, never(), Box::new(|_| {})).await.unwrap();
    let sent: Vec<String> = queued_subjects(&store)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    assert_eq!(
        sent,
        [
            "user3@example.org",
            "user5@example.org",
            "user6@example.org"
        ]
    );
    assert_eq!(summary.count(Status::Sent), 4);
    assert_eq!(summary.count(Status::Unknown), 1);
    assert_eq!(summary.count(Status::Refused), 1);
    let loaded = journal::load(&results).unwrap();
    assert_eq!(loaded[&2].status, Status::Unknown);
    assert_eq!(loaded[&3].status, Status::Sent);
    assert_eq!(loaded.len(), 6);

    // A results file for other rows is refused.
    let other = rows(dir.path(), 6, "");
    std::fs::write(
        &results,
        "row,address,status,reply,queue_id\n1,someone@else.org,sent,ok,\n",
    )
    .unwrap();
    let mut j = job(dir.path(), other);
    j.resume = true;
    assert!(plan(j).unwrap_err().contains("does not match"));
}

#[tokio::test]
async fn a_stopped_run_sends_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let r = rows(dir.path(), 5, "");
    let (tx, rx) = watch::channel(true);
    let (store, sink) = sink(5).await;
    let summary = run(
        plan(job(dir.path(), r)).unwrap(),
        sink,
        rx,
        Box::new(|_| {}),
    )
    .await
    .unwrap();
    drop(tx);
    assert!(summary.stopped);
    assert_eq!(summary.not_attempted, 5);
    assert!(store.queue_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn per_row_attachments_and_template_to() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.csv");
    std::fs::write(
        &path,
        "Email,Name,Invoice\nuser1@example.org,Zoë,inv/1.pdf\nuser2@example.org,Bob,\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("inv")).unwrap();
    std::fs::write(dir.path().join("inv/1.pdf"), b"%PDF-1").unwrap();
    let mut j = job(dir.path(), Rows::read(&path).unwrap());
    j.template.to = vec!["{{name}} <{{email}}>".into()];
    j.template.text = Some("Hi {{Name}}".into());
    j.template.subject = Some("Invoice for {{name}}".into());
    j.attach_column = Some("invoice".into());
    let (store, sink) = sink(2).await;
    let summary = run(plan(j).unwrap(), sink, never(), Box::new(|_| {}))
        .await
        .unwrap();
    assert_eq!(summary.count(Status::Sent), 2);
    for entry in store.queue_list().await.unwrap() {
        let body = store.queue_body(entry.id).await.unwrap();
        let m = mail_parser::MessageParser::new().parse(&body).unwrap();
        let to = m.to().unwrap().first().unwrap();
        if entry.envelope.recipients[0].to_string() == "user1@example.org" {
            assert_eq!(to.name.as_deref(), Some("Zoë"));
            assert_eq!(m.subject(), Some("Invoice for Zoë"));
            let att: Vec<_> = m.attachments().collect();
            assert_eq!(att.len(), 1);
            assert_eq!(att[0].contents(), b"%PDF-1");
        } else {
            assert_eq!(m.attachments().count(), 0);
        }
    }
}
