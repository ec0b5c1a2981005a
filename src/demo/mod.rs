//! `loket demo`: a working desk on demo data in one command, for a newcomer who wants to see
//! what loket is for before wiring it to their own systems.
//!
//! It makes the demo telecom's CRM and billing databases (SQLite, laid out as
//! `examples/catalog.yaml` maps them), points the connectors at them, imports the example
//! catalog, creates an agent and a privacy officer, and registers a queue of requests of every
//! kind and state. Nothing that exists is overwritten: a second run keeps the databases,
//! accounts, catalog and requests it finds, and says so.

pub mod organisation;
mod queue;

use crate::audit::Actor;
use crate::auth::{NewUser, Role, UserService};
use crate::config::Settings;
use crate::db::Store;
use anyhow::Context;
use organisation::Made;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The example catalog the demo imports (the file is also the catalog format's reference).
pub const EXAMPLE_CATALOG: &str = include_str!("../../examples/catalog.yaml");

/// What marketing added to the catalog last month and nobody finished: a survey tool in the
/// United States with no transfer safeguard recorded and no retention period. The register shows
/// these gaps, as it would in any organisation that has just started keeping one.
pub const DEMO_GAPS: &str = r#"
systems:
  - key: survey
    name: {nl: Klanttevredenheidsonderzoek, en: Customer satisfaction survey}
    description:
      nl: Korte enquêtes na een gesprek met het klantcontactcentrum.
      en: Short surveys sent after a call to the contact centre.
    owner: Manager Marketing
    hosting: "FeedbackLoop Inc., cloud service (US)"
    processor: FeedbackLoop Inc.
    identifier_kinds: [email]
    connector: manual
    holdings:
      - category: contact
        location: respondents.email
        origin: provided
      - category: communication_content
        location: answers.free_text
        origin: provided
activities:
  - key: customer_satisfaction
    name: Klanttevredenheidsonderzoek
    description: Asking callers how satisfied they were with the contact centre.
    purposes:
      - Measuring how satisfied callers are with the help they got
    legal_basis: legitimate_interests
    legal_basis_detail: Interest in improving the service; callers can object.
    data_subjects:
      - Callers who gave an e-mail address
    categories:
      - category: contact
      - category: communication_content
    recipients:
      - name: FeedbackLoop Inc.
        kind: processor
        country: US
    security_measures:
      - Access only for the marketing team
    systems: [survey]
"#;

/// The demo's accounts: an agent and a privacy officer.
pub const AGENT: (&str, &str) = ("anna", "Anna de Boer");
pub const OFFICER: (&str, &str) = ("femke", "Femke Visser");

/// The catalog systems the demo databases stand for, with their file names.
const SYSTEMS: &[(&str, &str)] = &[("crm", "crm.db"), ("billing", "billing.db")];

/// How the demo may treat the configuration file.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The configuration file `serve` will read (`--config`, else `loket.toml`).
    pub config_file: PathBuf,
    /// Whether a person answers questions (a terminal); otherwise nothing is changed that
    /// would need one.
    pub ask: bool,
}

/// What the demo did, for the person who ran it.
#[derive(Debug, Default)]
pub struct DemoReport {
    pub lines: Vec<String>,
    /// Accounts created now, with their one-time shown passwords.
    pub accounts: Vec<(String, Role, String)>,
    /// The connector URLs `serve` needs, by system.
    pub connectors: BTreeMap<String, String>,
    /// Whether the configuration file holds the connectors (else the person must add them).
    pub configured: bool,
}

/// Runs the demo set-up; `settings` are those `serve` will start with.
pub async fn run(settings: &Settings, options: &DemoOptions) -> anyhow::Result<DemoReport> {
    let mut report = DemoReport::default();
    let directory = settings.data_dir.join("demo");
    crate::config::create_private_dir(&directory)?;
    make_databases(&directory, &mut report)?;
    report.configured = configure_connectors(settings, options, &mut report)?;

    // The rest works as `serve` will: with the demo connectors configured.
    let mut settings = settings.clone();
    for (system, url) in &report.connectors {
        settings
            .connectors
            .insert(system.clone(), crate::config::Secret::new(url.clone()));
    }
    let store = crate::startup::open_store(&settings).await?;
    import_catalog(&store, &mut report).await?;
    create_accounts(&store, &mut report).await?;
    register_queue(&settings, &store, &mut report).await?;
    Ok(report)
}

fn make_databases(directory: &Path, report: &mut DemoReport) -> anyhow::Result<()> {
    let today = crate::requests::today();
    let customers = organisation::customers(today);
    for (system, file) in SYSTEMS {
        let path = directory.join(file);
        let made = match *system {
            "crm" => organisation::make_crm(&path, &customers, today)?,
            _ => organisation::make_billing(&path, &customers, today)?,
        };
        report.lines.push(match made {
            Made::Created { rows } => format!(
                "{system}: created {} with {} customers ({rows} rows)",
                path.display(),
                customers.len()
            ),
            Made::Kept => format!("{system}: kept {} as it was", path.display()),
        });
        let absolute = std::path::absolute(&path).unwrap_or(path);
        report.connectors.insert(
            system.to_string(),
            format!("sqlite://{}", absolute.display()),
        );
    }
    Ok(())
}

