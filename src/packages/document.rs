//! Writing a package: one ZIP, written as a stream (nothing is sought back to), holding
//!
//! - `package.json`: the machine-readable document, described by `package.schema.json`
//!   ([`SCHEMA`]), which the ZIP carries too;
//! - `csv/{system}/{table}.csv`: the same rows, one file per system and table;
//! - `attachments/{system}/…`: what agents attached to tasks of systems loket cannot reach;
//! - `overzicht.html` / `summary.html`: for an access package, the answer in plain language,
//!   with the Art. 15(1) facts, what is in the package and what was withheld and why.
//!
//! Rows are read from their [`Source`] a page at a time and written as they come, once for the
//! JSON document and once for the CSV files, so memory stays flat however many rows there are.

use super::selection::TablePlan;
pub use crate::db::models::packages::Summary;
use crate::error::{Error, Result};
use crate::ids::PackageId;
use crate::mail::letters::{written_date, ActivityFacts, OrganisationInfo};
use crate::vocabulary::{Language, RequestKind};
use anyhow::Context;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::LazyLock;
use zip::write::SimpleFileOptions;
use zip::ZipWriter;

/// The published JSON Schema of `package.json`.
pub const SCHEMA: &str = include_str!("../../templates/packages/package.schema.json");
/// The format name and version in every `package.json`.
pub const FORMAT: &str = "loket-package/1";

/// Where the rows and attachments come from.
pub trait Source {
    /// Hands every row of the person in `table` of `system` to `visit`, as a JSON object.
    fn rows(
        &mut self,
        system: &str,
        table: &str,
        visit: &mut dyn FnMut(&str) -> std::io::Result<()>,
    ) -> Result<u64>;

    /// Writes the attachment with this id, opened, into `out`.
    fn attachment(&mut self, id: &str, out: &mut dyn Write) -> Result<u64>;
}

/// Everything about a package but its rows.
#[derive(Debug, Clone, Serialize)]
pub struct Outline {
    pub id: PackageId,
    pub kind: RequestKind,
    pub language: Language,
    pub created_at: chrono::NaiveDateTime,
    pub expires_at: chrono::NaiveDateTime,
    /// The request's reference.
    pub reference: String,
    pub received_on: chrono::NaiveDate,
    pub controller: OrganisationInfo,
    pub systems: Vec<SystemOutline>,
    /// The Art. 15(1) facts per processing activity (access packages); given for the activities
    /// of the systems where data of the person was found.
    pub facts: Vec<Facts>,
    pub withheld: Vec<WithheldItem>,
}

/// One activity's Art. 15(1) facts, and the systems that carry it.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    #[serde(flatten)]
    pub activity: ActivityFacts,
    #[serde(skip)]
    pub systems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SystemOutline {
    pub key: String,
    pub name: String,
    /// Whether loket searched it through its connector.
    pub searched: bool,
    /// Why it was not searched, or how it was.
    pub note: Option<String>,
    #[serde(skip)]
    pub tables: Vec<TablePlan>,
    pub attachments: Vec<AttachmentOutline>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentOutline {
    #[serde(skip)]
    pub id: crate::ids::AttachmentId,
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// Its path in the ZIP; `None` when withheld.
    pub path: Option<String>,
}

/// Something left out of the package, and why (Art. 15(4)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WithheldItem {
    pub system: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub row_key: Option<String>,
    pub attachment: Option<String>,
    pub reason: String,
}

/// The value given for what is withheld.
pub fn withheld_marker(language: Language) -> &'static str {
    match language {
        Language::Nl => "[achtergehouden]",
        Language::En => "[withheld]",
    }
}

type Zip<W> = ZipWriter<zip::write::StreamWriter<W>>;

