/**
 * Runner and client layers for the multi-process tests, bench/cluster.ts and the clustered web chat: sockets on
 * 127.0.0.1, the cluster's storage and the environments' journals in one Postgres database, failure detection
 * tuned for tests (a dead runner's shards move after ~10 s instead of ~35 s), on `ClusterSocket`.
 */
import { PgClient } from "@effect/sql-pg"
import { Layer, Redacted } from "effect"
import { ClusterAgent, ClusterEnvironment, ClusterSocket, PgJournal } from "@chorus/cluster"

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

/** The cluster's own layers for a runner on 127.0.0.1:port, or a client-only node when port is undefined (on a `SqlClient`). */
export const nodeLayer = (port: number | undefined) => ClusterSocket.layer({ port, shardingConfig })

/** A runner: hosts shards, registers the environment entity (and the agent entity, with a registry). */
export const runnerLayer = (
  url: string,
  port: number,
  options?: ClusterEnvironment.Options & { readonly agents?: Record<string, ClusterAgent.Definition> }
) => {
  const entities = options?.agents === undefined
    ? ClusterEnvironment.layerEntity(options)
    : Layer.mergeAll(ClusterEnvironment.layerEntity(options), ClusterAgent.layerEntity()).pipe(
      Layer.provide(ClusterAgent.layerRegistry(options.agents))
    )
  return entities.pipe(
    Layer.provide(PgJournal.layer()),
    Layer.provideMerge(nodeLayer(port)),
    Layer.provide(sql(url)),
    Layer.orDie
  )
}

/** A node that hosts no shards and reaches every environment through the runners. */
export const clientLayer = (url: string) => nodeLayer(undefined).pipe(Layer.provide(sql(url)), Layer.orDie)
