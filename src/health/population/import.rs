//! `healthsync import-nhis FILE...`: loads NHIS open-data CSVs (zipped or not) through COPY and
//! computes the percentiles. One CSV is one year: it is parsed on a blocking thread while its rows
//! stream into a fresh table, which then replaces that year's partition in the same transaction
//! as its percentiles, so readers see the old year or the new one, never half. Bad rows are
//! counted and reported, never fatal.

use std::{
    fs::File,
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    time::Instant,
};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::{
    ITEMS,
    csv::{COPY_COLUMNS, Layout, row_to_copy},
};

/// COPY data is sent in chunks of about this size.
const CHUNK: usize = 1 << 20;
/// Bad rows quoted in the report (by line number and reason; never their content).
const EXAMPLES: usize = 10;

/// What happened to one CSV.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReport {
    pub source: String,
    pub year: Option<i16>,
    pub encoding: String,
    pub columns: usize,
    pub rows_read: u64,
    pub rows_loaded: u64,
    pub bad_rows: u64,
    /// 999 sentinels read as missing.
    pub sentinels: u64,
    pub bad_examples: Vec<String>,
    pub load_seconds: f64,
    pub percentile_seconds: f64,
    pub percentile_groups: u64,
}

impl FileReport {
    pub fn summary(&self) -> String {
        format!(
            "{}: year {}, {} ({} columns), {} rows read, {} loaded, {} bad, {} sentinels as missing; \
             load {:.2}s ({:.0} rows/s), percentiles {:.2}s ({} groups)",
            self.source,
            self.year.map_or("-".into(), |y| y.to_string()),
            self.encoding,
            self.columns,
            self.rows_read,
            self.rows_loaded,
            self.bad_rows,
            self.sentinels,
            self.load_seconds,
            self.rows_loaded as f64 / self.load_seconds.max(1e-9),
            self.percentile_seconds,
            self.percentile_groups,
        )
    }
}

/// One CSV: a file, or an entry of a zip archive.
#[derive(Debug, Clone)]
struct Input {
    path: PathBuf,
    zip_entry: Option<usize>,
    label: String,
    size: u64,
}

fn is_zip(path: &Path) -> anyhow::Result<bool> {
    let mut magic = [0u8; 4];
    let n = File::open(path).with_context(|| format!("opening {}", path.display()))?.read(&mut magic)?;
    Ok(n == 4 && magic == *b"PK\x03\x04")
}

fn inputs(path: &Path) -> anyhow::Result<Vec<Input>> {
    if !is_zip(path)? {
        let size = std::fs::metadata(path)?.len();
        return Ok(vec![Input { path: path.into(), zip_entry: None, label: path.display().to_string(), size }]);
    }
    let mut archive = zip::ZipArchive::new(File::open(path)?).context("reading the zip archive")?;
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let entry = archive.by_index(i)?;
        let name = entry.name()?.to_string();
        if entry.is_file() && name.to_ascii_lowercase().ends_with(".csv") {
            out.push(Input {
                path: path.into(),
                zip_entry: Some(i),
                label: format!("{}:{name}", path.display()),
                size: entry.size(),
            });
        }
    }
    anyhow::ensure!(!out.is_empty(), "{} holds no .csv file", path.display());
    Ok(out)
}

enum Msg {
    /// The first good row's year and the header's shape: the load can begin.
    Start { year: i16 },
    Chunk(Vec<u8>),
}

/// Parses `input` and streams its COPY text; returns the counts.
fn parse(input: &Input, tx: &mpsc::Sender<Msg>, pb: &ProgressBar, report: &mut FileReport) -> anyhow::Result<()> {
    let file = File::open(&input.path)?;
    match input.zip_entry {
        None => parse_stream(BufReader::with_capacity(1 << 20, file), tx, pb, report),
        Some(i) => {
            let mut archive = zip::ZipArchive::new(file)?;
            let entry = archive.by_index(i)?;
            parse_stream(BufReader::with_capacity(1 << 20, entry), tx, pb, report)
        }
    }
}

