//! Fuzz target `dump_import`: see `gemtrail_node::fuzzing::dump_import`.
//! One store for the whole run (opening RocksDB per input would be all the
//! fuzzer measures); each input may replace its contents.
#![no_main]

use std::sync::{Mutex, OnceLock};

use gemtrail_ledger::store::LedgerStore;
use gemtrail_ledger::testkit::Consortium;

struct Store {
    _dir: tempfile::TempDir,
    store: LedgerStore,
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = LedgerStore::open(dir.path(), &Consortium::sample().genesis)
            .expect("an empty store");
        Mutex::new(Store { _dir: dir, store })
    })
}

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let mut held = store().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    gemtrail_node::fuzzing::dump_import(&mut held.store, bytes);
});
