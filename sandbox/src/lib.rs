//! The sandbox: one loopback HTTP server that behaves like every vendor Vigil talks to.
//!
//! It exists so the demo, the integration tests and anyone without vendor accounts can run Vigil
//! for real. Each vendor lives in its own folder and is written from the vendor's documentation:
//! nothing here imports Vigil's clients, models or case types (SPEC §8), so a client bug and a
//! simulator bug cannot agree with each other. It is its own crate (`vigil-sandbox`) with no
//! dependency on Vigil, so the compiler keeps that wall; Vigil depends on it only for `demo`,
//! `bench`, `vigil sandbox` and the tests.
//!
//! Addressing (SPEC §7.1): `http://127.0.0.1:PORT/<service>/...`, control API under `/_sandbox`.

pub mod args;
pub mod cli;
pub mod client;
pub mod control;
pub mod credentials;
pub mod faults;
pub mod limits;
pub mod record;
pub mod seed;
pub mod settings;

// Shared by the flow-2 reputation simulators.
pub mod intel;
pub mod quota;

pub mod crowdstrike;
pub mod github;
pub mod oomnitza;
pub mod pagerduty;
pub mod slack;
pub mod virustotal;

pub mod abuseipdb;
pub mod emailrep;
pub mod tavily;
pub mod urlscan;

pub mod confluence;
pub mod llm;
pub mod okta;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use credentials::Credentials;
pub use seed::Seed;

/// Shared state of one running sandbox; cloned into every handler (cheap: an `Arc`).
#[derive(Clone)]
pub struct Sandbox(Arc<Inner>);

/// Everything one sandbox instance holds. Vendor states are reset to the seed by
/// `POST /_sandbox/reset`; credentials never change for the life of the process.
pub struct Inner {
    /// Secrets the simulators accept, answered by `GET /_sandbox/credentials`.
    pub credentials: Credentials,
    /// The seed data every reset goes back to.
    pub seed: Seed,
    /// Timing knobs (`POST /_sandbox/settings`).
    pub settings: settings::SettingsCell,
    /// Every vendor request, for `GET /_sandbox/requests`.
    pub recorder: record::Recorder,
    /// Injected faults (`POST /_sandbox/faults`).
    pub faults: faults::Faults,
    /// Rate limits, on by default with each vendor's real numbers.
    pub limits: limits::Limits,
    /// Slack Web API and Socket Mode state.
    pub slack: slack::SlackSim,
    /// Falcon (`/crowdstrike`): OAuth2 tokens, alerts, hosts and containment, timing knobs.
    pub crowdstrike: crowdstrike::CrowdStrikeSim,
    /// Oomnitza (`/oomnitza`): the seeded assets and their owners.
    pub oomnitza: oomnitza::OomnitzaSim,
    /// GitHub (`/github`): one repository's issues, comments and labels, and the rate budgets.
    pub github: github::GitHubSim,
    /// PagerDuty (`/pagerduty`): Events v2 intake and the incidents it opened.
    pub pagerduty: pagerduty::PagerDutySim,
    /// VirusTotal (`/virustotal`): verdicts by [`intel`], URL analyses, records tests add.
    pub virustotal: virustotal::VirusTotalSim,
    /// AbuseIPDB (`/abuseipdb`): IP reports by [`intel`] and the daily quota.
    pub abuseipdb: abuseipdb::AbuseIpDbSim,
    /// EmailRep (`/emailrep`): sender reputation by [`intel`].
    pub emailrep: emailrep::EmailRepSim,
    /// urlscan.io (`/urlscan`): submitted scans, finished after a delay, and per-minute quotas.
    pub urlscan: urlscan::UrlscanSim,
    /// Confluence Cloud (`/confluence`): space `SEC` with the SOP pages flow 2 follows.
    pub confluence: confluence::ConfluenceSim,
    /// Okta state (users, sessions, push factors).
    pub okta: okta::OktaSim,
    /// The scripted OpenAI-compatible model (`/llm`): answers tests post, no real inference.
    pub llm: llm::LlmSim,
}

impl std::ops::Deref for Sandbox {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Sandbox {
    /// Builds a sandbox with fresh random credentials and the standard seed.
    pub fn new() -> Self {
        let credentials = Credentials::generate();
        let seed = Seed::standard();
        Sandbox(Arc::new(Inner {
            slack: slack::SlackSim::new(&seed),
            crowdstrike: crowdstrike::CrowdStrikeSim::new(&seed),
            oomnitza: oomnitza::OomnitzaSim::new(&seed),
            github: github::GitHubSim::new(&seed),
            pagerduty: pagerduty::PagerDutySim::new(&seed),
            virustotal: virustotal::VirusTotalSim::new(&seed),
            abuseipdb: abuseipdb::AbuseIpDbSim::new(&seed),
            emailrep: emailrep::EmailRepSim::new(&seed),
            urlscan: urlscan::UrlscanSim::new(&seed),
            confluence: confluence::ConfluenceSim::new(&seed),
            okta: okta::OktaSim::new(&seed),
            llm: llm::LlmSim::new(&seed),
            settings: settings::SettingsCell::default(),
            recorder: record::Recorder::default(),
            faults: faults::Faults::default(),
            limits: limits::Limits::with_defaults(),
            credentials,
            seed,
        }))
    }

