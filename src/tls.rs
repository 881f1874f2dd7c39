//! Installs rustls' ring provider as the process default, once.
//!
//! reqwest 0.13 built with `rustls-no-provider` and slack-morphism's hyper-rustls both need a
//! process-level `CryptoProvider`; with only ring compiled in, installing it explicitly is what
//! keeps client construction from panicking (see `crates.md` §4.3). Every client constructor
//! calls this, so callers cannot forget.

use std::sync::Once;

static INIT: Once = Once::new();

/// Makes ring the process default crypto provider; later calls do nothing.
pub fn init() {
    INIT.call_once(|| {
        // Err means another provider was installed first, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
