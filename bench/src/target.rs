//! The systems under test, behind one enum so the run loop stays generic.

use anyhow::Context;
use kahuna_client::{Client, ClientOptions, Durability, SetOptions};

use crate::{Args, System};

/// A connected system under test.
pub enum Target {
    /// Kahuna connections, shared round robin by the clients.
    Kahuna {
        clients: Vec<Client>,
        durability: Durability,
        /// Options of every put (durability, `--no-revision`), built once.
        put: SetOptions,
    },
    /// etcd connections.
    #[cfg(feature = "etcd")]
    Etcd { clients: Vec<etcd_client::Client> },
}

impl Target {
    /// Connects `args.connections` connections to `args.endpoints`.
    pub async fn connect(args: &Args) -> anyhow::Result<Target> {
        let n = args.connections.max(1);
        match args.system {
            System::Kahuna => {
                let mut clients = Vec::with_capacity(n);
                for _ in 0..n {
                    clients.push(
                        Client::connect(&args.endpoints, ClientOptions::default())
                            .await
                            .with_context(|| format!("connecting to Kahuna at {:?}", args.endpoints))?,
                    );
                }
                let durability = if args.ephemeral { Durability::Ephemeral } else { Durability::Persistent };
                let put = SetOptions::new().durability(durability);
                let put = if args.no_revision { put.no_revision() } else { put };
                Ok(Target::Kahuna { clients, durability, put })
            }
            #[cfg(feature = "etcd")]
            System::Etcd => {
                let mut clients = Vec::with_capacity(n);
                for _ in 0..n {
                    clients.push(
                        etcd_client::Client::connect(&args.endpoints, None)
                            .await
                            .with_context(|| format!("connecting to etcd at {:?}", args.endpoints))?,
                    );
                }
                Ok(Target::Etcd { clients })
            }
            #[cfg(not(feature = "etcd"))]
            System::Etcd => anyhow::bail!("this kahuna-bench was built without the `etcd` feature"),
        }
    }

    /// A handle for client number `n`.
    pub fn handle(&self, n: usize) -> Handle {
        match self {
            Target::Kahuna { clients, durability, put } => {
                Handle::Kahuna { client: clients[n % clients.len()].clone(), durability: *durability, put: *put }
            }
            #[cfg(feature = "etcd")]
            Target::Etcd { clients } => Handle::Etcd { client: clients[n % clients.len()].clone() },
        }
    }
}

/// One client's view of the target.
pub enum Handle {
    /// Kahuna.
    Kahuna { client: Client, durability: Durability, put: SetOptions },
    /// etcd.
    #[cfg(feature = "etcd")]
    Etcd { client: etcd_client::Client },
}

impl Handle {
    /// Sets `key`.
    pub async fn put(&mut self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        match self {
            Handle::Kahuna { client, put, .. } => {
                client.try_set(key, value, *put).await?;
            }
            #[cfg(feature = "etcd")]
            Handle::Etcd { client } => {
                client.put(key, value, None).await?;
            }
        }
        Ok(())
    }

    /// Reads `key` (linearizable).
    pub async fn get(&mut self, key: &str) -> anyhow::Result<()> {
        match self {
            Handle::Kahuna { client, durability, .. } => {
                client.try_get(key, *durability).await?;
            }
            #[cfg(feature = "etcd")]
            Handle::Etcd { client } => {
                client.get(key, None).await?;
            }
        }
        Ok(())
    }

    /// Reads `key` and writes it back only if it did not change meanwhile.
    pub async fn cas(&mut self, key: &str, value: &[u8]) -> anyhow::Result<()> {
        match self {
            Handle::Kahuna { client, durability, .. } => {
                let got = client.try_get(key, *durability).await?;
                client.try_compare_revision_and_set(key, value, got.revision, 0, *durability).await?;
            }
            #[cfg(feature = "etcd")]
            Handle::Etcd { client } => {
                use etcd_client::{Compare, CompareOp, Txn, TxnOp};
                let got = client.get(key, None).await?;
                let rev = got.kvs().first().map_or(0, |kv| kv.mod_revision());
                let txn = Txn::new()
                    .when([Compare::mod_revision(key, CompareOp::Equal, rev)])
                    .and_then([TxnOp::put(key, value, None)]);
                client.txn(txn).await?;
            }
        }
        Ok(())
    }

    /// Acquires and releases a lock on `resource`.
    pub async fn lock_cycle(&mut self, resource: &str, owner: &[u8]) -> anyhow::Result<()> {
        match self {
            Handle::Kahuna { client, durability, .. } => {
                let r = client.try_lock(resource, owner, 5_000, *durability).await?;
                if r.locked {
                    client.unlock(resource, owner, *durability).await?;
                }
            }
            #[cfg(feature = "etcd")]
            Handle::Etcd { .. } => anyhow::bail!("the lock workload is not implemented for etcd"),
        }
        Ok(())
    }
}
