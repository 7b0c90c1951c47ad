/**
 * Runner and client layers for the multi-process tests and bench/cluster.ts: sockets on 127.0.0.1, the
 * cluster's storage and the environments' journals in one Postgres database, failure detection tuned for tests
 * (a dead runner's shards move after ~10 s instead of ~35 s).
 */
import { RunnerAddress } from "@effect/cluster"
import { NodeClusterSocket } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Layer, Option, Redacted } from "effect"
import { ClusterEnvironment, PgJournal } from "@chorus/cluster"

// Expiration is ~4 refreshes: on this shared 2-core machine a busy runner may miss one or two heartbeats, and a
// runner declared dead while alive makes shards flap between runners.
export const shardingConfig = {
  shardsPerGroup: 30,
  shardLockRefreshInterval: "2 seconds",
  shardLockExpiration: "9 seconds",
  refreshAssignmentsInterval: "1 second",
  entityMessagePollInterval: "1 second",
  sendRetryInterval: "50 millis"
} as const

const sql = (url: string) => PgClient.layer({ url: Redacted.make(url), maxConnections: 20 })

/** A runner: hosts shards, registers the environment entity. */
export const runnerLayer = (url: string, port: number, options?: ClusterEnvironment.Options) =>
  ClusterEnvironment.layerEntity(options).pipe(
    Layer.provide(PgJournal.layer()),
    Layer.provideMerge(NodeClusterSocket.layer({
      storage: "sql",
      shardingConfig: { ...shardingConfig, runnerAddress: Option.some(RunnerAddress.make("127.0.0.1", port)) }
    })),
    Layer.provide(sql(url)),
    Layer.orDie
  )

/** A node that hosts no shards and reaches every environment through the runners. */
export const clientLayer = (url: string) =>
  NodeClusterSocket.layer({ clientOnly: true, storage: "sql", shardingConfig }).pipe(Layer.provide(sql(url)), Layer.orDie)
