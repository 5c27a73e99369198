//! The database the relay runs against: a fresh PostgreSQL database per run (dropped at
//! the end), or SQLite.

use std::path::Path;

use anyhow::{bail, Context};
use sqlx::{Connection, PgConnection};

pub struct BenchDatabase {
    /// What the relay is given with --database-url.
    pub url: String,
    /// "PostgreSQL" or "SQLite", for the result tables.
    pub kind: &'static str,
    /// Settings that decide whether a commit is durable, as shown to the reader.
    pub durability: String,
    /// The administrative URL and the name of the database to drop at the end.
    created: Option<(String, String)>,
}

/// `url` with its database name (the path after the host) replaced by `name`.
fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let Some(scheme_end) = base.find("://") else {
        bail!("cannot read the database URL {url:?}");
    };
    let host_start = scheme_end + 3;
    let host_end = base[host_start..]
        .find('/')
        .map_or(base.len(), |i| host_start + i);
    let mut out = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

impl BenchDatabase {
    /// Prepares the database. With no URL, an SQLite file in `work_dir`.
    pub async fn prepare(url: Option<&str>, work_dir: &Path, tag: &str) -> anyhow::Result<Self> {
        let Some(url) = url else {
            return Ok(Self {
                url: format!("sqlite://{}", work_dir.join("bench.db").display()),
                kind: "SQLite",
                durability:
                    "SQLite file in a temporary folder (no --database-url nor DATABASE_URL)".into(),
                created: None,
            });
        };
        if url.starts_with("sqlite:") {
            return Ok(Self {
                url: url.to_owned(),
                kind: "SQLite",
                durability: "SQLite, as configured by the relay".into(),
                created: None,
            });
        }
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!("unsupported --database-url {url:?}: use postgres://… or sqlite:…");
        }
        let name = format!("pairprog_bench_{tag}");
        let mut admin = PgConnection::connect(url)
            .await
            .with_context(|| format!("cannot connect to {url}"))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("CREATE DATABASE {name}"))?;
        let mut settings = Vec::new();
        for setting in [
            "synchronous_commit",
            "fsync",
            "wal_sync_method",
            "server_version",
        ] {
            let value: String = sqlx::query_scalar(&format!("SHOW {setting}"))
                .fetch_one(&mut admin)
                .await
                .with_context(|| format!("SHOW {setting}"))?;
            settings.push(format!("{setting}={value}"));
        }
        let _ = admin.close().await;
        Ok(Self {
            url: with_database(url, &name)?,
            kind: "PostgreSQL",
            durability: settings.join(", "),
            created: Some((url.to_owned(), name)),
        })
    }

    /// Drops the database this run created, if any.
    pub async fn cleanup(self) -> anyhow::Result<()> {
        if let Some((admin_url, name)) = self.created {
            let mut admin = PgConnection::connect(&admin_url).await?;
            // FORCE ends any backend the relay left behind if it had to be killed.
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .with_context(|| format!("DROP DATABASE {name}"))?;
            let _ = admin.close().await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x").unwrap(),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h", "x").unwrap(),
            "postgres://h/x"
        );
    }
}
