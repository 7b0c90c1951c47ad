import { PgClient } from "@effect/sql-pg"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Redacted, Stream } from "effect"
import { Journal } from "@chorus/core"
import { Journals, PgJournal } from "@chorus/cluster"
import { conformance, events, type MakeStore } from "../core/Journal.conformance.js"
import * as Postgres from "../support/postgres.js"

// One throwaway server for the file; every store is a fresh environment in it.
let server: Postgres.Postgres | undefined
beforeAll(async () => {
  server = await Postgres.start()
}, 120_000)
afterAll(() => server?.stop())

const client = () => PgClient.layer({ url: Redacted.make(server!.url) })
let stores = 0

const pgStore: MakeStore = Effect.sync(() => {
  const environmentId = `conformance-${++stores}`
  return { open: Journals.layerJournal(environmentId).pipe(Layer.provide(PgJournal.layer()), Layer.provide(Layer.orDie(client()))) }
})

conformance("Postgres (PgJournal, one environment of a shared table)", pgStore)

const withSql = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | Journals.Journals>) =>
  effect.pipe(Effect.provide(PgJournal.layer().pipe(Layer.provideMerge(client()))))

const readAll = (journal: Journal.Service) => Effect.map(Stream.runCollect(journal.read()), Chunk.toReadonlyArray)

describe("PgJournal", () => {
  it.effect("environments share the table without seeing each other's events", () =>
    withSql(Effect.gen(function*() {
      const journals = yield* Journals.Journals
      const a = yield* journals.open("shared-a")
      const b = yield* journals.open("shared-b")
      yield* a.append(events(0, 5))
      yield* b.append(events(0, 2))
      assert.deepStrictEqual((yield* readAll(a)).map((event) => event.sequence), [0, 1, 2, 3, 4])
      assert.deepStrictEqual((yield* readAll(b)).map((event) => event.sequence), [0, 1])
      assert.strictEqual(yield* (yield* journals.open("shared-a")).lastSequence, 4)
    })))

  it.effect("a second writer of the same environment is fenced: its append fails, the history stays linear", () =>
    withSql(Effect.gen(function*() {
      const journals = yield* Journals.Journals
      const first = yield* journals.open("fenced")
      const second = yield* journals.open("fenced")
      yield* first.append(events(0, 3))
      const exit = yield* Effect.exit(second.append(events(0, 1)))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(second.append(events(0, 1)))
      assert.strictEqual(error._tag, "JournalError")
      assert.include(error.message, "duplicate key")
      assert.deepStrictEqual((yield* readAll(first)).map((event) => event.sequence), [0, 1, 2])
    })))

  it.effect("garbage in a row fails the read with JournalCorrupted naming the sequence; nothing is skipped", () =>
    withSql(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const journals = yield* Journals.Journals
      yield* (yield* journals.open("garbage")).append(events(0, 4))
      yield* sql`UPDATE chorus_environment_events SET payload = '{"_tag":"TextDelta","itemId":' WHERE environment_id = 'garbage' AND sequence = 2`
      const error = yield* Effect.flip(readAll(yield* journals.open("garbage")))
      assert.strictEqual(error._tag, "JournalCorrupted")
      assert.strictEqual((error as Journal.JournalCorrupted).sequence, 2)
      yield* sql`UPDATE chorus_environment_events SET payload = '{"_tag":"Nope"}' WHERE environment_id = 'garbage' AND sequence = 2`
      const notAnEvent = yield* Effect.flip(readAll(yield* journals.open("garbage")))
      assert.include(notAnEvent.message, "sequence 2")
    })))

  it.effect("a gap in the sequences fails the open with JournalCorrupted", () =>
    withSql(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const journals = yield* Journals.Journals
      yield* (yield* journals.open("gap")).append(events(0, 6))
      yield* sql`DELETE FROM chorus_environment_events WHERE environment_id = 'gap' AND sequence = 3`
      const error = yield* Effect.flip(journals.open("gap"))
      assert.strictEqual(error._tag, "JournalCorrupted")
      assert.strictEqual((error as Journal.JournalCorrupted).sequence, 4)
    })))

  it.effect("publish keys are written with the first event of their publish and read back by a later open", () =>
    withSql(Effect.gen(function*() {
      const journals = yield* Journals.Journals
      const keys = new Map([[0, { key: "n/1", sequence: 0, count: 2 }], [2, { key: "n/2", sequence: 2, count: 3 }]])
      const journal = yield* journals.open("keyed", { at: (sequence) => keys.get(sequence) })
      yield* journal.append(events(0, 2))
      yield* journal.append(events(2, 3))
      // A later runner opens it without knowing anything: the keys are in the table.
      assert.deepStrictEqual(yield* journals.recentKeys("keyed", 10), [...keys.values()])
      assert.deepStrictEqual(yield* journals.recentKeys("keyed", 1), [keys.get(2)!])
      assert.deepStrictEqual(yield* journals.recentKeys("shared-a", 10), [])
      // A failed append writes no key.
      const failed = yield* Effect.exit(journal.append(events(7, 1)))
      assert.isTrue(Exit.isFailure(failed))
      assert.strictEqual((yield* journals.recentKeys("keyed", 10)).length, 2)
    })))

  it.effect("a non-contiguous append is refused before anything is written", () =>
    withSql(Effect.gen(function*() {
      const journals = yield* Journals.Journals
      const journal = yield* journals.open("refused")
      const error = yield* Effect.flip(journal.append(events(1, 2)))
      assert.include(error.message, "contiguous")
      assert.strictEqual(yield* journal.lastSequence, -1)
    })))
})
