/**
 * The SQL journal, on `@effect/sql`. Loaded on demand by `Journal.makeSql`,
 * so `@effect/sql` stays an optional peer dependency.
 *
 * Table: `sequence INTEGER PRIMARY KEY, author TEXT, timestamp INTEGER,
 * tag TEXT, payload TEXT` where `payload` is the JSON of the Schema-encoded
 * payload and `tag` its `_tag` (for queries by kind).
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import type * as Event from "../Event.js"
import * as Journal from "../Journal.js"
import * as Codec from "./journalCodec.js"

/** Rows per INSERT statement: 5 parameters each, well under every database's parameter limit. */
const insertRows = 500
/** Rows per page when reading. */
const pageRows = 1000

interface Row {
  readonly sequence: number | bigint
  readonly author: unknown
  readonly timestamp: number | bigint
  readonly tag: unknown
  readonly payload: unknown
}

const sqlError = (operation: string, location: string) => (error: SqlError | Migrator.MigrationError) =>
  new Journal.JournalError({ operation, detail: `${location}: ${error.message}`, cause: error })

const toNumber = (value: number | bigint | null | undefined): number | undefined =>
  value === null || value === undefined ? undefined : Number(value)

/** Opens the journal in `options.table` (default `chorus_events`), creating it by a migration. */
export const make = (
  options: Journal.SqlOptions
): Effect.Effect<Journal.Service, Journal.JournalError | Journal.JournalCorrupted, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const table = options.table ?? "chorus_events"
    const location = `table ${table}`
    const durability = options.durability ?? "fsync"

    yield* Migrator.make({})({
      table: `${table}_migrations`,
      loader: Migrator.fromRecord({
        "1_create_events": sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  sequence INTEGER PRIMARY KEY NOT NULL,
  author TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  tag TEXT NOT NULL,
  payload TEXT NOT NULL
)`
      })
    }).pipe(
      Effect.mapError(sqlError("migrate", location)),
      // The migrator turns a failed migration into a defect; for the journal it is a failure to open.
      Effect.catchAllDefect((defect) =>
        Effect.fail(new Journal.JournalError({ operation: "migrate", detail: `${location}: ${String(defect)}`, cause: defect }))
      )
    )

    yield* sql.onDialectOrElse({
      sqlite: () => durability === "fsync" ? sql`PRAGMA synchronous = FULL` : sql`PRAGMA synchronous = OFF`,
      orElse: () => Effect.void
    }).pipe(Effect.mapError(sqlError("open", location)))

    // Sequences must be contiguous: a gap means rows were lost or removed.
    const bounds = yield* sql<{ readonly low: number | bigint | null; readonly high: number | bigint | null; readonly count: number | bigint }>`
      SELECT MIN(sequence) AS low, MAX(sequence) AS high, COUNT(*) AS count FROM ${sql(table)}`.pipe(
      Effect.mapError(sqlError("open", location))
    )
    const low = toNumber(bounds[0]?.low)
    const high = toNumber(bounds[0]?.high)
    const count = toNumber(bounds[0]?.count) ?? 0
    if (low !== undefined && high !== undefined && high - low + 1 !== count) {
      const gap = yield* sql<{ readonly sequence: number | bigint }>`
        SELECT a.sequence AS sequence FROM ${sql(table)} a
        WHERE a.sequence > ${low} AND NOT EXISTS (SELECT 1 FROM ${sql(table)} b WHERE b.sequence = a.sequence - 1)
        ORDER BY a.sequence LIMIT 1`.pipe(Effect.mapError(sqlError("open", location)))
      const sequence = toNumber(gap[0]?.sequence) ?? high
      return yield* new Journal.JournalCorrupted({
        location,
        line: yield* rowNumber(sequence),
        sequence,
        detail: `sequence ${sequence} does not follow the previous row: sequences must be contiguous`
      })
    }
    let last = high ?? -1

    function rowNumber(sequence: number) {
      return sql<{ readonly count: number | bigint }>`SELECT COUNT(*) AS count FROM ${sql(table)} WHERE sequence <= ${sequence}`.pipe(
        Effect.map((rows) => toNumber(rows[0]?.count) ?? 0),
        Effect.mapError(sqlError("read", location))
      )
    }

    const lock = yield* Effect.makeSemaphore(1)

    const append = (batch: ReadonlyArray<Event.Event>): Effect.Effect<void, Journal.JournalError> =>
      batch.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.uninterruptible(Effect.suspend(() => {
          const rows: Array<Record<string, unknown>> = []
          let expected = last >= 0 ? last + 1 : batch[0]!.sequence
          const invalid = (detail: string) =>
            Effect.fail(new Journal.JournalError({ operation: "append", detail: `${location}: ${detail}` }))
          if (!Codec.isSequence(expected)) return invalid(`sequence ${expected} is not a non-negative integer`)
          for (const event of batch) {
            if (event.sequence !== expected) {
              return invalid(`sequence ${event.sequence} does not follow ${expected - 1}: sequences must be contiguous`)
            }
            const encoded = Codec.encode(event)
            if (Either.isLeft(encoded)) return invalid(`event ${event.sequence} cannot be encoded: ${encoded.left}`)
            rows.push({
              sequence: encoded.right.sequence,
              author: encoded.right.author,
              timestamp: encoded.right.timestamp,
              tag: encoded.right.payload._tag,
              payload: JSON.stringify(encoded.right.payload)
            })
            expected++
          }
          const statements: Array<Effect.Effect<unknown, SqlError>> = []
          for (let i = 0; i < rows.length; i += insertRows) {
            statements.push(sql`INSERT INTO ${sql(table)} ${sql.insert(rows.slice(i, i + insertRows))}`)
          }
          return sql.withTransaction(Effect.all(statements, { discard: true })).pipe(
            Effect.mapError(sqlError("append", location)),
            Effect.tap(() =>
              Effect.sync(() => {
                last = expected - 1
              })
            )
          )
        }))
      )

    const decodeRow = (row: Row, expected: number): Effect.Effect<Event.Event, Journal.JournalError | Journal.JournalCorrupted> => {
      const sequence = Number(row.sequence)
      const decoded = sequence !== expected
        ? Either.left(`expected sequence ${expected}: rows are missing`)
        : Either.flatMap(
          typeof row.payload === "string" ? Codec.parseJson(row.payload) : Either.left("the payload is not text"),
          (payload) =>
            Either.flatMap(
              Codec.decode({ sequence, author: row.author, timestamp: Number(row.timestamp), payload }),
              (event) =>
                event.payload._tag === row.tag
                  ? Either.right(event)
                  : Either.left(`tag ${String(row.tag)} does not match the payload ${event.payload._tag}`)
            )
        )
      if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
      return Effect.flatMap(rowNumber(sequence), (line) =>
        Effect.fail(new Journal.JournalCorrupted({ location, line, sequence, detail: decoded.left })))
    }

    const read: Journal.Service["read"] = (readOptions) =>
      Stream.suspend(() => {
        const to = Math.min(readOptions?.to ?? last, last)
        const start = Math.max(readOptions?.from ?? 0, low ?? 0)
        if (last < 0 || start > to) return Stream.empty
        return Stream.paginateChunkEffect(start, (from) =>
          sql<Row>`SELECT sequence, author, timestamp, tag, payload FROM ${sql(table)}
            WHERE sequence >= ${from} AND sequence <= ${to} ORDER BY sequence LIMIT ${pageRows}`.pipe(
            Effect.mapError(sqlError("read", location)),
            Effect.flatMap((rows) => Effect.forEach(rows, (row, i) => decodeRow(row, from + i))),
            Effect.flatMap((events) => {
              const next = from + events.length
              if (events.length < pageRows && next <= to) {
                // Fewer rows than the sequences promised: rows were removed after the journal was opened.
                return Effect.flatMap(rowNumber(next), (line) =>
                  Effect.fail(
                    new Journal.JournalCorrupted({ location, line: line + 1, sequence: next, detail: `the row of sequence ${next} is missing` })
                  ))
              }
              return Effect.succeed(
                [Chunk.unsafeFromArray(events), next <= to ? Option.some(next) : Option.none()] as const
              )
            })
          )
        )
      })

    return {
      append,
      read,
      lastSequence: Effect.sync(() => last),
      repairs: []
    } satisfies Journal.Service
  })
