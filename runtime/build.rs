//! Compiles the control plane's `.proto` with protox (pure Rust: no system `protoc`).

fn main() {
    println!("cargo:rerun-if-changed=proto");
    let fds = match protox::compile(["proto/cluster.proto"], ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("gale: cannot compile proto/cluster.proto: {e}"),
    };
    if let Err(e) = tonic_prost_build::configure().compile_fds(fds) {
        panic!("gale: cannot generate the gRPC code: {e}");
    }
}
