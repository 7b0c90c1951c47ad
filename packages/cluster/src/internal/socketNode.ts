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
import { Duration, Effect, Layer, Option } from "effect"

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

const storage = Layer.mergeAll(Layer.orDie(SqlMessageStorage.layer), Layer.orDie(SqlRunnerStorage.layer))

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
