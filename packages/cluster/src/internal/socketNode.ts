/**
 * The cluster's node layers over TCP sockets, on a `SqlClient`: the composition of `@effect/platform-node`'s
 * `NodeClusterSocket.layer({ storage: "sql" })`, with every socket setting `noDelay` and a longer open timeout.
 *
 * @internal
 */
import { RunnerAddress, RunnerHealth, Runners, ShardingConfig, SocketRunner, SqlMessageStorage, SqlRunnerStorage } from "@effect/cluster"
import { Socket } from "@effect/platform"
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { RpcClient, RpcSerialization } from "@effect/rpc"
import { Cause, Duration, Effect, Layer, Option, Schedule } from "effect"

export interface Options {
  readonly port?: number | undefined
  readonly host?: string | undefined
  readonly openTimeout?: Duration.DurationInput | undefined
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

const clientProtocol = (openTimeout: number) =>
  Layer.effect(
    Runners.RpcClientProtocol,
    Effect.gen(function*() {
      const serialization = yield* RpcSerialization.RpcSerialization
      return (address: RunnerAddress.RunnerAddress) =>
        Effect.gen(function*() {
          const socket = yield* NodeSocket.makeNet({
            openTimeout,
            timeout: openTimeout + 500,
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

/**
 * The cluster's tables. Their `CREATE TABLE IF NOT EXISTS` races with itself on Postgres when runners start
 * together (`duplicate key value violates unique constraint "pg_type_typname_nsp_index"`, or `relation
 * "cluster_migrations" already exists`: seen when three web chat nodes started at once): a failed build is tried
 * again (the other runner's table then exists). `@effect/cluster` runs its migrations under `Effect.orDie`, so the
 * failure arrives as a defect: an SQL or migration error, failure or defect, is retried (and logged); anything else
 * (an interruption, another defect) ends the build at once.
 */
export const storage = Layer.mergeAll(SqlMessageStorage.layer, SqlRunnerStorage.layer).pipe(
  Layer.catchAllCause((cause) => {
    const error = Cause.squash(cause)
    return !Cause.isInterruptedOnly(cause) && isSqlError(error)
      ? Layer.effectDiscard(Effect.logWarning("cluster: building the cluster's tables failed; trying again", cause)).pipe(
        Layer.flatMap(() => Layer.fail(error))
      )
      : Layer.failCause(cause)
  }),
  Layer.retry(Schedule.intersect(Schedule.exponential("100 millis"), Schedule.recurs(6))),
  Layer.orDie
)

/** An `@effect/sql` error (`SqlError`) or a failed migration (`MigrationError`), however it arrived. */
const isSqlError = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "_tag" in error && (error._tag === "SqlError" || error._tag === "MigrationError")

export const layer = (options: Options) => {
  const host = options.host ?? "127.0.0.1"
  const port = options.port
  const protocol = clientProtocol(Duration.toMillis(Duration.decode(options.openTimeout ?? "5 seconds")))
  const config = ShardingConfig.layer({
    ...options.shardingConfig,
    runnerAddress: port === undefined ? Option.none() : Option.some(RunnerAddress.make(host, port))
  })
  const sharding = port === undefined
    ? SocketRunner.layerClientOnly.pipe(Layer.provide(protocol))
    : SocketRunner.layer.pipe(
      Layer.provide([
        NodeSocketServer.layer({ host, port, noDelay: true }),
        protocol,
        RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(protocol))
      ])
    )
  return sharding.pipe(
    Layer.provideMerge(storage),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.orDie
  )
}
