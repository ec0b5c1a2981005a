//! The outbox and its delivery worker, end to end on both backends: an SMTP server that is down
//! and then comes up gets the letter exactly once; the file transport writes one `.eml`; the
//! outbox columns hold no plaintext. The worker is driven one round at a time
//! ([`worker::Stepper::run_once`], the loop's own round), so no test waits for it to come round.

use crate::common;

use common::{cipher_of, TestApp};
use loket::config::{MailTransportKind, Settings, SmtpTls};
use loket::crypto::Cipher;
use loket::db::StoreError;
use loket::mail::letters::LetterKind;
use loket::mail::outbox::{self, NewMail, OutboxEntry, OutboxStatus};
use loket::mail::worker::{self, Stepper, WorkerHandle};
use loket::vocabulary::Language;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const RECIPIENT: &str = "jan.jansen@example.nl";
const SUBJECT: &str = "Ontvangstbevestiging AVG-2026-0042";
const BODY: &str = "Beste Jan Jansen, wij hebben uw verzoek ontvangen.";
/// The wait before a failed letter is due again: a test waits it out once, it does not poll.
const BACKOFF_MS: u64 = 2;

/// Quick retries, so a test waits only milliseconds for a retry to be due.
fn quick_mail(settings: &mut Settings) {
    settings.mail.backoff_base_ms = BACKOFF_MS;
    settings.mail.backoff_max_ms = BACKOFF_MS;
    settings.mail.max_attempts = 1_000;
    settings.mail.smtp_timeout_secs = 5;
}

/// SMTP without TLS on a loopback port that nothing listens on yet.
fn smtp_on_free_port(settings: &mut Settings) {
    quick_mail(settings);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    settings.mail.transport = MailTransportKind::Smtp;
    settings.mail.smtp_tls = SmtpTls::None;
    settings.mail.smtp_host = "127.0.0.1".into();
    settings.mail.smtp_port = port;
}

fn spawn_worker(app: &TestApp) -> WorkerHandle {
    worker::spawn(app.store.clone(), cipher_of(&app.settings), &app.settings).expect("worker")
}

/// A worker driven by the test, one round at a time; two stand for two loket instances. The
/// server's own worker is stopped first, so the test's rounds are the only ones.
async fn stepper(app: &TestApp) -> Stepper {
    app.stop_mail_worker().await;
    Stepper::new(app.store.clone(), cipher_of(&app.settings), &app.settings).expect("worker")
}

/// Waits out the backoff after a failed attempt (a known, fixed delay), so the next round
/// finds the letter due.
async fn backoff_passes() {
    tokio::time::sleep(Duration::from_millis(BACKOFF_MS + 1)).await;
}

async fn enqueue(app: &TestApp) -> String {
    let cipher = cipher_of(&app.settings);
    app.store
        .write(move |conn| {
            outbox::enqueue(
                conn,
                &cipher,
                NewMail {
                    request_id: None,
                    letter: LetterKind::ReceiptConfirmation,
                    language: Language::Nl,
                    recipient: RECIPIENT,
                    subject: SUBJECT,
                    body: BODY,
                },
            )
        })
        .await
        .expect("enqueued")
}

async fn entry(app: &TestApp, cipher: &Cipher, id: &str) -> OutboxEntry {
    let (cipher, id) = (cipher.clone(), id.to_string());
    app.store
        .read(move |conn| outbox::find(conn, &cipher, &id))
        .await
        .expect("outbox read")
        .expect("outbox entry exists")
}

/// A minimal SMTP server that accepts everything and records each message's DATA.
struct SmtpServer {
    messages: Arc<Mutex<Vec<String>>>,
}

impl SmtpServer {
    async fn start(port: u16) -> SmtpServer {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("SMTP port is free again");
        let messages = Arc::new(Mutex::new(Vec::new()));
        let recorded = messages.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(smtp_session(socket, recorded.clone()));
            }
        });
        SmtpServer { messages }
    }

    fn received(&self) -> Vec<String> {
        self.messages.lock().unwrap().clone()
    }
}

