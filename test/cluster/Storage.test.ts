import { ShardingConfig } from "@effect/cluster"
import { PgClient } from "@effect/sql-pg"
import * as SqlClient from "@effect/sql/SqlClient"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Redacted } from "effect"
import * as SocketNode from "../../packages/cluster/src/internal/socketNode.js"
import * as Postgres from "../support/postgres.js"

let server: Postgres.Postgres | undefined
beforeAll(async () => {
  server = await Postgres.start()
}, 120_000)
afterAll(() => server?.stop())

const urlOf = (database: string) => server!.url.replace(/\/[^/]*$/, `/${database}`)

describe("the cluster's tables", () => {
  // Seen in CI: three web chat nodes started at once on a fresh database, and one exited on Postgres'
  // `relation "cluster_migrations" already exists` (CREATE TABLE IF NOT EXISTS racing with itself).
  it.live("runners starting together on a fresh database all build them", () =>
    Effect.gen(function*() {
      const admin = yield* SqlClient.SqlClient
      for (let round = 0; round < 4; round++) {
        const database = `race_${round}`
        yield* admin.unsafe(`CREATE DATABASE ${database}`)
        const builds = yield* Effect.forEach(
          Array.from({ length: 4 }),
          () =>
            Effect.exit(Effect.scoped(Layer.build(SocketNode.storage.pipe(
              Layer.provide(ShardingConfig.layer()),
              Layer.provide(PgClient.layer({ url: Redacted.make(urlOf(database)) }))
            )))),
          { concurrency: "unbounded" }
        )
        for (const exit of builds) assert.ok(Exit.isSuccess(exit), `round ${round}: ${String(exit)}`)
      }
    }).pipe(Effect.provide(Layer.orDie(PgClient.layer({ url: Redacted.make(server!.url) })))), 120_000)
})