/// Writes the package described by `outline`, with rows and attachments from `source`, into
/// `out`; returns what it holds and `out`.
pub fn write_package<W: Write>(
    out: W,
    outline: &Outline,
    source: &mut dyn Source,
) -> Result<(Summary, W)> {
    let mut zip = ZipWriter::new_stream(out);
    let mut summary = Summary {
        withheld: outline.withheld.len(),
        ..Summary::default()
    };
    start(&mut zip, "package.json")?;
    write_json(&mut zip, outline, source, &mut summary)?;
    let mut shown = Shown::new();
    for system in &outline.systems {
        for table in system.tables.iter().filter(|t| !t.fully_withheld()) {
            start(&mut zip, &format!("csv/{}/{}.csv", system.key, table.name))?;
            let rows = shown
                .entry((system.key.clone(), table.name.clone()))
                .or_default();
            write_csv(&mut zip, outline.language, &system.key, table, source, rows)?;
        }
        for attachment in &system.attachments {
            if let Some(path) = &attachment.path {
                start(&mut zip, path)?;
                source.attachment(&attachment.id, &mut zip)?;
                summary.attachments += 1;
            }
        }
    }
    if outline.kind == RequestKind::Access {
        let name = match outline.language {
            Language::Nl => "overzicht.html",
            Language::En => "summary.html",
        };
        start(&mut zip, name)?;
        zip.write_all(render_summary(outline, &summary, &shown)?.as_bytes())
            .map_err(io_error)?;
    }
    start(&mut zip, "package.schema.json")?;
    zip.write_all(SCHEMA.as_bytes()).map_err(io_error)?;
    let out = zip.finish().map_err(zip_error)?.into_inner();
    Ok((summary, out))
}

fn start<W: Write>(zip: &mut Zip<W>, name: &str) -> Result<()> {
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        // Sizes are not known before the entry is written; ZIP64 fields leave room for any.
        .large_file(true);
    zip.start_file(name, options).map_err(zip_error)
}

fn write_json<W: Write>(
    out: &mut W,
    outline: &Outline,
    source: &mut dyn Source,
    summary: &mut Summary,
) -> Result<()> {
    let package = serde_json::json!({
        "id": outline.id,
        "kind": outline.kind,
        "article": outline.kind.article(),
        "language": outline.language,
        "created_at": outline.created_at,
        "expires_at": outline.expires_at,
        "request_reference": outline.reference,
        "request_received_on": outline.received_on,
        "withheld_marker": withheld_marker(outline.language),
    });
    write!(
        out,
        "{{\"format\":{},\"package\":{package},",
        json(&FORMAT)?
    )
    .map_err(io_error)?;
    write!(
        out,
        "\"controller\":{},\"systems\":[",
        json(&outline.controller)?
    )
    .map_err(io_error)?;
    for (index, system) in outline.systems.iter().enumerate() {
        if index > 0 {
            out.write_all(b",").map_err(io_error)?;
        }
        write!(
            out,
            "{{\"key\":{},\"name\":{},\"searched\":{},\"note\":{},\"tables\":[",
            json(&system.key)?,
            json(&system.name)?,
            system.searched,
            json(&system.note)?
        )
        .map_err(io_error)?;
        for (t, table) in system.tables.iter().enumerate() {
            if t > 0 {
                out.write_all(b",").map_err(io_error)?;
            }
            let rows = write_json_table(out, outline.language, &system.key, table, source)?;
            summary
                .rows
                .entry(system.key.clone())
                .or_default()
                .insert(table.name.clone(), rows);
        }
        write!(out, "],\"attachments\":{}}}", json(&system.attachments)?).map_err(io_error)?;
    }
    write!(
        out,
        "],\"facts\":{},\"withheld\":{}}}",
        json(&facts_found(outline, summary))?,
        json(&outline.withheld)?
    )
    .map_err(io_error)
}

fn write_json_table<W: Write>(
    out: &mut W,
    language: Language,
    system: &str,
    table: &TablePlan,
    source: &mut dyn Source,
) -> Result<u64> {
    write!(
        out,
        "{{\"name\":{},\"columns\":{},\"withheld\":{},\"rows\":[",
        json(&table.name)?,
        json(&table.columns)?,
        table.fully_withheld()
    )
    .map_err(io_error)?;
    let mut count = 0u64;
    if !table.fully_withheld() {
        for_each_row(source, language, system, table, &mut |values| {
            if count > 0 {
                out.write_all(b",")?;
            }
            count += 1;
            let object: Map<String, Value> = table.columns.iter().cloned().zip(values).collect();
            serde_json::to_writer(&mut *out, &object).map_err(std::io::Error::other)
        })?;
    }
    write!(out, "],\"row_count\":{count}}}").map_err(io_error)?;
    Ok(count)
}

