//! `vigil sandbox --write-config PATH` (SPEC §7.2): filled in with the config module.
