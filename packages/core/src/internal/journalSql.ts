/**
 * The SQL journal, on `@effect/sql`. Loaded on demand by `Journal.makeSql`,
 * so `@effect/sql` stays an optional peer dependency.
 *
 * Table: `sequence INTEGER PRIMARY KEY, author TEXT, timestamp INTEGER,
 * tag TEXT, payload TEXT, checksum TEXT` where `payload` is the JSON of the
 * Schema-encoded payload and `tag` its `_tag` (for queries by kind). The
 * integer columns are `BIGINT` outside SQLite (millisecond timestamps do not
 * fit 32 bits); drivers that return 64-bit integers as strings (pg) or
 * bigints are read through `Number`.
 *
 * ## Integrity
 * `checksum` is a hash chain: the CRC-32 (8 hex digits) of the row's fields
 * (`sequence:timestamp:tag:authorLength:author` then the payload text),
 * continued from the previous row's checksum. `<table>_meta` records the
 * sequence the journal starts at (`start`), written with the first batch. On
 * open a first row that is not `start` is `JournalCorrupted` (row 1); every
 * read checks the chain, so a changed byte in any field is `JournalCorrupted`
 * naming the row even when it still decodes. A read with `kinds` reads only
 * the rows of those kinds (`tag IN (…)`), each with the stored checksum of
 * the row before it, and checks each row's checksum continued from that
 * one: a changed row read is caught; a changed row of another kind is caught
 * by the reads that include it (a full read checks every link).
 *
 * On SQLite a full read of checksummed rows takes each row as one text, its
 * checksum then the text it covers (`Row.rowText`): a row that text does not
 * vouch for is read again column by column, which says what is wrong.
 *
 * Older tables (rows but no `start` record, checksums NULL) open as before:
 * they are read without checksums and keep being appended without them. A
 * table with checksummed rows but no `start` record lost that record:
 * `JournalCorrupted`.
 *
 * @internal
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Effect, Either, Option, Stream } from "effect"
import type * as Event from "../Event.js"
import * as Journal from "../Journal.js"
import * as Checksum from "./journalChecksum.js"
import * as Codec from "./journalCodec.js"
import * as Row from "./journalSqlRow.js"

/** Rows per INSERT statement: 5 parameters each, well under every database's parameter limit. */
const insertRows = 500
/** Rows per page when reading. */
const pageRows = 2000

/** A 64-bit integer as a driver returns it: a number (SQLite), a string (pg's BIGINT, COUNT) or a bigint. */
type Integer = number | bigint | string

const sqlError = (operation: string, location: string) => (error: SqlError | Migrator.MigrationError) =>
  new Journal.JournalError({ operation, detail: `${location}: ${error.message}`, cause: error })

/**
 * Empties a page of rows once its events are built. `@effect/sql` runs each
 * query in a scope whose exit (holding the rows) stays reachable for a while
 * after the query has returned: during a replay ~5 MB of rows survived each
 * young collection and were promoted, against ~1 MB once each page is
 * released — a third of a replay's time went to collecting them.
 */
const release = (rows: ReadonlyArray<Row.RowValues>): void => {
  ;(rows as Array<Row.RowValues>).length = 0
}

