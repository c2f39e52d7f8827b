//! `aurora-scheduler`: serves the API and schedules tasks. `aurora-scheduler --local-agent` is a
//! whole single-machine cluster named `devcluster` on 127.0.0.1:8081.

use std::net::SocketAddr;

/// mimalloc instead of glibc's malloc: with thousands of agents and 100,000 tasks the
/// scheduler's profile was a third malloc and free (`docs/benchmarks.md`), and glibc's arenas
/// kept freed memory.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;

#[derive(clap::Parser)]
#[command(
    name = "aurora-scheduler",
    version,
    about = "The Aurora-compatible scheduler"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: Args,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Tokens, on the scheduler's own machine (to bootstrap the first administrator).
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(clap::Subcommand)]
enum TokenCommand {
    /// Issue a token for USER and print it (only its hash is stored), in the store of
    /// --data-dir (or of the settings file's data-dir).
    Issue {
        user: String,
        /// Lifetime: 30m, 24h, 7d.
        #[arg(long, default_value = "24h", value_parser = parse_ttl)]
        ttl: std::time::Duration,
        /// Accept the token only from this client address.
        #[arg(long)]
        bind_ip: Option<std::net::IpAddr>,
    },
}

/// `30s`, `30m`, `24h`, `7d`.
fn parse_ttl(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 24h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        u => return Err(format!("unknown unit '{u}' in '{s}' (s, m, h or d)")),
    };
    if secs == 0 {
        return Err("a token's lifetime must be positive".into());
    }
    Ok(std::time::Duration::from_secs(secs))
}

#[derive(clap::Args)]
struct Args {
    /// Read settings from this TOML file: its keys are these flags' long names
    /// (`data-dir = "/var/lib/aurora"`, `auth = ["token"]`); flags given here win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The cluster's name, as in clients' clusters.json.
    #[arg(long, default_value = "devcluster")]
    cluster: String,
    /// Where the state (SQLite) and the local agent's sandboxes live.
    #[arg(long, default_value = "./aurora-data", global = true)]
    data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
    /// Run an agent inside the scheduler: a single-machine cluster.
    #[arg(long)]
    local_agent: bool,
    /// The ports the local agent hands to tasks: A-B.
    #[arg(long, default_value = "31000-32000", value_parser = aurora_agent::parse_port_range)]
    local_agent_ports: (u16, u16),
    /// First delay before a flapping task (one that ended within 5 minutes) is rescheduled.
    #[arg(long, default_value_t = 30_000)]
    initial_flapping_task_delay_ms: u64,
    /// Longest delay before a flapping task is rescheduled.
    #[arg(long, default_value_t = 300_000)]
    max_flapping_task_delay_ms: u64,
    /// The time zone cron schedules are evaluated in (an IANA name such as Europe/Zurich).
    #[arg(long, default_value = "UTC", value_parser = parse_tz)]
    cron_timezone: chrono_tz::Tz,
    /// A file (mode 0600) holding the cluster secret every agent's credential derives from.
    /// Without one, the scheduler makes DATA/cluster-secret and uses it (for --local-agent, and
    /// for agents given that file).
    #[arg(long)]
    cluster_secret_file: Option<PathBuf>,
    /// An agent silent for this long is lost: its tasks are LOST and replaced elsewhere (or
    /// PARTITIONED, by their job's partition_policy). Agents are asked for a heartbeat every
    /// third of it (at most every 5 s).
    #[arg(long, default_value_t = 15_000)]
    agent_lost_timeout_ms: u64,
    /// How callers are identified: any of token, kerberos, proxy (comma-separated), or none (anyone may do
    /// anything: the single-machine default, refused on a non-loopback address).
    #[arg(long, default_value = "none", value_delimiter = ',')]
    auth: Vec<String>,
    /// The authorization file (TOML: admins, groups, roles).
    #[arg(long)]
    authz: Option<PathBuf>,
    /// With --auth proxy: the header carrying the user the proxy authenticated.
    #[arg(long, default_value = "X-Forwarded-User")]
    proxy_user_header: String,
    /// With --auth proxy: an address the proxy connects from (repeatable).
    #[arg(long = "trusted-proxy")]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Allow --auth none on an address other than loopback.
    #[arg(long)]
    insecure_allow_anonymous: bool,
    /// With --auth kerberos: the keytab holding the keys of HTTP/HOST@REALM.
    #[arg(long)]
    keytab: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM; include the CA for the embedded agent).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With --auth kerberos: principals of this realm are bare user names (alice@REALM is
    /// alice); principals of any other realm keep it (bob@OTHER.REALM).
    #[arg(long)]
    kerberos_realm: Option<String>,
    /// With --local-agent, run tasks as the scheduler's own user, who can read and write its
    /// store: unsafe on a machine others use (needed when the scheduler does not run as root).
    #[arg(long)]
    local_agent_same_user: bool,
    /// Refuse jobs whose role is a system account (a uid below this, such as root or
    /// www-data), unless --allow-task-user names it.
    #[arg(long, default_value_t = aurora_model::task_user::DEFAULT_MIN_UID)]
    min_task_uid: u32,
    /// A system account that roles may name anyway (repeatable).
    #[arg(long = "allow-task-user")]
    allow_task_users: Vec<String>,
    /// Close a connection that has not sent a request's headers within this long.
    #[arg(long, default_value_t = 10_000)]
    http_header_timeout_ms: u64,
    /// Close a connection with nothing read or written for this long.
    #[arg(long, default_value_t = 120_000)]
    http_idle_timeout_ms: u64,
    /// Serve at most this many connections at once (more wait to be accepted): one per agent
    /// (HTTP/2) plus clients, so above the number of machines. Each needs a file descriptor
    /// (the packaged unit allows 65,536).
    #[arg(long, default_value_t = 16_384)]
    max_connections: usize,
    /// Run as one of several schedulers on this etcd cluster (its client URLs, comma-separated):
    /// one leads, the others follow its replicated log. Needs --cluster-secret-file.
    #[arg(long, value_delimiter = ',', value_name = "URL")]
    etcd: Vec<String>,
    /// Where this cluster's keys live in etcd [default: /aurora/CLUSTER].
    #[arg(long, value_name = "PREFIX")]
    etcd_prefix: Option<String>,
    /// The leader's lease in etcd: a leader silent this long is replaced (whole seconds, >= 2).
    #[arg(long, default_value_t = 3)]
    etcd_lease_ttl_secs: u64,
    /// With --etcd: the leader snapshots its state into etcd after this many log entries.
    #[arg(long, default_value_t = 1000)]
    snapshot_every: u64,
    /// Where the leader writes backups of the state (default: DATA/backups).
    #[arg(long, value_name = "DIR")]
    backup_dir: Option<PathBuf>,
    /// How often the leader writes a backup.
    #[arg(long, default_value_t = 3600)]
    backup_interval_secs: u64,
    /// How many backups are kept (the oldest are deleted).
    #[arg(long, default_value_t = 48)]
    max_saved_backups: usize,
    /// With --etcd: the URL others reach this scheduler at (redirects to the leader point
    /// there); by default this host's name and the port bound.
    #[arg(long, value_name = "URL")]
    advertise_url: Option<String>,
}