async fn smtp_session(socket: TcpStream, messages: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let (reader, mut writer) = socket.into_split();
    let mut lines = BufReader::new(reader).lines();
    writer.write_all(b"220 test ESMTP ready\r\n").await?;
    let mut data: Option<String> = None;
    while let Some(line) = lines.next_line().await? {
        if let Some(message) = data.as_mut() {
            if line == "." {
                messages.lock().unwrap().push(std::mem::take(message));
                data = None;
                writer.write_all(b"250 2.0.0 queued\r\n").await?;
            } else {
                // Dot-stuffing: a leading dot of the text was doubled by the client.
                message.push_str(line.strip_prefix('.').unwrap_or(&line));
                message.push('\n');
            }
            continue;
        }
        let command = line.to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-test greets you\r\n250 8BITMIME\r\n"
        } else if command.starts_with("HELO") {
            b"250 test\r\n"
        } else if command.starts_with("DATA") {
            data = Some(String::new());
            b"354 end with <CRLF>.<CRLF>\r\n"
        } else if command.starts_with("QUIT") {
            writer.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if command.starts_with("MAIL")
            || command.starts_with("RCPT")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        writer.write_all(reply).await?;
    }
    Ok(())
}

backend_tests_with! {
    async fn smtp_down_then_up_delivers_exactly_once(app: TestApp) configured smtp_on_free_port; {
        // Two workers stand for two loket instances sharing the database.
        let (first, second) = (stepper(&app).await, stepper(&app).await);
        let cipher = cipher_of(&app.settings);
        let id = enqueue(&app).await;

        first.run_once().await;
        let waiting = entry(&app, &cipher, &id).await;
        assert_eq!(waiting.attempts, 1);
        assert_eq!(waiting.status, "pending", "SMTP down: the letter waits, it is not lost");
        let error = waiting.last_error.unwrap();
        assert!(error.starts_with("smtp:"), "{error}");
        assert!(!error.contains("jan"), "no personal data in the error: {error}");

        let server = SmtpServer::start(app.settings.mail.smtp_port).await;
        backoff_passes().await;
        second.run_once().await;
        let sent = entry(&app, &cipher, &id).await;
        assert_eq!(sent.status, "sent");
        assert_eq!(sent.attempts, 2);
        assert!(sent.sent_at.is_some());
        assert_eq!(sent.last_error, None);

        // More rounds of both workers: still delivered once.
        backoff_passes().await;
        for _ in 0..3 {
            first.run_once().await;
            second.run_once().await;
        }
        let received = server.received();
        assert_eq!(received.len(), 1, "delivered exactly once");
        assert!(received[0].contains(&format!("Subject: {SUBJECT}")), "{}", received[0]);
        assert!(received[0].contains("To: jan.jansen@example.nl"), "{}", received[0]);
        assert_eq!(entry(&app, &cipher, &id).await.status, "sent");
    }

    async fn a_letter_that_can_never_go_is_marked_failed(app: TestApp) configured |s: &mut Settings| { smtp_on_free_port(s); s.mail.max_attempts = 2; }; {
        let worker = stepper(&app).await;
        let cipher = cipher_of(&app.settings);
        let id = enqueue(&app).await;
        worker.run_once().await;
        assert_eq!(entry(&app, &cipher, &id).await.status, "pending", "one failure is retried");
        backoff_passes().await;
        worker.run_once().await;
        let failed = entry(&app, &cipher, &id).await;
        assert_eq!(failed.status, "failed");
        assert_eq!(failed.attempts, 2);
        assert!(failed.last_error.is_some());
        // Given up: no further round tries it.
        backoff_passes().await;
        worker.run_once().await;
        assert_eq!(entry(&app, &cipher, &id).await.attempts, 2);
        let (failed_list, total) = app
            .store
            .read(move |conn| outbox::list(conn, &cipher, Some(OutboxStatus::Failed), 0, 10))
            .await
            .unwrap();
        assert_eq!(total, 1);
        assert_eq!(failed_list[0].id, id);
    }

    async fn file_transport_writes_one_eml_file(app: TestApp) configured quick_mail; {
        let worker = stepper(&app).await;
        let id = enqueue(&app).await;
        worker.run_once().await;
        let sent = entry(&app, &cipher_of(&app.settings), &id).await;
        assert_eq!(sent.status, "sent");
        assert_eq!(sent.attempts, 1);
        assert_eq!(sent.recipient, RECIPIENT);
        assert_eq!(sent.subject, SUBJECT);
        assert_eq!(sent.letter, "receipt_confirmation");
        assert_eq!(sent.language, "nl");

        // Another round sends nothing more.
        worker.run_once().await;
        let files: Vec<_> = std::fs::read_dir(app.settings.mail_dir())
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        assert_eq!(files.len(), 1, "{files:?}");
        let eml = std::fs::read_to_string(&files[0]).unwrap();
        assert!(eml.contains(&format!("Subject: {SUBJECT}")), "{eml}");
        // Delivery is at least once; every attempt carries this id, so a copy can be dropped.
        assert!(eml.contains(&format!("Message-ID: <{id}@localhost>")), "{eml}");

        let cipher = cipher_of(&app.settings);
        let (pending, total) = app
            .store
            .read(move |conn| outbox::list(conn, &cipher, Some(OutboxStatus::Pending), 0, 10))
            .await
            .unwrap();
        assert!(pending.is_empty());
        assert_eq!(total, 0);
    }

    async fn outbox_columns_hold_no_plaintext(app: TestApp) configured quick_mail; {
        let id = enqueue(&app).await;
        let stored: Vec<(String, String, String)> = app
            .store
            .read(|conn| {
                use diesel::prelude::*;
                use loket::db::schema::outbox::dsl::*;
                outbox
                    .select((recipient_enc, subject_enc, body_enc))
                    .load(conn)
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        let raw = format!("{stored:?}");
        for plain in [RECIPIENT, "jan.jansen", SUBJECT, "AVG-2026-0042", BODY, "Jan Jansen"] {
            assert!(!raw.contains(plain), "{plain} stored in the clear");
        }
        if app.backend == loket::db::Backend::Sqlite {
            let database = app.settings.data_dir.join("loket.db");
            let mut bytes = std::fs::read(&database).unwrap();
            bytes.extend(std::fs::read(database.with_extension("db-wal")).unwrap_or_default());
            for plain in [RECIPIENT, SUBJECT, BODY] {
                assert!(
                    !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                    "{plain} found in the SQLite file"
                );
            }
        }
        // And the desk can still read it.
        let cipher = cipher_of(&app.settings);
        let read = entry(&app, &cipher, &id).await;
        assert_eq!((read.recipient.as_str(), read.subject.as_str()), (RECIPIENT, SUBJECT));
    }

    async fn letters_are_claimed_in_groups_once_each_and_given_back_unsent(app: TestApp) configured quick_mail; {
        use loket::db::models::outbox as rows;
        app.stop_mail_worker().await;
        let mut ids = Vec::new();
        for _ in 0..5 {
            ids.push(enqueue(&app).await);
        }
        // Two workers (two loket instances) claiming in turn.
        let claim = |limit: i64| {
            let now = loket::db::now();
            let lease_until = now + chrono::Duration::minutes(10);
            app.store.read(move |conn| rows::claim_group(conn, now, lease_until, limit))
        };
        let first = claim(3).await.unwrap();
        let first_ids: Vec<&str> = first.iter().map(|row| row.id.as_str()).collect();
        assert_eq!(first_ids, ids[..3], "the three waiting longest, oldest first");
        assert!(first.iter().all(|row| row.attempts == 1), "the attempt is counted");
        let second: Vec<String> = claim(16).await.unwrap().into_iter().map(|row| row.id).collect();
        assert_eq!(second, ids[3..], "only what the first worker did not take");
        assert!(claim(16).await.unwrap().is_empty(), "nothing is taken twice while its lease runs");

        // A worker that stops gives back what it did not send: due at once, the attempt uncounted.
        let unsent = ids[..2].to_vec();
        app.store
            .read(move |conn| rows::release(conn, &unsent, loket::db::now()))
            .await
            .unwrap();
        let again = claim(16).await.unwrap();
        let again_ids: Vec<&str> = again.iter().map(|row| row.id.as_str()).collect();
        assert_eq!(again_ids, ids[..2]);
        assert!(again.iter().all(|row| row.attempts == 1), "{again:?}");
    }

    async fn stopping_mid_round_is_clean(app: TestApp) configured quick_mail; {
        for _ in 0..30 {
            enqueue(&app).await;
        }
        let worker = spawn_worker(&app);
        worker.wake();
        // Let the woken worker start its round; where it is when told to stop does not matter.
        tokio::task::yield_now().await;
        tokio::time::timeout(Duration::from_secs(10), worker.shutdown())
            .await
            .expect("worker stops within the SMTP timeout")
            .expect("worker stops cleanly");
    }
}
