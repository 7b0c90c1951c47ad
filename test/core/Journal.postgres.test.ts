/**
 * Core's SQL journal (`Journal.layerSql`) on PostgreSQL: the conformance
 * suite on a throwaway server, each store a fresh table on its own client.
 * PostgreSQL's `INTEGER` is 32-bit and its `BIGINT` comes back as a string:
 * millisecond timestamps need the first and the decoder must take the second.
 */
import { PgClient } from "@effect/sql-pg"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Chunk, Effect, Layer, Redacted, Stream } from "effect"
import { Journal } from "@chorus/core"
import * as Postgres from "../support/postgres.js"
import { conformance, events, type MakeStore, type Tamper } from "./Journal.conformance.js"

let server: Postgres.Postgres | undefined
beforeAll(async () => {
  server = await Postgres.start()
}, 120_000)
afterAll(() => server?.stop())

let tables = 0

const pgStore: MakeStore = Effect.gen(function*() {
  const table = `core_events_${++tables}`
  const context = yield* Layer.build(PgClient.layer({ url: Redacted.make(server!.url) })).pipe(Effect.orDie)
  const run = (statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
    Effect.flatMap(SqlClient.SqlClient, statement).pipe(Effect.provide(context), Effect.orDie, Effect.asVoid)
  const tamper: Tamper = {
    editDelta: (sequence) =>
      run((sql) =>
        sql`UPDATE ${sql(table)} SET payload = replace(payload, ${`"delta":"${sequence}:`}, ${`"delta":"${(sequence + 1) % 10}:`}) WHERE sequence = ${sequence}`),
    removeFirst: run((sql) => sql`DELETE FROM ${sql(table)} WHERE sequence = (SELECT MIN(sequence) FROM ${sql(table)})`),
    lineOf: (sequence) => sequence + 1
  }
  return { open: Journal.layerSql({ table }).pipe(Layer.provide(Layer.succeedContext(context))), tamper }
})

conformance("SQL client (PostgreSQL)", pgStore)

describe("Journal.layerSql on PostgreSQL", () => {
  it.scoped("millisecond timestamps and sequences past 2^31 are stored, and read back as numbers after reopening", () =>
    Effect.gen(function*() {
      const store = yield* pgStore
      const first = 3_000_000_000
      yield* Effect.flatMap(Journal.Journal, (journal) => journal.append(events(first, 3))).pipe(Effect.provide(store.open))
      // Reopened: the bounds (BIGINT, COUNT come back from pg as strings) and every row are numbers again.
      const [last, all] = yield* Effect.flatMap(Journal.Journal, (journal) =>
        Effect.all([journal.lastSequence, Effect.map(Stream.runCollect(journal.read({ from: first + 1 })), Chunk.toReadonlyArray)])).pipe(
          Effect.provide(store.open)
        )
      assert.strictEqual(last, first + 2)
      assert.deepStrictEqual(all.map((event) => event.sequence), [first + 1, first + 2])
      assert.strictEqual(typeof all[0]!.timestamp, "number")
      assert.deepStrictEqual(all, events(first + 1, 2))
    }))
})