fn auth_options(args: &Args) -> anyhow::Result<aurora_scheduler::http::auth::AuthOptions> {
    use anyhow::bail;
    let mut o = aurora_scheduler::http::auth::AuthOptions {
        tokens: false,
        kerberos: false,
        proxy: None,
        anonymous: false,
        secure_cookies: args.tls_cert.is_some(),
        authz: match &args.authz {
            Some(p) => aurora_auth::Authz::load(p)?,
            None => aurora_auth::Authz::open(),
        },
        kerberos_realm: args.kerberos_realm.clone(),
    };
    for m in &args.auth {
        match m.trim() {
            "token" => o.tokens = true,
            "proxy" => {
                if args.trusted_proxies.is_empty() {
                    bail!("--auth proxy needs the proxy's address: --trusted-proxy IP");
                }
                o.proxy = Some(aurora_scheduler::http::auth::Proxy {
                    header: args.proxy_user_header.to_ascii_lowercase(),
                    from: args.trusted_proxies.clone(),
                });
            }
            "none" => {
                if !args.listen.ip().is_loopback() && !args.insecure_allow_anonymous {
                    bail!(
                        "--auth none lets anyone who reaches {} do anything: use --auth token (or proxy), or add --insecure-allow-anonymous",
                        args.listen
                    );
                }
                o.anonymous = true;
                // Tokens still identify users (the UI shows who is logged in), when given.
                o.tokens = true;
            }
            "kerberos" => {
                if args.keytab.is_none() && std::env::var_os("KRB5_KTNAME").is_none() {
                    bail!("--auth kerberos needs the service's keys: --keytab FILE");
                }
                o.kerberos = true;
            }
            other => bail!("unknown --auth method '{other}' (token, kerberos, proxy, none)"),
        }
    }
    Ok(o)
}

/// `aurora-scheduler token issue`: writes the token's record to the store and prints the token.
async fn issue_token(
    data_dir: &std::path::Path,
    user: &str,
    ttl: std::time::Duration,
    bind_ip: Option<std::net::IpAddr>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    let db = data_dir.join("scheduler.db");
    aurora_scheduler::private::secure_store(data_dir, &db)
        .with_context(|| format!("securing the store in {}", data_dir.display()))?;
    let (store, _) = aurora_store::Store::open(&db)?;
    let now = aurora_scheduler::core::now_ms();
    let (token, record) = aurora_auth::mint(user, now, ttl.as_millis() as i64, bind_ip)
        .map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    eprintln!(
        "Token {} for {user}, valid until {} UTC{}",
        record.id,
        aurora_model::time::utc_timestamp(record.expires_ms),
        bind_ip.map_or(String::new(), |ip| format!(", from {ip} only"))
    );
    store
        .submit(vec![aurora_store::StoreOp::SaveToken { record }])
        .wait()
        .await?;
    println!("{token}");
    Ok(())
}