const toNumber = (value: Integer | null | undefined): number | undefined =>
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
        // SQLite's INTEGER is 64-bit (and `INTEGER PRIMARY KEY` is the rowid); elsewhere INTEGER may be 32-bit.
        "1_create_events": sql.onDialectOrElse({
          sqlite: () =>
            sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  sequence INTEGER PRIMARY KEY NOT NULL,
  author TEXT NOT NULL,
  timestamp INTEGER NOT NULL,
  tag TEXT NOT NULL,
  payload TEXT NOT NULL
)`,
          orElse: () =>
            sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  sequence BIGINT PRIMARY KEY NOT NULL,
  author TEXT NOT NULL,
  timestamp BIGINT NOT NULL,
  tag TEXT NOT NULL,
  payload TEXT NOT NULL
)`
        }),
        "2_integrity": Effect.zipRight(
          sql`ALTER TABLE ${sql(table)} ADD COLUMN checksum TEXT`,
          sql`CREATE TABLE IF NOT EXISTS ${sql(`${table}_meta`)} (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)`
        ),
        // Tables an earlier version created on PostgreSQL with 32-bit columns (no append could succeed on them).
        "3_bigint": sql.onDialectOrElse({
          pg: () =>
            sql`ALTER TABLE ${sql(table)} ALTER COLUMN sequence TYPE BIGINT, ALTER COLUMN timestamp TYPE BIGINT`,
          orElse: () => Effect.void
        })
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
    const bounds = yield* sql<{ readonly low: Integer | null; readonly high: Integer | null; readonly count: Integer }>`
      SELECT MIN(sequence) AS low, MAX(sequence) AS high, COUNT(*) AS count FROM ${sql(table)}`.pipe(
      Effect.mapError(sqlError("open", location))
    )
    const low = toNumber(bounds[0]?.low)
    const high = toNumber(bounds[0]?.high)
    const count = toNumber(bounds[0]?.count) ?? 0
    if (low !== undefined && high !== undefined && high - low + 1 !== count) {
      const gap = yield* sql<{ readonly sequence: Integer }>`
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

    // The format: checksummed when the journal records its start, or when it is new; older otherwise.
    const meta = sql(`${table}_meta`)
    const startRows = yield* sql<{ readonly value: string }>`SELECT value FROM ${meta} WHERE name = 'start'`.pipe(
      Effect.mapError(sqlError("open", location))
    )
    const recordedStart = startRows[0] === undefined ? undefined : Number(startRows[0].value)
    const firstRow = low === undefined ? undefined : (yield* sql<{ readonly checksum: unknown }>`
      SELECT checksum FROM ${sql(table)} WHERE sequence = ${low}`.pipe(Effect.mapError(sqlError("open", location))))[0]
    const checksummed = recordedStart !== undefined || low === undefined
    if (recordedStart === undefined && firstRow !== undefined && firstRow.checksum !== null) {
      return yield* new Journal.JournalCorrupted({
        location,
        line: 1,
        ...(low === undefined ? {} : { sequence: low }),
        detail: `rows carry checksums but ${table}_meta has no start record: it was removed`
      })
    }
    if (recordedStart !== undefined && low !== undefined && low !== recordedStart) {
      return yield* new Journal.JournalCorrupted({
        location,
        line: 1,
        sequence: low,
        detail: `the journal starts at sequence ${recordedStart} but its first row is ${low}: rows are missing`
      })
    }
    let started = recordedStart !== undefined
    let start = recordedStart ?? low ?? -1
    /** Checksum of the row of `sequence`, the seed of the chain after it. */
    const checksumOf = (sequence: number) =>
      sequence < start ? Effect.succeed(0) : sql<{ readonly checksum: unknown }>`
        SELECT checksum FROM ${sql(table)} WHERE sequence = ${sequence}`.pipe(
        Effect.mapError(sqlError("read", location)),
        Effect.map((rows) => Row.parseChecksum(rows[0]?.checksum) ?? 0)
      )
    let chain = checksummed && high !== undefined ? yield* checksumOf(high) : 0

    function rowNumber(sequence: number) {
      return sql<{ readonly count: Integer }>`SELECT COUNT(*) AS count FROM ${sql(table)} WHERE sequence <= ${sequence}`.pipe(
        Effect.map((rows) => toNumber(rows[0]?.count) ?? 0),
        Effect.mapError(sqlError("read", location))
      )
    }

    const lock = yield* Effect.makeSemaphore(1)

    const append = (batch: ReadonlyArray<Event.Event>): Effect.Effect<void, Journal.JournalError> =>
      batch.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.uninterruptible(Effect.suspend(() => {
          const rows: Array<Record<string, unknown>> = []
          let expected = last >= 0 ? last + 1 : started ? start : batch[0]!.sequence
          let nextChain = chain
          const invalid = (detail: string) =>
            Effect.fail(new Journal.JournalError({ operation: "append", detail: `${location}: ${detail}` }))
          if (!Codec.isSequence(expected)) return invalid(`sequence ${expected} is not a non-negative integer`)
          for (const event of batch) {
            if (event.sequence !== expected) {
              return invalid(`sequence ${event.sequence} does not follow ${expected - 1}: sequences must be contiguous`)
            }
            const encoded = Codec.encodePayloadJson(event.payload)
            if (Either.isLeft(encoded)) return invalid(`event ${event.sequence} cannot be encoded: ${encoded.left}`)
            const payload = encoded.right
            const { author, sequence, timestamp } = event
            const tag = event.payload._tag
            let checksum: string | null = null
            if (checksummed) {
              nextChain = Row.rowCrc(sequence, author, timestamp, tag, payload, nextChain)
              checksum = Checksum.hex(nextChain)
            }
            rows.push({ sequence, author, timestamp, tag, payload, checksum })
            expected++
          }
          const statements: Array<Effect.Effect<unknown, SqlError>> = []
          const first = batch[0]!.sequence
          if (checksummed && !started) statements.push(sql`INSERT INTO ${meta} ${sql.insert({ name: "start", value: String(first) })}`)
          for (let i = 0; i < rows.length; i += insertRows) {
            statements.push(sql`INSERT INTO ${sql(table)} ${sql.insert(rows.slice(i, i + insertRows))}`)
          }
          return sql.withTransaction(Effect.all(statements, { discard: true })).pipe(
            Effect.mapError(sqlError("append", location)),
            Effect.tap(() =>
              Effect.sync(() => {
                if (checksummed && !started) {
                  started = true
                  start = first
                }
                chain = nextChain
                last = expected - 1
              })
            )
          )
        }))
      )

    const reader = new Row.Reader(checksummed)

    const corruptedRow = (sequence: number, detail: string) =>
      Effect.flatMap(rowNumber(sequence), (line) => Effect.fail(new Journal.JournalCorrupted({ location, line, sequence, detail })))

    /** Rows `[from, from + rows.length)`, the chain continued from `seed`: every row, every link checked. */
    const decodeRows = (rows: ReadonlyArray<Row.RowValues>, from: number, seed: number) =>
      Effect.suspend(() => {
        const events: Array<Event.Event> = []
        let crc = seed
        for (let i = 0; i < rows.length; i++) {
          const checked = reader.check(rows[i]!, from + i, crc)
          if (typeof checked === "string") return corruptedRow(Number(rows[i]![0]), checked)
          events.push(checked)
          crc = reader.chain
        }
        release(rows)
        return Effect.succeed({ events, crc })
      })

    /**
     * Rows of some kinds only (`[…values, previous]`, `previous` the stored
     * checksum of the row before): each is checked against its own checksum
     * continued from that one.
     */
    const decodeSomeRows = (rows: ReadonlyArray<Row.RowValues>) =>
      Effect.suspend(() => {
        const events: Array<Event.Event> = []
        for (const row of rows) {
          const sequence = Number(row[0])
          let seed = 0
          if (checksummed && sequence > start) {
            const previous = Row.parseChecksum(row[6])
            if (previous === undefined) {
              return corruptedRow(sequence, `the row before sequence ${sequence} is missing or has no checksum`)
            }
            seed = previous
          }
          const checked = reader.check(row, sequence, seed)
          if (typeof checked === "string") return corruptedRow(sequence, checked)
          events.push(checked)
        }
        release(rows)
        return Effect.succeed(events)
      })

    /** Up to `limit` rows from `from`, read column by column, decoded with the chain continued from `seed`. */
    const columnsPage = (from: number, to: number, seed: number, limit: number) =>
      sql<never>`SELECT sequence, author, timestamp, tag, payload, checksum FROM ${sql(table)}
        WHERE sequence >= ${from} AND sequence <= ${to} ORDER BY sequence LIMIT ${limit}`.values.pipe(
        Effect.mapError(sqlError("read", location)),
        Effect.flatMap((rows) => decodeRows(rows, from, seed))
      )

    /**
     * {@link columnsPage} for SQLite's checksummed rows: each row read as one
     * text (`Row.rowText`); from the first row that path cannot vouch for,
     * the rest of the page is read column by column (which says what is wrong).
     */
    const textPage = (from: number, to: number, seed: number) =>
      sql<never>`SELECT ${sql.literal(Row.rowText)} FROM ${sql(table)}
        WHERE sequence >= ${from} AND sequence <= ${to} ORDER BY sequence LIMIT ${pageRows}`.values.pipe(
        Effect.mapError(sqlError("read", location)),
        Effect.flatMap((rows) => {
          const events: Array<Event.Event> = []
          let crc = seed
          while (events.length < rows.length) {
            const event = reader.checkText(rows[events.length]![0], from + events.length, crc)
            if (event === undefined) break
            events.push(event)
            crc = reader.chain
          }
          const count = rows.length
          release(rows)
          if (events.length === count) return Effect.succeed({ events, crc })
          return Effect.map(columnsPage(from + events.length, to, crc, count - events.length), (rest) => {
            for (const event of rest.events) events.push(event)
            return { events, crc: rest.crc }
          })
        })
      )

    const byText = checksummed && sql.onDialectOrElse({ sqlite: () => true, orElse: () => false })

    const readAll = (begin: number, to: number) =>
      Stream.unwrap(Effect.map(checksummed ? checksumOf(begin - 1) : Effect.succeed(0), (seed) =>
        Stream.paginateChunkEffect([begin, seed] as const, ([from, chainSeed]) =>
          (byText ? textPage(from, to, chainSeed) : columnsPage(from, to, chainSeed, pageRows)).pipe(
            Effect.flatMap(({ crc, events }) => {
              const next = from + events.length
              if (events.length < pageRows && next <= to) {
                // Fewer rows than the sequences promised: rows were removed after the journal was opened.
                return Effect.flatMap(rowNumber(next), (line) =>
                  Effect.fail(
                    new Journal.JournalCorrupted({ location, line: line + 1, sequence: next, detail: `the row of sequence ${next} is missing` })
                  ))
              }
              return Effect.succeed(
                [Chunk.unsafeFromArray(events), next <= to ? Option.some([next, crc] as const) : Option.none()] as const
              )
            })
          )
        )))

    const readKinds = (begin: number, to: number, kinds: ReadonlyArray<string>) =>
      kinds.length === 0 ? Stream.empty : Stream.paginateChunkEffect(begin, (from) =>
        sql<never>`SELECT a.sequence, a.author, a.timestamp, a.tag, a.payload, a.checksum,
            (SELECT b.checksum FROM ${sql(table)} b WHERE b.sequence = a.sequence - 1) AS previous
          FROM ${sql(table)} a
          WHERE a.sequence >= ${from} AND a.sequence <= ${to} AND a.tag IN ${sql.in(kinds)}
          ORDER BY a.sequence LIMIT ${pageRows}`.values.pipe(
          Effect.mapError(sqlError("read", location)),
          Effect.flatMap(decodeSomeRows),
          Effect.map((events) => {
            const next = events.length === 0 ? to + 1 : events[events.length - 1]!.sequence + 1
            return [
              Chunk.unsafeFromArray(events),
              events.length === pageRows && next <= to ? Option.some(next) : Option.none()
            ] as const
          })
        ))

    const read: Journal.Service["read"] = (readOptions) =>
      Stream.suspend(() => {
        const to = Math.min(readOptions?.to ?? last, last)
        const begin = Math.max(readOptions?.from ?? 0, low ?? 0, start)
        if (last < 0 || begin > to) return Stream.empty
        const kinds = readOptions?.kinds
        return kinds === undefined ? readAll(begin, to) : readKinds(begin, to, kinds)
      })

    return {
      append,
      read,
      lastSequence: Effect.sync(() => last),
      repairs: []
    } satisfies Journal.Service
  })
