//! The SQLite file: connection settings and the schema migrations, applied in order and recorded
//! in `PRAGMA user_version`.

use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: jobs by key; tasks (with their events) as JSON bodies, indexed by job.
    "CREATE TABLE jobs (key TEXT PRIMARY KEY NOT NULL, config TEXT NOT NULL);
     CREATE TABLE tasks (id TEXT PRIMARY KEY NOT NULL, job TEXT NOT NULL, body BLOB NOT NULL);
     CREATE INDEX tasks_by_job ON tasks (job);",
    // 2: the firing state of each scheduled cron job, by job key.
    "CREATE TABLE cron (key TEXT PRIMARY KEY NOT NULL, state TEXT NOT NULL);",
    // 3: hosts in maintenance (drained or draining).
    "CREATE TABLE maintenance (host TEXT PRIMARY KEY NOT NULL);",
    // 4: issued tokens, by hash (the tokens themselves are never stored).
    "CREATE TABLE tokens (hash TEXT PRIMARY KEY NOT NULL, record TEXT NOT NULL);",
    // 5: every configuration a job's tasks run (more than one during and after updates), by
    // digest; job updates with their history, by id.
    "CREATE TABLE job_configs (job TEXT NOT NULL, digest TEXT NOT NULL, config TEXT NOT NULL,
                               PRIMARY KEY (job, digest));
     CREATE TABLE job_updates (id TEXT PRIMARY KEY NOT NULL, job TEXT NOT NULL, body TEXT NOT NULL);
     CREATE INDEX job_updates_by_job ON job_updates (job);",
    // 6: with a replicated log (`--etcd`), the index of its last entry in this file.
    "CREATE TABLE replication (id INTEGER PRIMARY KEY CHECK (id = 0), applied INTEGER NOT NULL);",
];

/// The schema version a migrated file has.
pub const VERSION: usize = MIGRATIONS.len();

/// WAL so readers never block the writer; `synchronous = FULL` so a commit is on disk (and
/// survives a power cut, not only a crash) before it is acknowledged; the WAL moved into the
/// file every 8,192 pages (32 MiB) rather than SQLite's 1,000: under thousands of status
/// changes a second, pages changed again and again are copied once per checkpoint, not each
/// time.
pub fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 8192)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// Applies the migrations the file has not seen, in one transaction.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let version: usize =
        conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))? as usize;
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for m in &MIGRATIONS[version..] {
        tx.execute_batch(m)?;
    }
    tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)?;
    tx.commit()
}
