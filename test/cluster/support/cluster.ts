/**
 * Runner and client layers for the multi-process tests, bench/cluster.ts and the clustered web chat: sockets on
 * 127.0.0.1, the cluster's storage and the environments' journals in one Postgres database, failure detection
 * tuned for tests (a dead runner's shards move after ~10 s instead of ~35 s).
 *
 * The same composition as `NodeClusterSocket.layer({ storage: "sql" })` of `@effect/platform-node`, with two
 * differences: every socket sets `noDelay` (neither that layer nor `@effect/cluster` turns Nagle's algorithm
 * off, which adds up to a delayed-ACK wait to small request/reply exchanges), and a connection may take 5 s to
 * open instead of 1 s (on a loaded machine a runner's accept loop can be slower than that).
 */
import { Runners, RunnerAddress, RunnerHealth, ShardingConfig, SocketRunner, SqlMessageStorage, SqlRunnerStorage } from "@effect/cluster"
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { Socket } from "@effect/platform"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option, Redacted } from "effect"
import { ClusterAgent, ClusterEnvironment, PgJournal } from "@chorus/cluster"

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

const clientProtocol = Layer.effect(
  Runners.RpcClientProtocol,
  Effect.gen(function*() {
    const serialization = yield* RpcSerialization.RpcSerialization
    return (address: RunnerAddress.RunnerAddress) =>
      Effect.gen(function*() {
        const socket = yield* NodeSocket.makeNet({
          openTimeout: 5000,
          timeout: 5500,
          host: address.host,
          port: address.port,
          noDelay: true
        })
        return yield* RpcClient.makeProtocolSocket().pipe(
          Effect.provideService(Socket.Socket, socket),
          Effect.provideService(RpcSerialization.RpcSerialization, serialization)
        )
      }).pipe(Effect.orDie)
  })
)

const storage = Layer.mergeAll(Layer.orDie(SqlMessageStorage.layer), Layer.orDie(SqlRunnerStorage.layer))

/** The cluster's own layers for a runner on 127.0.0.1:port, or a client-only node when port is undefined (on a `SqlClient`). */
export const nodeLayer = (port: number | undefined) => {
  const config = ShardingConfig.layer({
    ...shardingConfig,
    runnerAddress: port === undefined ? Option.none() : Option.some(RunnerAddress.make("127.0.0.1", port))
  })
  const sharding = port === undefined
    ? SocketRunner.layerClientOnly.pipe(Layer.provide(clientProtocol))
    : SocketRunner.layer.pipe(
      Layer.provide([
        NodeSocketServer.layer({ host: "127.0.0.1", port, noDelay: true }),
        clientProtocol,
        RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))
      ])
    )
  return sharding.pipe(
    Layer.provideMerge(storage),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.orDie
  )
}

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
