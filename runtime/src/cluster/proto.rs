//! The control plane's messages and gRPC service, generated from `proto/cluster.proto`.
#![allow(missing_docs, clippy::all, clippy::pedantic)]

tonic::include_proto!("gale.cluster");