    /// Puts every simulator back to the seed (SPEC §7.3 `POST /_sandbox/reset`): state, recorded
    /// requests, faults, rate-limit buckets and settings; credentials and open sockets stay.
    pub fn reset(&self) {
        self.slack.reset(&self.seed);
        self.crowdstrike.reset(&self.seed);
        self.oomnitza.reset(&self.seed);
        self.github.reset(&self.seed);
        self.pagerduty.reset(&self.seed);
        self.virustotal.reset(&self.seed);
        self.abuseipdb.reset(&self.seed);
        self.emailrep.reset(&self.seed);
        self.urlscan.reset(&self.seed);
        self.confluence.reset(&self.seed);
        self.okta.reset(&self.seed);
        self.llm.reset(&self.seed);
        self.settings.reset();
        self.recorder.clear();
        self.faults.clear();
        self.limits.reset();
    }

    /// The full router: vendor prefixes, the Socket Mode endpoint and the control API, wrapped
    /// in the fault and recording layers.
    pub fn router(&self) -> Router {
        let vendors = MOUNTS
            .iter()
            .fold(Router::new(), |router, (prefix, routes)| {
                router.nest(prefix, routes())
            })
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                faults::inject,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.clone(),
                record::record,
            ));
        Router::new()
            .merge(vendors)
            .nest("/_sandbox", control::routes())
            .fallback(not_found)
            .with_state(self.clone())
    }
}

/// Builds one vendor's routes, to be nested under its prefix.
pub type VendorRoutes = fn() -> Router<Sandbox>;

/// Every vendor prefix the router serves, with its routes: the one list both the router and
/// `vigil sandbox`'s printed endpoints are checked against, so a new vendor cannot be mounted
/// without being announced.
pub const MOUNTS: [(&str, VendorRoutes); 13] = [
    ("/slack", slack::routes),
    ("/crowdstrike", crowdstrike::routes),
    ("/oomnitza", oomnitza::routes),
    ("/github", github::routes),
    ("/pagerduty", pagerduty::routes),
    ("/virustotal", virustotal::routes),
    ("/abuseipdb", abuseipdb::routes),
    ("/emailrep", emailrep::routes),
    ("/urlscan", urlscan::routes),
    ("/tavily", tavily::routes),
    ("/confluence", confluence::routes),
    ("/okta", okta::routes),
    ("/llm", llm::routes),
];

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

async fn not_found(
    uri: axum::http::Uri,
) -> (axum::http::StatusCode, axum::Json<serde_json::Value>) {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({"error": "not_found", "path": uri.path()})),
    )
}

/// Everything a client needs to be pointed at a running sandbox. The sandbox knows nothing of
/// any client's config schema: callers (Vigil's `--write-config`, the demo, the tests) turn this
/// into their own config.
#[derive(Debug, Clone)]
pub struct Served {
    /// `http://127.0.0.1:PORT`, the root every vendor prefix hangs off.
    pub base: String,
    /// The secrets every simulator accepts; fixed for the life of the process.
    pub credentials: Credentials,
    /// The data every reset goes back to (channels, analysts, hosts...).
    pub seed: Seed,
}

/// A sandbox serving on a socket; dropping it does not stop the server, `shutdown` does.
pub struct RunningSandbox {
    /// The state, for tests and the demo that drive it in-process.
    pub sandbox: Sandbox,
    /// The bound address (with the real port when started on port 0); clients use
    /// `http://{addr}`.
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningSandbox {
    /// `http://ADDR`, the root every vendor prefix hangs off.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What this sandbox reports to whoever configures a client for it (its address, the
    /// secrets it accepts, the seed it answers with), as plain data.
    pub fn served(&self) -> Served {
        Served {
            base: self.base_url(),
            credentials: self.sandbox.credentials.clone(),
            seed: self.sandbox.seed.clone(),
        }
    }

    /// Stops accepting connections, drops open Socket Mode connections and waits for
    /// in-flight requests to finish.
    pub async fn shutdown(self) {
        self.sandbox.slack.socket.disconnect_all("drop");
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Binds `listen` and serves a new sandbox on it in a background task.
pub async fn start(listen: SocketAddr) -> std::io::Result<RunningSandbox> {
    start_with(Sandbox::new(), listen).await
}

/// Serves an existing sandbox state on `listen` (tests that pre-configure state use this).
///
/// Connections are served by hyper directly (not `axum::serve`) for two reasons: header names go
/// out in title case as the real vendors send them (FalconPy reads `X-RateLimit-Remaining`
/// case-sensitively), and upgraded Socket Mode connections can be closed on shutdown.
pub async fn start_with(sandbox: Sandbox, listen: SocketAddr) -> std::io::Result<RunningSandbox> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = watch::channel(false);
    let app = sandbox.router();
    let task = tokio::spawn(accept_loop(listener, app, stopped));
    Ok(RunningSandbox {
        sandbox,
        addr,
        stop,
        task,
    })
}

async fn accept_loop(listener: TcpListener, app: Router, mut stopped: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "sandbox accept failed");
                    continue;
                }
            },
            _ = stopped.wait_for(|s| *s) => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(remote));
                tower::ServiceExt::oneshot(app.clone(), req.map(axum::body::Body::new))
            });
        let mut builder =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder.http1().title_case_headers(true);
        let conn = builder
            .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "sandbox connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
}
