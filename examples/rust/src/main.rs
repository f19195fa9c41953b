//! Connects to the local cluster (KAHUNA_ENDPOINTS or 127.0.0.1:7071-7073) and does a set, a
//! get and a compare-and-set.

use kahuna_client::{BlockingClient, ClientOptions, Durability, SetOptions};

fn main() -> Result<(), kahuna_client::Error> {
    let endpoints =
        std::env::var("KAHUNA_ENDPOINTS").unwrap_or_else(|_| "127.0.0.1:7071,127.0.0.1:7072,127.0.0.1:7073".into());
    let endpoints: Vec<&str> = endpoints.split(',').collect();
    let client = BlockingClient::connect(&endpoints, ClientOptions::default())?;

    let set = client.try_set("config/greeting", b"hello", SetOptions::new())?;
    println!("set config/greeting -> revision {}", set.revision);

    let got = client.try_get("config/greeting", Durability::Persistent)?;
    println!("get config/greeting -> {:?} (revision {})", String::from_utf8_lossy(&got.value), got.revision);

    let cas = client.try_compare_revision_and_set(
        "config/greeting",
        b"hello again",
        got.revision,
        0,
        Durability::Persistent,
    )?;
    println!("compare-revision-and-set -> set={} revision {}", cas.set, cas.revision);
    Ok(())
}