fn write_csv<W: Write>(
    out: &mut W,
    language: Language,
    system: &str,
    table: &TablePlan,
    source: &mut dyn Source,
    shown: &mut Vec<Vec<String>>,
) -> Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(&table.columns).map_err(csv_error)?;
    for_each_row(source, language, system, table, &mut |values| {
        let cells: Vec<String> = values.iter().map(cell).collect();
        csv.write_record(&cells).map_err(std::io::Error::other)?;
        if shown.len() < SUMMARY_ROWS {
            shown.push(cells);
        }
        Ok(())
    })?;
    csv.flush().map_err(io_error)
}

/// A CSV cell: text as it is, nothing for null, other values as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The values of each row in the plan's column order, with withheld values replaced.
fn for_each_row(
    source: &mut dyn Source,
    language: Language,
    system: &str,
    table: &TablePlan,
    visit: &mut dyn FnMut(Vec<Value>) -> std::io::Result<()>,
) -> Result<u64> {
    let marker = Value::String(withheld_marker(language).to_string());
    source.rows(system, &table.name, &mut |row| {
        let mut row: Map<String, Value> =
            serde_json::from_str(row).map_err(std::io::Error::other)?;
        let key = row.get(&table.key).map(cell).unwrap_or_default();
        let values = table
            .columns
            .iter()
            .map(|column| {
                if table.withholds(column, &key) {
                    marker.clone()
                } else {
                    row.remove(column).unwrap_or(Value::Null)
                }
            })
            .collect();
        visit(values)
    })
}

/// The facts of the activities whose systems hold data of the person: rows found, or something
/// attached by an agent.
fn facts_found<'o>(outline: &'o Outline, summary: &Summary) -> Vec<&'o Facts> {
    let holds_data = |key: &str| {
        summary
            .rows
            .get(key)
            .is_some_and(|tables| tables.values().any(|rows| *rows > 0))
            || outline
                .systems
                .iter()
                .any(|s| s.key == key && !s.attachments.is_empty())
    };
    outline
        .facts
        .iter()
        .filter(|facts| facts.systems.iter().any(|system| holds_data(system)))
        .collect()
}

fn json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .context("package JSON")
        .map_err(Error::from)
}

fn io_error(error: std::io::Error) -> Error {
    Error::Internal(anyhow::Error::new(error).context("writing the package failed"))
}

fn zip_error(error: zip::result::ZipError) -> Error {
    Error::Internal(anyhow::Error::new(error).context("writing the package ZIP failed"))
}

fn csv_error(error: csv::Error) -> Error {
    Error::Internal(anyhow::Error::new(error).context("writing a package CSV file failed"))
}

static SUMMARIES: LazyLock<std::result::Result<minijinja::Environment<'static>, String>> =
    LazyLock::new(|| {
        let mut env = minijinja::Environment::new();
        for (name, source) in [
            (
                "nl/summary.html",
                include_str!("../../templates/packages/nl/summary.html"),
            ),
            (
                "en/summary.html",
                include_str!("../../templates/packages/en/summary.html"),
            ),
        ] {
            env.add_template(name, source).map_err(|e| e.to_string())?;
        }
        Ok(env)
    });

/// The most rows of one table the readable summary shows; the rest are in the CSV file, which
/// the summary points to. Keeps the summary readable and its memory bounded.
const SUMMARY_ROWS: usize = 200;

/// The rows kept for the summary per (system, table), as CSV cells.
type Shown = BTreeMap<(String, String), Vec<Vec<String>>>;

/// One system as the readable summary shows it.
#[derive(Serialize)]
struct SystemView<'o> {
    name: &'o str,
    note: Option<&'o str>,
    tables: Vec<TableView>,
    attachments: &'o [AttachmentOutline],
}

/// One table as the readable summary shows it: by its label, its columns by their labels.
#[derive(Serialize)]
struct TableView {
    title: String,
    /// The CSV file holding all its rows.
    file: String,
    withheld: bool,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    count: u64,
}

