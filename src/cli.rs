//! The `loket` command line: serving the desk and the operator's tasks around it.

use crate::audit::Actor;
use crate::auth::{NewUser, Role, UserService};
use crate::config::Settings;
use crate::retention::SweepOptions;
use crate::startup::{open_store, Application};
use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "loket",
    version,
    about = "The desk for GDPR/AVG data-subject requests",
    long_about = "loket catalogs personal data per system (the Art. 30 record), tracks data-subject \
requests to their legal deadline and keeps a tamper-evident audit trail.\n\n\
Configuration comes from loket.toml (optional) and LOKET_* environment variables; with none, \
loket serves on 127.0.0.1:8080 with a SQLite database in ./data."
)]
pub struct Cli {
    /// Configuration file (default: ./loket.toml when present)
    #[arg(long, short, global = true, env = "LOKET_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the desk: migrate the database, then serve the HTTP API until stopped
    Serve,
    /// Set up a demo: a telecom's CRM and billing databases (SQLite, in {data_dir}/demo) wired as
    /// connectors, the example catalog, an agent and a privacy officer, and a queue of requests.
    /// Keeps whatever already exists; then start the desk with `loket serve`
    Demo,
    /// Apply pending database migrations and exit
    Migrate,
    /// Print the OpenAPI 3.1 document of the HTTP API (as served at /api/v1/openapi.json);
    /// `loket openapi > openapi.json` refreshes the repository's copy
    Openapi,
    /// Manage staff accounts (agents, privacy officers, admins, service accounts)
    #[command(subcommand)]
    User(UserCommand),
    /// Import or export the catalog of personal data as YAML ("catalog as code")
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Print the Art. 30 register of processing activities, with warnings for gaps
    Ropa {
        /// Output format
        #[arg(long, value_enum, default_value_t = RopaFormat::Json)]
        format: RopaFormat,
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print the privacy statement (Art. 13/14) written from the catalog
    PrivacyStatement {
        #[arg(long, value_enum, default_value_t = StatementLanguage::Nl)]
        lang: StatementLanguage,
        #[arg(long, value_enum, default_value_t = StatementFormat::Md)]
        format: StatementFormat,
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Check the audit trail
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Check the policy files (retention rules, request handling)
    #[command(subcommand)]
    Policies(PoliciesCommand),
    /// Run retention sweeps now: delete, anonymise or restrict what has passed its retention
    /// period, in batches, skipping legal holds, open requests and restrictions; prints a summary
    /// and exits 1 if a rule failed, 75 if a rule was busy (another instance sweeps it). A sweep
    /// that stopped half-way is resumed.
    Sweep(SweepArgs),
    /// Check the organisation's databases that the catalog maps
    #[command(subcommand)]
    Connectors(ConnectorsCommand),
    /// The keys that seal access and portability packages
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Access and portability packages
    #[command(subcommand)]
    Packages(PackagesCommand),
}

#[derive(Debug, Subcommand)]
enum PackagesCommand {
    /// Open a stored package to the end without sending it anywhere; exits 1 and names the
    /// chunk when it was altered or cut off
    Verify {
        /// The package's id, as `GET /api/v1/requests/{id}/packages` lists it
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a package key that seals new packages from now on; older keys stay to open the
    /// packages they sealed
    Rotate,
    /// List the package keys (ids and dates, never the keys)
    List,
}

#[derive(Debug, Subcommand)]
enum ConnectorsCommand {
    /// Connect to every `connector: sql` system and check that its mapped tables and columns
    /// exist, and make each `connector: http` system's harmless check request; exits 1 and
    /// names what is missing or unreachable. With FILEs, checks the HTTP definitions in those
    /// catalog files instead (FILE:LINE: FIELD: MESSAGE)
    Check { files: Vec<PathBuf> },
}

#[derive(Debug, clap::Args)]
struct SweepArgs {
    /// Only report what would change (the default when sweeps.dry_run_by_default is true)
    #[arg(long, conflicts_with = "apply")]
    dry_run: bool,
    /// Change the data, even when sweeps.dry_run_by_default is true
    #[arg(long)]
    apply: bool,
    /// Only this retention rule
    #[arg(long, value_name = "NAME")]
    rule: Option<String>,
    /// Only the rules of this catalog system
    #[arg(long, value_name = "NAME")]
    system: Option<String>,
    /// Rows per batch instead of sweeps.batch_size
    #[arg(long, value_name = "ROWS", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    batch_size: Option<u32>,
    /// Stop each rule after this many batches; the next sweep resumes where it stopped
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_batches: Option<u64>,
    /// Print the reports as JSON instead of a table
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum PoliciesCommand {
    /// Validate every policy file, and its rules against the catalog in the database; exits 1
    /// on any problem, naming file, line and field
    Check,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account; the password is prompted for, or read from standard input
    Add {
        /// Login name: lower-case letters, digits, '.', '_' or '-'
        #[arg(long)]
        username: String,
        /// agent, partner_agent, privacy_officer, admin or service
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Name shown in the desk and the audit trail (default: the username)
        #[arg(long)]
        display_name: Option<String>,
        /// The partner team of a partner_agent (required for that role only)
        #[arg(long)]
        team: Option<String>,
        /// Read the password from the first line of standard input (for scripts)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts
    List,
    /// Disable an account; its tokens stop working at once
    Disable { username: String },
    /// Enable a disabled account again
    Enable { username: String },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Create or update categories, systems and processing activities from a YAML file
    Import {
        /// The catalog file, e.g. examples/catalog.yaml
        file: PathBuf,
    },
    /// Write the whole catalog as YAML, in the same format `import` reads
    Export {
        /// Write to this file instead of standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the keyed hash chain and report the first broken link, then check the signed
    /// checkpoints (if the file exists); exits 1 if anything does not hold
    Verify {
        /// The checkpoint file (default: audit-checkpoints.jsonl in the data directory)
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
    /// Append the signed head of the chain (event count and hash) to the checkpoint file; keep
    /// a copy outside this machine (cron + your log collector)
    Checkpoint {
        /// The checkpoint file (default: audit-checkpoints.jsonl in the data directory)
        #[arg(long)]
        checkpoints: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RopaFormat {
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatementLanguage {
    Nl,
    En,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatementFormat {
    Md,
    Html,
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

/// Parses the command line and runs it.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    // Needs no configuration, database or keys: the document comes from the code alone.
    if let Command::Openapi = cli.command {
        print!("{}", crate::api::openapi::document_json());
        return Ok(ExitCode::SUCCESS);
    }
    let settings = Settings::load(cli.config.as_deref())?;
    crate::telemetry::init(settings.log_format);
    match cli.command {
        Command::Serve => {
            let app = Application::build(&settings).await?;
            app.run_until_stopped().await?;
            tracing::info!("loket stopped");
        }
        Command::Demo => demo(&settings, cli.config).await?,
        Command::Openapi => unreachable!("answered before the settings are read"),
        Command::Migrate => {
            open_store(&settings).await?;
            println!("database is up to date");
        }
        Command::User(command) => user(&settings, command).await?,
        Command::Catalog(command) => catalog(&settings, command).await?,
        Command::Ropa { format, output } => {
            let store = open_store(&settings).await?;
            let register = crate::catalog::register(&store).await?;
            let text = match format {
                RopaFormat::Json => serde_json::to_string_pretty(&register)?,
                RopaFormat::Csv => crate::catalog::ropa::register_to_csv(&register)?,
            };
            write_output(output, &text)?;
            for warning in &register.warnings {
                eprintln!("warning: {}", warning.message);
            }
        }
        Command::PrivacyStatement {
            lang,
            format,
            output,
        } => {
            use crate::catalog::privacy::{statement, Format};
            use crate::vocabulary::Language;
            let store = open_store(&settings).await?;
            let register = crate::catalog::register(&store).await?;
            let language = match lang {
                StatementLanguage::Nl => Language::Nl,
                StatementLanguage::En => Language::En,
            };
            let format = match format {
                StatementFormat::Md => Format::Markdown,
                StatementFormat::Html => Format::Html,
            };
            write_output(output, &statement(&register, language, format))?;
            // The register's gaps are where the statement is incomplete.
            for warning in &register.warnings {
                eprintln!("warning: {}", warning.message);
            }
        }
        Command::Policies(PoliciesCommand::Check) => {
            let policies = crate::startup::load_policies(&settings)?;
            let store = open_store(&settings).await?;
            let problems = crate::startup::policy_problems(&store, &policies).await?;
            for problem in &problems {
                println!("{problem}");
            }
            if !problems.is_empty() {
                return Ok(ExitCode::FAILURE);
            }
            println!(
                "{} are valid: {} retention rules",
                crate::startup::policies_origin(&settings),
                policies.retention.len()
            );
        }
        Command::Sweep(args) => return sweep(&settings, args).await,
        Command::Connectors(ConnectorsCommand::Check { files }) if !files.is_empty() => {
            return check_definition_files(&settings, files).await
        }
        Command::Connectors(ConnectorsCommand::Check { .. }) => {
            return check_connectors(&settings).await
        }
        Command::Keys(command) => keys(&settings, command).await?,
        Command::Packages(PackagesCommand::Verify { id }) => {
            return verify_package(&settings, id).await;
        }
        Command::Audit(command) => return audit(&settings, command).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn audit(settings: &Settings, command: AuditCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    match command {
        AuditCommand::Checkpoint { checkpoints } => {
            let path = checkpoints.unwrap_or_else(|| default_checkpoints(settings));
            let point = crate::audit::checkpoint(&store).await?;
            crate::audit::checkpoints::append(&path, &point)?;
            println!(
                "checkpoint at event {} written to {}",
                point.seq,
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { checkpoints } => {
            let verification = crate::audit::verify_chain(&store).await?;
            let mut intact = true;
            match verification.broken {
                None => println!("audit trail intact: {} events", verification.events),
                Some(link) => {
                    intact = false;
                    println!(
                        "audit trail BROKEN at event {}: {} ({} events before it are intact)",
                        link.seq, link.reason, verification.events
                    );
                }
            }
            let path = checkpoints.unwrap_or_else(|| default_checkpoints(settings));
            let points = crate::audit::checkpoints::read(&path)?;
            let count = points.len();
            let problems = crate::audit::check_checkpoints(&store, points).await?;
            for problem in &problems {
                println!("CHECKPOINT: {problem}");
            }
            if count > 0 && problems.is_empty() {
                println!("{count} checkpoints match");
            }
            Ok(if intact && problems.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn default_checkpoints(settings: &Settings) -> PathBuf {
    settings.data_dir.join("audit-checkpoints.jsonl")
}

async fn demo(settings: &Settings, config: Option<PathBuf>) -> anyhow::Result<()> {
    let options = crate::demo::DemoOptions {
        config_file: config.unwrap_or_else(|| PathBuf::from("loket.toml")),
        ask: std::io::stdin().is_terminal(),
    };
    let report = crate::demo::run(settings, &options).await?;
    for line in &report.lines {
        println!("{line}");
    }
    if !report.accounts.is_empty() {
        println!(
            "\nSign in at {}/desk with (shown only now):",
            settings.public_url
        );
        for (username, role, password) in &report.accounts {
            println!("  {username:<8} {password}   ({})", role.as_str());
        }
    }
    println!(
        "\nNext: `loket serve`, then open {}/desk.",
        settings.public_url
    );
    if !report.configured {
        println!(
            "(add the [connectors] lines above first, or the desk cannot reach the demo databases)"
        );
    }
    Ok(())
}

async fn keys(settings: &Settings, command: KeysCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let (secrets, _) = settings.secrets()?;
    let keys = crate::packages::PackageKeys::new(store, secrets.cipher());
    match command {
        KeysCommand::Rotate => {
            let key = keys
                .rotate(Actor::Cli)
                .await
                .map_err(|e| anyhow::anyhow!(describe(&e)))?;
            println!(
                "new package key {}: it seals new packages; older keys still open theirs",
                key.id
            );
        }
        KeysCommand::List => {
            for key in keys
                .list()
                .await
                .map_err(|e| anyhow::anyhow!(describe(&e)))?
            {
                let current = if key.current { "  (current)" } else { "" };
                println!(
                    "{}  {}  {}{current}",
                    key.id, key.created_at, key.created_by
                );
            }
        }
    }
    Ok(())
}

async fn verify_package(settings: &Settings, id: String) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let (secrets, _) = settings.secrets()?;
    let keys = crate::packages::PackageKeys::new(store.clone(), secrets.cipher());
    match crate::packages::download::verify(&store, &keys, id.clone().into()).await {
        Ok(bytes) => {
            println!("package {id} is whole: {bytes} bytes opened");
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("{}", describe(&error));
            Ok(ExitCode::from(1))
        }
    }
}

/// `loket connectors check FILE…`: each file's HTTP definitions, problems at their lines.
async fn check_definition_files(
    settings: &Settings,
    files: Vec<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let (secrets, _) = settings.secrets()?;
    let connectors = crate::startup::connectors_of(settings, &secrets);
    let mut texts = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        texts.push((file.display().to_string(), text));
    }
    let problems = tokio::task::spawn_blocking(move || {
        texts
            .iter()
            .flat_map(|(file, text)| crate::connectors::http::check_file(&connectors, file, text))
            .collect::<Vec<_>>()
    })
    .await?;
    for problem in &problems {
        println!("{problem}");
    }
    if problems.is_empty() {
        println!("the HTTP definitions are ready");
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::FAILURE)
    }
}

async fn check_connectors(settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let (secrets, _) = settings.secrets()?;
    let connectors = crate::startup::connectors_of(settings, &secrets);
    let policies = crate::startup::load_policies(settings)?;
    let systems = crate::catalog::list::<crate::catalog::model::System>(&store).await?;
    let (results, http) = tokio::task::spawn_blocking(move || {
        let sql = crate::retention::fit::check_systems(&connectors, &systems, &policies.retention);
        (sql, connectors.check_http(&systems))
    })
    .await?;
    for (system, problems) in &http {
        if problems.is_empty() {
            println!("{system}: ready");
        }
        for (field, message) in problems {
            println!("{system}: {field}: {message}");
        }
    }
    let http_ready = http.iter().all(|(_, problems)| problems.is_empty());
    for checked in &results {
        if checked.is_ready() {
            println!("{}: ready", checked.system);
        }
        // Each problem and piece of advice names the system itself.
        for problem in &checked.problems {
            println!("{problem}");
        }
        for advice in &checked.advice {
            println!("{advice}");
        }
    }
    if results.is_empty() && http.is_empty() {
        println!("no system in the catalog has connector: sql or connector: http");
    }
    Ok(
        if http_ready && results.iter().all(|checked| checked.is_ready()) {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

async fn sweep(settings: &Settings, args: SweepArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(settings).await?;
    let service = crate::startup::sweep_service(settings, &store)?;
    let dry_run = args.dry_run || (!args.apply && service.policies().sweeps.dry_run_by_default);
    let options = SweepOptions {
        dry_run,
        rule: args.rule,
        system: args.system,
        batch_size: args.batch_size,
        max_batches: args.max_batches,
        actor: Some(Actor::Cli),
        ..SweepOptions::default()
    };
    let bar = indicatif::ProgressBar::new_spinner().with_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")?,
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let shown = bar.clone();
    let reports = service
        .sweep(options, move |progress| {
            shown.set_message(format!(
                "{}: {} expired rows in {} batches, {} {}",
                progress.rule,
                progress.matched,
                progress.batches,
                progress.changed,
                if dry_run { "would change" } else { "changed" }
            ));
        })
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))?;
    bar.finish_and_clear();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        print!("{}", crate::retention::sweep::summary_table(&reports));
    }
    Ok(ExitCode::from(crate::retention::sweep::exit_status(
        &reports,
    )))
}

async fn user(settings: &Settings, command: UserCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    let users = UserService::new(store);
    match command {
        UserCommand::Add {
            username,
            role,
            display_name,
            team,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let user = users
                .create(
                    Actor::Cli,
                    NewUser {
                        username,
                        display_name,
                        role,
                        password,
                        team,
                    },
                )
                .await?;
            println!("created {} ({})", user.username, user.role);
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<16} {:<8} DISPLAY NAME",
                "USERNAME", "ROLE", "ACTIVE"
            );
            for user in users.list().await? {
                println!(
                    "{:<24} {:<16} {:<8} {}",
                    user.username,
                    user.role.as_str(),
                    if user.active { "yes" } else { "no" },
                    user.display_name
                );
            }
        }
        UserCommand::Disable { username } => {
            let user = users.set_active(Actor::Cli, username, false).await?;
            println!("disabled {}", user.username);
        }
        UserCommand::Enable { username } => {
            let user = users.set_active(Actor::Cli, username, true).await?;
            println!("enabled {}", user.username);
        }
    }
    Ok(())
}

async fn catalog(settings: &Settings, command: CatalogCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match command {
        CatalogCommand::Import { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let document = crate::catalog::parse_yaml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let report = crate::catalog::import(&store, Actor::Cli, document)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), describe(&e)))?;
            println!("{report}");
        }
        CatalogCommand::Export { output } => {
            let document = crate::catalog::export(&store).await?;
            write_output(output, &serde_yaml::to_string(&document)?)?;
        }
    }
    Ok(())
}

/// Lists every invalid field, not just the first.
fn describe(error: &crate::error::Error) -> String {
    match error {
        crate::error::Error::Invalid(errors) => errors
            .iter()
            .map(|e| format!("\n  {}: {}", e.field, e.message))
            .collect(),
        other => other.to_string(),
    }
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password: use --password-stdin");
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Repeat password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}

fn write_output(path: Option<PathBuf>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(path) => std::fs::write(&path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                stdout.write_all(b"\n")?;
            }
        }
    }
    Ok(())
}
