//! Compiles the Cap'n Proto schemas into Rust modules (needs the `capnp` compiler on PATH).

fn main() {
    println!("cargo:rerun-if-changed=capnp/kahuna.capnp");
    println!("cargo:rerun-if-changed=capnp/peer.capnp");
    if let Err(e) =
        capnpc::CompilerCommand::new().src_prefix("capnp").file("capnp/kahuna.capnp").file("capnp/peer.capnp").run()
    {
        panic!(
            "compiling the Cap'n Proto schemas failed: {e}\n\
             hint: install the compiler with `apt-get install capnproto`"
        );
    }
}
