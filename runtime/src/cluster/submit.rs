//! `submit`: a topology binary uploads itself and its plan to nimbus.

use super::client::{Client, status_text};
use super::proto::{
    ChainPlan, ComponentPlan, EdgePlan, Plan, SubmitChunk, SubmitHeader, SubmitReply, submit_chunk,
};
use crate::exec::wiring;
use crate::topology::{Kind, TopologyDesc};
use std::path::Path;

/// Bytes of the binary per upload message.
pub const CHUNK: usize = 1 << 20;

/// The plan nimbus schedules: chains with their tasks and executors, workers and ackers.
/// `workers` overrides the topology's `workers` setting.
pub fn plan(desc: &TopologyDesc, workers: Option<u32>) -> Plan {
    let workers = workers
        .unwrap_or(desc.settings.workers.min(u64::from(u32::MAX)) as u32)
        .max(1);
    let ackers = if wiring::tracking(desc) {
        // Storm's default: one acker per worker.
        desc.settings
            .ackers
            .map_or(workers, |n| n.min(u64::from(u32::MAX)) as u32)
    } else {
        0
    };
    // The components and edges as the web UI shows them, in the plan's messages.
    let view = crate::web::view::PlanView::of_desc(desc, &[], ackers);
    Plan {
        name: desc.name.to_string(),
        workers,
        ackers,
        chains: desc
            .chains
            .iter()
            .map(|c| ChainPlan {
                components: c
                    .components
                    .iter()
                    .map(|&i| desc.components[i].name.to_string())
                    .collect(),
                tasks: c.tasks,
                parallelism: c.parallelism,
                spout: desc.components[c.components[0]].kind == Kind::Spout,
            })
            .collect(),
        config: Default::default(),
        checkpoints: super::checkpoint_plan::plan_of(desc, ""),
        source: desc.source.to_string(),
        components: view
            .components
            .into_iter()
            .map(|c| ComponentPlan {
                name: c.name,
                kind: c.kind,
                operator: c.operator,
                chain: c.chain,
                tasks: c.tasks,
                first_task: c.first_task,
                line: c.line,
            })
            .collect(),
        edges: view
            .edges
            .into_iter()
            .map(|e| EdgePlan {
                from: e.from,
                to: e.to,
                stream: e.stream,
                grouping: e.grouping,
                detail: e.detail,
                fused: e.fused,
            })
            .collect(),
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Uploads `binary` with `plan`; returns nimbus's reply.
pub async fn upload(client: &mut Client, binary: &Path, plan: Plan) -> Result<SubmitReply, String> {
    let bytes = std::fs::read(binary)
        .map_err(|e| format!("cannot read the topology binary {}: {e}", binary.display()))?;
    let header = SubmitHeader {
        plan: Some(plan),
        sha256: sha256_hex(&bytes),
        size: bytes.len() as u64,
    };
    let mut chunks = vec![SubmitChunk {
        part: Some(submit_chunk::Part::Header(header)),
    }];
    chunks.extend(bytes.chunks(CHUNK).map(|c| SubmitChunk {
        part: Some(submit_chunk::Part::Data(c.to_vec())),
    }));
    client
        .submit(tokio_stream::iter(chunks))
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| format!("submit failed: {}", status_text(&s)))
}
