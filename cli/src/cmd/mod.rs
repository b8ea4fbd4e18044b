//! One module per command family.

pub(crate) mod bench;
pub(crate) mod demo;
pub(crate) mod disclose;
pub(crate) mod etcd_bench;
pub(crate) mod genesis;
pub(crate) mod governance;
pub(crate) mod keys;
pub(crate) mod ledger;
pub(crate) mod node;
pub(crate) mod passport;
pub(crate) mod scale_bench;
pub(crate) mod status;
pub(crate) mod stone;
pub(crate) mod verify;
