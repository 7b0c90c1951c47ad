/**
 * Chorus environments on `@effect/cluster`: the same `Environment` service, backed by an entity keyed by the
 * environment's id that owns its sequence and its journal, wherever the cluster places it.
 *
 * - {@link layerEntity} registers the environment entity on a runner (every runner of the shard group must
 *   register it). Its journals come from the `Journals` service (`PgJournal.layer` across machines). Given the
 *   runner's `ClusterAgent` registry, it wakes the hosted agents among its members when an event that may
 *   make them act is published.
 * - {@link layer} provides `Environment` for one environment id on any node, runner or client: publishing goes
 *   through the entity, in one order, each publish applied once even when the cluster re-sends it after a
 *   runner's death (an idempotency key per publish, remembered by the entity and written to the journal);
 *   subscriptions follow it across runners with no gap and no duplicate.
 *
 * A program written against `Environment` runs clustered by changing its layer.
 *
 * @example
 * import { NodeClusterSocket } from "@effect/platform-node"
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { ClusterEnvironment, PgJournal } from "@chorus/cluster"
 *
 * const Sql = PgClient.layer({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/chorus") })
 * const Runner = ClusterEnvironment.layerEntity().pipe(
 *   Layer.provide(PgJournal.layer()),
 *   Layer.provideMerge(NodeClusterSocket.layer({ storage: "sql" })),
 *   Layer.provide(Sql)
 * )
 * // The conversation "c-42", wherever it lives.
 * const Conversation = ClusterEnvironment.layer("c-42").pipe(Layer.provide(Runner))
 *
 * @since 0.1.0
 */
import type { Sharding } from "@effect/cluster"
import { Layer } from "effect"
import { Environment } from "@chorus/core"
import * as client from "./internal/environmentClient.js"
import * as entity from "./internal/environmentEntity.js"
import type * as Journals from "./Journals.js"

/** The environment entity (its type is `chorus/Environment`). */
export { EnvironmentEntity } from "./internal/environmentEntity.js"

/** Options of the environment entity. */
export type Options = entity.Options

/** Registers the environment entity on this runner; its journals come from `Journals`. */
export const layerEntity = (options?: Options): Layer.Layer<never, never, Journals.Journals | Sharding.Sharding> =>
  entity.layer(options)

/** The `Environment` with this id, wherever the cluster runs it. */
export const layer = (environmentId: string): Layer.Layer<Environment.Environment, never, Sharding.Sharding> =>
  Layer.scoped(Environment.Environment, client.make(environmentId))
