/**
 * A node of the cluster over TCP sockets, with the cluster's storage on the `SqlClient` in context (Postgres
 * across machines): a runner that hosts shards when given a port, a client-only node otherwise.
 *
 * The same composition as `NodeClusterSocket.layer({ storage: "sql" })` of `@effect/platform-node`, with two
 * differences: every socket sets `noDelay` (that layer leaves Nagle's algorithm on, which adds a delayed-ACK
 * wait to small request/reply exchanges), and a connection may take `openTimeout` (default 5 s, there 1 s) to
 * open, so a runner whose accept loop is slow on a loaded machine is not declared unreachable.
 *
 * Every process of a cluster must use the same `shardsPerGroup`. Register the entities
 * (`ClusterEnvironment.layerEntity`, `ClusterAgent.layerEntity`) on every runner.
 *
 * @example
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { ClusterEnvironment, ClusterSocket, PgJournal } from "@chorus/cluster"
 *
 * const Sql = PgClient.layer({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/chorus") })
 * const Runner = ClusterEnvironment.layerEntity().pipe(
 *   Layer.provide(PgJournal.layer()),
 *   Layer.provideMerge(ClusterSocket.layer({ port: 34431 })),
 *   Layer.provide(Sql)
 * )
 *
 * @since 0.1.0
 */
import type { MessageStorage, Runners, RunnerStorage, Sharding, ShardingConfig } from "@effect/cluster"
import type { SqlClient } from "@effect/sql"
import type { Duration, Layer } from "effect"
import * as internal from "./internal/socketNode.js"

/** Options of a node. */
export interface Options {
  /** The port this runner listens on for its peers; none for a client-only node (it hosts no shards). */
  readonly port?: number | undefined
  /** The address peers reach this runner at (and it listens on). Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** How long a connection to a peer may take to open. Default 5 seconds. */
  readonly openTimeout?: Duration.DurationInput | undefined
  /** The cluster's settings (`runnerAddress` comes from `host` and `port`). */
  readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Type"]> | undefined
}

/** The node's sharding, with the cluster's message and runner storage on the `SqlClient` in context. */
export const layer = (
  options?: Options
): Layer.Layer<
  Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
  never,
  SqlClient.SqlClient
> => internal.layer(options ?? {})