/// One withheld item as the readable summary names it: by labels, never by a row key.
#[derive(Serialize)]
struct WithheldView<'o> {
    system: Option<String>,
    table: Option<String>,
    column: Option<String>,
    /// Withheld from one row only, not from the whole table or column.
    one_row: bool,
    attachment: Option<&'o str>,
    reason: &'o str,
}

/// The systems of the package with the rows the summary shows. The row key is an internal
/// number and is left out, unless the mapping labels it for people.
fn system_views<'o>(outline: &'o Outline, summary: &Summary, shown: &Shown) -> Vec<SystemView<'o>> {
    let language = outline.language;
    outline
        .systems
        .iter()
        .map(|system| SystemView {
            name: &system.name,
            note: system.note.as_deref(),
            attachments: &system.attachments,
            tables: system
                .tables
                .iter()
                .map(|table| {
                    let keep: Vec<bool> = table
                        .columns
                        .iter()
                        .map(|c| *c != table.key || table.labels.contains_key(c))
                        .collect();
                    let pick = |cells: &[String]| -> Vec<String> {
                        cells
                            .iter()
                            .zip(&keep)
                            .filter(|(_, keep)| **keep)
                            .map(|(cell, _)| cell.clone())
                            .collect()
                    };
                    let columns: Vec<String> = table
                        .columns
                        .iter()
                        .map(|c| table.column_title(c, language))
                        .collect();
                    TableView {
                        title: table.title(language),
                        file: format!("csv/{}/{}.csv", system.key, table.name),
                        withheld: table.fully_withheld(),
                        columns: pick(columns.as_slice()),
                        rows: shown
                            .get(&(system.key.clone(), table.name.clone()))
                            .map(|rows| rows.iter().map(|row| pick(row.as_slice())).collect())
                            .unwrap_or_default(),
                        count: summary
                            .rows
                            .get(&system.key)
                            .and_then(|tables| tables.get(&table.name))
                            .copied()
                            .unwrap_or_default(),
                    }
                })
                .collect(),
        })
        .collect()
}

/// What was withheld, named by the system's name and the mapping's labels.
fn withheld_views(outline: &Outline) -> Vec<WithheldView<'_>> {
    let language = outline.language;
    outline
        .withheld
        .iter()
        .map(|item| {
            let system = outline
                .systems
                .iter()
                .find(|s| Some(&s.key) == item.system.as_ref());
            let table = system
                .zip(item.table.as_ref())
                .and_then(|(system, name)| system.tables.iter().find(|t| &t.name == name));
            WithheldView {
                system: system
                    .map(|s| s.name.clone())
                    .or_else(|| item.system.clone()),
                table: match (table, &item.table) {
                    (Some(table), _) => Some(table.title(language)),
                    (None, name) => name.clone(),
                },
                column: item.column.as_ref().map(|column| match table {
                    Some(table) => table.column_title(column, language),
                    None => column.clone(),
                }),
                one_row: item.row_key.is_some(),
                attachment: item.attachment.as_deref(),
                reason: &item.reason,
            }
        })
        .collect()
}

/// The readable summary of an access package, in its language: the person's data per system
/// and table, what was withheld and why, and the Art. 15(1) facts.
fn render_summary(outline: &Outline, summary: &Summary, shown: &Shown) -> Result<String> {
    let env = SUMMARIES
        .as_ref()
        .map_err(|e| anyhow::anyhow!("package summary template: {e}"))?;
    let name = format!("{}/summary.html", outline.language.as_str());
    env.get_template(&name)
        .and_then(|template| {
            template.render(minijinja::context! {
                package => outline,
                received_on => written_date(outline.received_on, outline.language),
                created_on => written_date(
                    crate::requests::dutch_date(outline.created_at),
                    outline.language
                ),
                facts => facts_found(outline, summary),
                systems => system_views(outline, summary, shown),
                withheld => withheld_views(outline),
                total_rows => summary.total_rows(),
                marker => withheld_marker(outline.language),
            })
        })
        .with_context(|| format!("package summary {name}"))
        .map_err(Error::from)
}