/// Makes sure `serve` will find the demo databases: writes the configuration file when there is
/// none, adds the connectors to an existing one only when the person agrees. Returns whether the
/// file holds them afterwards.
fn configure_connectors(
    settings: &Settings,
    options: &DemoOptions,
    report: &mut DemoReport,
) -> anyhow::Result<bool> {
    let missing: Vec<(&String, &String)> = report
        .connectors
        .iter()
        .filter(|(system, url)| {
            settings.connectors.get(*system).map(|s| s.expose()) != Some(url.as_str())
        })
        .collect();
    if missing.is_empty() {
        report
            .lines
            .push("connectors: already configured for the demo databases".into());
        return Ok(true);
    }
    let section = connectors_section(&missing);
    let file = &options.config_file;
    if file.exists() {
        let question = format!(
            "{} exists; add the demo connectors ({}) to it?",
            file.display(),
            systems_of(&missing)
        );
        if !(options.ask && confirm(&question)?) {
            report.lines.push(format!(
                "connectors: {} left unchanged; add this to it for `serve` to reach the demo databases:\n{section}",
                file.display()
            ));
            return Ok(false);
        }
        let mut text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        if text.contains("[connectors]") {
            report.lines.push(format!(
                "connectors: {} already has a [connectors] section; add these lines to it:\n{section}",
                file.display()
            ));
            return Ok(false);
        }
        text.push('\n');
        text.push_str(&section);
        std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
        report
            .lines
            .push(format!("connectors: added to {}", file.display()));
    } else {
        let text = format!(
            "# Written by `loket demo`: where the demo organisation's databases are.\n{section}"
        );
        std::fs::write(file, text).with_context(|| format!("writing {}", file.display()))?;
        report
            .lines
            .push(format!("connectors: written to {}", file.display()));
    }
    Ok(true)
}

fn connectors_section(entries: &[(&String, &String)]) -> String {
    let mut section = String::from("[connectors]\n");
    for (system, url) in entries {
        section.push_str(&format!("{system} = \"{url}\"\n"));
    }
    section
}

fn systems_of(entries: &[(&String, &String)]) -> String {
    entries
        .iter()
        .map(|(system, _)| system.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asks a yes/no question on the terminal; anything but yes is no.
fn confirm(question: &str) -> anyhow::Result<bool> {
    use std::io::Write;
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "ja" | "j"))
}

/// Imports the example catalog into an empty catalog; a catalog someone already keeps is theirs.
async fn import_catalog(store: &Store, report: &mut DemoReport) -> anyhow::Result<()> {
    let systems = crate::catalog::list::<crate::catalog::model::System>(store).await?;
    if !systems.is_empty() {
        report.lines.push(format!(
            "catalog: kept the {} systems already in it (the demo imports examples/catalog.yaml only into an empty catalog)",
            systems.len()
        ));
        return Ok(());
    }
    let document = crate::catalog::parse_yaml(EXAMPLE_CATALOG)
        .map_err(|e| anyhow::anyhow!("the example catalog: {e}"))?;
    let imported = crate::catalog::import(store, Actor::Cli, document).await?;
    let gaps = crate::catalog::parse_yaml(DEMO_GAPS)
        .map_err(|e| anyhow::anyhow!("the demo's unfinished catalog entries: {e}"))?;
    crate::catalog::import(store, Actor::Cli, gaps).await?;
    report.lines.push(format!(
        "catalog: imported examples/catalog.yaml ({} systems, {} activities) and one unfinished \
         activity of marketing's, so the register has gaps to show",
        imported.systems.created, imported.activities.created
    ));
    Ok(())
}

async fn create_accounts(store: &Store, report: &mut DemoReport) -> anyhow::Result<()> {
    let users = UserService::new(store.clone());
    let existing = users.list().await?;
    for ((username, display_name), role) in [(AGENT, Role::Agent), (OFFICER, Role::PrivacyOfficer)]
    {
        if existing.iter().any(|user| user.username == username) {
            report.lines.push(format!(
                "account {username}: kept (its password is unchanged)"
            ));
            continue;
        }
        let password = one_time_password();
        users
            .create(
                Actor::Cli,
                NewUser {
                    username: username.into(),
                    display_name: Some(display_name.into()),
                    role,
                    password: password.clone(),
                    team: None,
                },
            )
            .await?;
        report.accounts.push((username.into(), role, password));
    }
    Ok(())
}

/// Four groups of four letters and digits without look-alikes: easy to type from the screen.
fn one_time_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Registers the demo queue into a desk without requests; a desk at work keeps its own.
async fn register_queue(
    settings: &Settings,
    store: &Store,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let requests = store
        .read(|conn| crate::db::models::requests::count_requests(conn, &Default::default()))
        .await?;
    if requests > 0 {
        report.lines.push(format!(
            "queue: kept the {requests} requests already registered"
        ));
        return Ok(());
    }
    let (secrets, _) = settings.secrets()?;
    let policies = Arc::new(crate::startup::load_policies(settings)?);
    let service = crate::startup::request_service(settings, store, &secrets, policies);
    let cipher = secrets.cipher();
    let customers = organisation::customers(crate::requests::today());
    let references = queue::register(&service, &cipher, &customers, AGENT.0).await?;
    report.lines.push(format!(
        "queue: registered {} requests of every kind and state ({} … {})",
        references.len(),
        references.first().map_or("", String::as_str),
        references.last().map_or("", String::as_str),
    ));
    Ok(())
}
