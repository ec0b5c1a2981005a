//! How a letter leaves loket: as an `.eml` file in the mail directory (the embedded default) or
//! through an SMTP server. Failures are described in a few words that never include the
//! recipient, the subject or the server's reply text (which often quotes the address).

use super::letters::MailError;
use crate::config::{MailTransportKind, Settings, SmtpTls};
use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// A letter ready to go.
pub struct Outgoing<'a> {
    /// The outbox id; every attempt of one letter carries the same Message-ID from it, so a
    /// receiver can drop the copy a crash mid-conversation makes us send again.
    pub outbox_id: &'a str,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub body: &'a str,
}

/// Why an attempt failed, safe to store and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    /// A short description without personal data, e.g. "smtp: connection failed".
    pub error: String,
    /// Retrying cannot help (e.g. the recipient is not an e-mail address).
    pub permanent: bool,
}

impl SendFailure {
    fn retry(error: impl Into<String>) -> Self {
        SendFailure {
            error: error.into(),
            permanent: false,
        }
    }

    fn permanent(error: impl Into<String>) -> Self {
        SendFailure {
            error: error.into(),
            permanent: true,
        }
    }
}

pub enum Transport {
    File(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

impl Transport {
    /// The transport the settings ask for. The file transport's directory is created here
    /// (owner-only, like the data directory: the files hold personal data in the clear).
    pub fn from_settings(settings: &Settings) -> Result<Self, MailError> {
        let mail = &settings.mail;
        match mail.transport {
            MailTransportKind::File => {
                let dir = settings.mail_dir();
                crate::config::create_private_dir(&dir).map_err(|e| {
                    MailError::Config(format!("mail directory {}: {e}", dir.display()))
                })?;
                Ok(Transport::File(AsyncFileTransport::new(dir)))
            }
            MailTransportKind::Smtp => {
                let host = mail.smtp_host.as_str();
                let unusable = |e: lettre::transport::smtp::Error| {
                    MailError::Config(format!("SMTP host {host}: {e}"))
                };
                let builder = match mail.smtp_tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(unusable)?,
                    SmtpTls::Tls => {
                        AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(unusable)?
                    }
                };
                let mut builder = builder
                    .port(mail.smtp_port)
                    .timeout(Some(Duration::from_secs(mail.smtp_timeout_secs.max(1))));
                if let Some(username) = &mail.smtp_username {
                    let password = mail
                        .smtp_password
                        .as_ref()
                        .map(|p| p.expose().to_string())
                        .unwrap_or_default();
                    builder = builder.credentials(Credentials::new(username.clone(), password));
                }
                Ok(Transport::Smtp(builder.build()))
            }
        }
    }

    /// Sends one letter from `from`.
    pub async fn send(&self, from: &Mailbox, letter: &Outgoing<'_>) -> Result<(), SendFailure> {
        let message = build_message(from, letter)?;
        match self {
            Transport::File(transport) => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| describe_file_error(&e)),
            Transport::Smtp(transport) => transport
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| describe_smtp_error(&e)),
        }
    }
}

fn build_message(from: &Mailbox, letter: &Outgoing<'_>) -> Result<Message, SendFailure> {
    let to: Mailbox = letter
        .recipient
        .parse()
        .map_err(|_| SendFailure::permanent("recipient is not a valid e-mail address"))?;
    Message::builder()
        .message_id(Some(format!(
            "<{}@{}>",
            letter.outbox_id,
            from.email.domain()
        )))
        .from(from.clone())
        .to(to)
        .subject(letter.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(letter.body.to_string())
        .map_err(|_| SendFailure::permanent("message could not be built"))
}

fn describe_file_error(error: &lettre::transport::file::Error) -> SendFailure {
    if error.is_io() {
        SendFailure::retry("file: could not write the .eml file")
    } else {
        SendFailure::retry("file: could not store the message")
    }
}

/// The kind of SMTP failure and the reply code; the reply text is left out on purpose.
fn describe_smtp_error(error: &lettre::transport::smtp::Error) -> SendFailure {
    let code = error
        .status()
        .map(|code| format!(" ({code})"))
        .unwrap_or_default();
    let what = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_tls() {
        "TLS failed".to_string()
    } else if error.is_permanent() {
        format!("server rejected the message{code}")
    } else if error.is_transient() {
        format!("server refused the message for now{code}")
    } else if error.is_response() || error.is_client() {
        "protocol error".to_string()
    } else {
        "connection failed".to_string()
    };
    SendFailure::retry(format!("smtp: {what}"))
}
