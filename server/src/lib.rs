//! Kahuna server library: the layers of a node, composed by [`server`].
pub mod admin;
pub mod cluster;
pub mod config;
pub mod hlc;
pub mod kv;
pub mod locks;
pub mod mvcc;
pub mod partition;
pub mod raft;
pub mod rpc;
pub mod server;
pub mod storage;