fn parse_tz(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse().map_err(|_| {
        format!("unknown time zone '{s}' (use an IANA name such as UTC or Europe/Zurich)")
    })
}

/// `token issue` run as root on a store another user owns (the packaged scheduler's `aurora`):
/// becomes that user first, so that the files SQLite makes beside the store stay the
/// scheduler's. Runs while the process has one thread.
fn become_store_owner(data_dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};
    use std::os::unix::fs::MetadataExt;
    if !Uid::effective().is_root() {
        return Ok(());
    }
    let meta = match std::fs::metadata(data_dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", data_dir.display())),
    };
    if meta.uid() == 0 {
        return Ok(());
    }
    (|| {
        setgroups(&[])?;
        setgid(Gid::from_raw(meta.gid()))?;
        setuid(Uid::from_raw(meta.uid()))
    })()
    .with_context(|| {
        format!(
            "becoming uid {}, who owns {}",
            meta.uid(),
            data_dir.display()
        )
    })
}

fn main() -> std::process::ExitCode {
    let cli: Cli = aurora_cli::parse();
    if cli.command.is_some()
        && let Err(e) = become_store_owner(&cli.serve.data_dir)
    {
        eprintln!("error: {e:#}");
        return std::process::ExitCode::FAILURE;
    }
    // GSSAPI reads the keytab's location from the environment; set it while the process has one
    // thread, before the runtime starts.
    if let Some(keytab) = &cli.serve.keytab {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var("KRB5_KTNAME", keytab) };
    }
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve(cli)),
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(cli: Cli) -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(Command::Token(TokenCommand::Issue { user, ttl, bind_ip })) = &cli.command {
        if !cli.serve.etcd.is_empty() {
            // This store is one replica: a token written here alone would never reach the
            // others, and the next log entry from the leader would not know it.
            eprintln!(
                "error: with --etcd the state lives in the replicated log: issue tokens with `aurora_admin token issue USER` as an administrator; the very first one is issued (without --etcd) on the data directory of the scheduler started first, before the cluster's first start (docs/ha.md)"
            );
            return std::process::ExitCode::from(2);
        }
        return match issue_token(&cli.serve.data_dir, user, *ttl, *bind_ip).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let args = cli.serve;
    let auth = match auth_options(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let cluster_secret = match args
        .cluster_secret_file
        .as_deref()
        .map(aurora_agent::cluster_secret::read)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    let ha = (!args.etcd.is_empty()).then(|| aurora_ha::Options {
        endpoints: args.etcd.clone(),
        prefix: args
            .etcd_prefix
            .clone()
            .unwrap_or_else(|| format!("/aurora/{}", args.cluster)),
        lease_ttl: std::time::Duration::from_secs(args.etcd_lease_ttl_secs.max(2)),
        advertise: args.advertise_url.clone().unwrap_or_default(),
        snapshot_every: args.snapshot_every.max(1),
    });
    let backups = aurora_scheduler::storage::BackupOptions {
        dir: args
            .backup_dir
            .clone()
            .unwrap_or_else(|| args.data_dir.join("backups")),
        interval: std::time::Duration::from_secs(args.backup_interval_secs.max(1)),
        max_saved: args.max_saved_backups.max(1),
    };
    let config = aurora_scheduler::Config {
        ha,
        backups,
        cluster: args.cluster,
        data_dir: args.data_dir,
        listen: args.listen,
        local_agent: args.local_agent,
        local_agent_ports: args.local_agent_ports,
        backoff: aurora_sched::reschedule::Backoff {
            initial: std::time::Duration::from_millis(args.initial_flapping_task_delay_ms),
            max: std::time::Duration::from_millis(args.max_flapping_task_delay_ms),
            ..Default::default()
        },
        cron_timezone: args.cron_timezone,
        clock: std::sync::Arc::new(aurora_scheduler::core::SystemClock),
        cluster_secret,
        agent_lost_timeout: std::time::Duration::from_millis(args.agent_lost_timeout_ms),
        auth,
        tls: args.tls_cert.zip(args.tls_key),
        local_agent_same_user: args.local_agent_same_user,
        task_users: aurora_model::task_user::TaskUserPolicy {
            min_uid: args.min_task_uid,
            allowed: args.allow_task_users.into_iter().collect(),
        },
        limits: aurora_scheduler::serve::Limits {
            header_read_timeout: std::time::Duration::from_millis(args.http_header_timeout_ms),
            idle_timeout: std::time::Duration::from_millis(args.http_idle_timeout_ms),
            max_connections: args.max_connections,
        },
    };
    match aurora_scheduler::start(config).await {
        Ok(running) => {
            println!("aurora-scheduler listening on http://{}", running.addr);
            match running.wait().await {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