fn parse_stream(
    mut reader: impl BufRead,
    tx: &mpsc::Sender<Msg>,
    pb: &ProgressBar,
    report: &mut FileReport,
) -> anyhow::Result<()> {
    let mut line = Vec::with_capacity(512);
    reader.read_until(b'\n', &mut line).context("reading the header")?;
    pb.inc(line.len() as u64);
    let layout = Layout::from_header(&line).map_err(|e| anyhow::anyhow!("{e}"))?;
    report.encoding = layout.encoding.into();
    report.columns = layout.width;
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut year: Option<i16> = None;
    let mut line_no = 1u64;
    let bad = |report: &mut FileReport, line_no: u64, why: &str| {
        report.bad_rows += 1;
        if report.bad_examples.len() < EXAMPLES {
            report.bad_examples.push(format!("line {line_no}: {why}"));
        }
    };
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line).context("reading a row")?;
        if n == 0 {
            break;
        }
        line_no += 1;
        pb.inc(n as u64);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        report.rows_read += 1;
        let before = buf.len();
        match row_to_copy(&line, &layout, &mut buf) {
            Ok(info) => match year {
                Some(y) if y != info.year => {
                    buf.truncate(before);
                    bad(report, line_no, "year differs from the file's");
                }
                _ => {
                    if year.is_none() {
                        year = Some(info.year);
                        tx.blocking_send(Msg::Start { year: info.year }).context("the loader stopped")?;
                    }
                    report.rows_loaded += 1;
                    report.sentinels += u64::from(info.sentinels);
                }
            },
            Err(why) => bad(report, line_no, why),
        }
        if buf.len() >= CHUNK && year.is_some() {
            tx.blocking_send(Msg::Chunk(std::mem::replace(&mut buf, Vec::with_capacity(CHUNK + 4096))))
                .context("the loader stopped")?;
        }
    }
    if !buf.is_empty() && year.is_some() {
        tx.blocking_send(Msg::Chunk(buf)).context("the loader stopped")?;
    }
    report.year = year;
    Ok(())
}

fn progress_bar(total: u64, visible: bool, label: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({eta})") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label.to_string());
    pb
}

/// The SQL that computes one year's percentiles from its partition.
fn percentile_sql(year: i16) -> String {
    let fractions: Vec<String> = (1..=99).map(|k| format!("{:.2}", f64::from(k) / 100.0)).collect();
    let values: Vec<String> = ITEMS.iter().map(|i| format!("('{}', {})", i.name, i.sql)).collect();
    format!(
        "INSERT INTO health.population_percentiles (year, item, sex, age_band, n, min_value, max_value, p) \
         SELECT {year}, u.item, t.sex, t.age_band, count(*), min(u.v), max(u.v), \
                percentile_cont(ARRAY[{}]::float8[]) WITHIN GROUP (ORDER BY u.v)::real[] \
         FROM health.population_checkups_{year} t CROSS JOIN LATERAL (VALUES {}) AS u(item, v) \
         WHERE u.v IS NOT NULL AND t.age_band BETWEEN 5 AND 18 GROUP BY u.item, t.sex, t.age_band",
        fractions.join(","),
        values.join(", ")
    )
}

