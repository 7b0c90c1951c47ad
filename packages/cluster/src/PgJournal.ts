/**
 * The journals of many environments in one Postgres table (`@effect/sql-pg`), one writer per environment.
 *
 * A clustered environment opens its journal where the cluster places it; the table's primary key
 * `(environment_id, sequence)` keeps a history linear even if two runners ever believed they owned the same
 * environment (the second append of a sequence fails). Events are stored Schema-encoded, as core's journals
 * store them.
 *
 * @example
 * import { PgClient } from "@effect/sql-pg"
 * import { Layer, Redacted } from "effect"
 * import { Environment } from "@chorus/core"
 * import { Journals, PgJournal } from "@chorus/cluster"
 *
 * // One environment, in process, on Postgres.
 * const EnvironmentLive = Environment.layer().pipe(
 *   Layer.provide(Journals.layerJournal("conversation-42")),
 *   Layer.provide(PgJournal.layer()),
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://postgres@127.0.0.1:5432/chorus") }))
 * )
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import type { Journal } from "@chorus/core"
import * as internal from "./internal/pgJournal.js"
import * as Journals from "./Journals.js"

/** Options of the Postgres journal. */
export interface Options {
  /** The events table, default `chorus_environment_events`. */
  readonly table?: string | undefined
}

/** Creates the table if needed and returns the opener of environments' journals. */
export const make = (options?: Options): Effect.Effect<Journals.Service, Journal.JournalError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const table = options?.table ?? "chorus_environment_events"
    yield* internal.migrate(table)
    const context = yield* Effect.context<SqlClient.SqlClient>()
    return Journals.Journals.of({
      open: (environmentId, keys) =>
        internal.open(table, environmentId, keys).pipe(
          Effect.provide(context),
          Effect.withSpan("PgJournal.open", { attributes: { table, environmentId } })
        ),
      recentKeys: (environmentId, limit) => internal.recentKeys(table, environmentId, limit).pipe(Effect.provide(context))
    })
  })

/** The journals as a layer, on the `SqlClient` in context. */
export const layer = (options?: Options): Layer.Layer<Journals.Journals, Journal.JournalError, SqlClient.SqlClient> =>
  Layer.effect(Journals.Journals, make(options))