/// Loads one CSV: stream, swap the year's partition, compute its percentiles, in one transaction.
async fn import_one(pool: &PgPool, input: Input, progress: bool) -> anyhow::Result<FileReport> {
    let started = Instant::now();
    let pb = progress_bar(input.size, progress, &input.label);
    let (tx, mut rx) = mpsc::channel::<Msg>(4);
    let parser = {
        let (input, pb) = (input.clone(), pb.clone());
        tokio::task::spawn_blocking(move || {
            let mut report = FileReport { source: input.label.clone(), ..FileReport::default() };
            let result = parse(&input, &tx, &pb, &mut report);
            (result, report)
        })
    };
    let year = match rx.recv().await {
        Some(Msg::Start { year }) => Some(year),
        _ => None,
    };
    let Some(year) = year else {
        let (result, report) = parser.await.context("the CSV parser panicked")?;
        result?;
        pb.finish_and_clear();
        return Ok(report);
    };
    let load = format!("health.population_checkups_{year}_load");
    let mut db = pool.begin().await.context("starting the import")?;
    for sql in [
        format!("DROP TABLE IF EXISTS {load}"),
        format!("CREATE TABLE {load} (LIKE health.population_checkups)"),
        format!("ALTER TABLE {load} ADD CONSTRAINT population_checkups_{year}_year_check CHECK (year = {year})"),
    ] {
        // runtime: DDL naming the year's own load table (identifiers cannot be bound).
        sqlx::query(&sql).execute(&mut *db).await.with_context(|| format!("preparing the load of {year}"))?;
    }
    let mut copy = db
        .copy_in_raw(&format!("COPY {load} ({COPY_COLUMNS}) FROM STDIN"))
        .await
        .context("starting COPY")?;
    while let Some(msg) = rx.recv().await {
        if let Msg::Chunk(data) = msg
            && let Err(e) = copy.send(data).await
        {
            drop(rx);
            let _ = parser.await;
            return Err(anyhow::Error::new(e).context("streaming rows to COPY"));
        }
    }
    let (result, mut report) = parser.await.context("the CSV parser panicked")?;
    if let Err(e) = result {
        copy.abort("the CSV could not be read").await.ok();
        return Err(e);
    }
    copy.finish().await.context("finishing COPY")?;
    report.load_seconds = started.elapsed().as_secs_f64();
    pb.finish_and_clear();

    let swap = Instant::now();
    for sql in [
        format!("DROP TABLE IF EXISTS health.population_checkups_{year}"),
        format!("ALTER TABLE {load} RENAME TO population_checkups_{year}"),
        format!(
            "ALTER TABLE health.population_checkups ATTACH PARTITION health.population_checkups_{year} FOR VALUES IN ({year})"
        ),
        "SET LOCAL work_mem = '256MB'".to_string(),
        format!("DELETE FROM health.population_percentiles WHERE year = {year}"),
    ] {
        // runtime: DDL naming the year's partition (identifiers cannot be bound), and a SET.
        sqlx::query(&sql).execute(&mut *db).await.with_context(|| format!("replacing the year {year}"))?;
    }
    // runtime: reads the year's partition by name, with the items' expressions built from `ITEMS`.
    report.percentile_groups = sqlx::query(&percentile_sql(year))
        .execute(&mut *db)
        .await
        .context("computing percentiles")?
        .rows_affected();
    sqlx::query!(
        "INSERT INTO health.population_imports (year, files, rows_loaded, bad_rows) VALUES ($1, $2, $3, $4) \
         ON CONFLICT ON CONSTRAINT population_imports_pkey DO UPDATE SET files = EXCLUDED.files, \
         rows_loaded = EXCLUDED.rows_loaded, bad_rows = EXCLUDED.bad_rows, updated_at = now()",
        year,
        &[report.source.clone()][..],
        report.rows_loaded as i64,
        report.bad_rows as i64,
    )
    .execute(&mut *db)
    .await
    .context("recording the import")?;
    db.commit().await.context("committing the import")?;
    report.percentile_seconds = swap.elapsed().as_secs_f64();
    Ok(report)
}

/// Imports every CSV of `paths` (plain or zipped), one after the other.
pub async fn import_files(pool: &PgPool, paths: &[PathBuf], progress: bool) -> anyhow::Result<Vec<FileReport>> {
    let mut reports = Vec::new();
    for path in paths {
        for input in inputs(path)? {
            let label = input.label.clone();
            reports.push(import_one(pool, input, progress).await.with_context(|| format!("importing {label}"))?);
        }
    }
    Ok(reports)
}
