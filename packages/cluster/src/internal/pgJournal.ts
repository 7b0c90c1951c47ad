/**
 * The journals of many environments in one table, on `@effect/sql` (written for Postgres through
 * `@effect/sql-pg`; the SQL is portable enough to run on SQLite for single-process tests).
 *
 * Table (default `chorus_environment_events`): `environment_id TEXT, sequence BIGINT, author TEXT,
 * timestamp BIGINT, tag TEXT, payload TEXT, publish_key TEXT NULL, publish_count INTEGER NULL`, primary key
 * `(environment_id, sequence)`. The first event of a keyed publish carries its key and event count, written in
 * the same INSERT as the events. The primary key is also
 * the fence of the cluster: if two runners ever believed they owned one environment, the second append of a
 * sequence fails instead of forking the history.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Chunk, Effect, Either, Option, ParseResult, Schema, Stream } from "effect"
import { Event, Journal } from "@chorus/core"
import type * as Journals from "../Journals.js"

/** Rows per INSERT statement: 8 parameters each, well under Postgres' 65,535 parameters. */
const insertRows = 1000
/** Rows per page when reading. */
const pageRows = 1000

interface Row {
  readonly sequence: number | bigint | string
  readonly author: unknown
  readonly timestamp: number | bigint | string
  readonly tag: unknown
  readonly payload: unknown
}

const encodePayload = Schema.encodeEither(Event.Payload)
const decodeEvent = Schema.decodeUnknownEither(Event.Event)

const describe = (error: ParseResult.ParseError) => {
  const text = ParseResult.ArrayFormatter.formatErrorSync(error).slice(0, 3).map((issue) =>
    `${issue.path.length === 0 ? "" : `${issue.path.join(".")}: `}${issue.message}`
  ).join("; ")
  return text.length > 400 ? `${text.slice(0, 399)}…` : text
}

const parseJson = (text: string): Either.Either<unknown, string> => {
  try {
    return Either.right(JSON.parse(text))
  } catch (error) {
    return Either.left(`invalid JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
}

const toNumber = (value: number | bigint | string | null | undefined): number | undefined =>
  value === null || value === undefined ? undefined : Number(value)

// SqlError's own message is generic ("Failed to execute statement"): the driver's message says what happened.
const sqlError = (operation: string, location: string) => (error: SqlError) =>
  new Journal.JournalError({
    operation,
    detail: `${location}: ${error.message}${error.cause instanceof Error ? `: ${error.cause.message}` : ""}`,
    cause: error
  })

/** Creates the table (once per database; concurrent runners serialise on an advisory lock). */
export const migrate = (table: string): Effect.Effect<void, Journal.JournalError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const create = sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
  environment_id TEXT NOT NULL,
  sequence BIGINT NOT NULL,
  author TEXT NOT NULL,
  timestamp BIGINT NOT NULL,
  tag TEXT NOT NULL,
  payload TEXT NOT NULL,
  publish_key TEXT,
  publish_count INTEGER,
  PRIMARY KEY (environment_id, sequence)
)`
    yield* sql.onDialectOrElse({
      // CREATE TABLE IF NOT EXISTS races with itself on Postgres: runners starting together take turns.
      // Tables from before publish keys get their columns.
      pg: () =>
        sql.withTransaction(sql`SELECT pg_advisory_xact_lock(hashtext(${table}))`.pipe(
          Effect.zipRight(create),
          Effect.zipRight(sql`ALTER TABLE ${sql(table)} ADD COLUMN IF NOT EXISTS publish_key TEXT`),
          Effect.zipRight(sql`ALTER TABLE ${sql(table)} ADD COLUMN IF NOT EXISTS publish_count INTEGER`)
        )),
      orElse: () => create
    }).pipe(Effect.mapError(sqlError("migrate", `table ${table}`)))
  })

/** Opens the journal of one environment: checks its sequences are contiguous, then appends after them. */
export const open = (
  table: string,
  environmentId: string,
  keys?: Journals.Keys
): Effect.Effect<Journal.Service, Journal.JournalError | Journal.JournalCorrupted, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const location = `table ${table}, environment ${environmentId}`

    const rowNumber = (sequence: number) =>
      sql<{ readonly count: number | bigint | string }>`SELECT COUNT(*) AS count FROM ${sql(table)}
        WHERE environment_id = ${environmentId} AND sequence <= ${sequence}`.pipe(
        Effect.map((rows) => toNumber(rows[0]?.count) ?? 0),
        Effect.mapError(sqlError("read", location))
      )

    const bounds = yield* sql<{
      readonly low: number | bigint | string | null
      readonly high: number | bigint | string | null
      readonly count: number | bigint | string
    }>`SELECT MIN(sequence) AS low, MAX(sequence) AS high, COUNT(*) AS count FROM ${sql(table)}
      WHERE environment_id = ${environmentId}`.pipe(Effect.mapError(sqlError("open", location)))
    const low = toNumber(bounds[0]?.low)
    const high = toNumber(bounds[0]?.high)
    const count = toNumber(bounds[0]?.count) ?? 0
    if (low !== undefined && high !== undefined && (low !== 0 || high + 1 !== count)) {
      const gap = yield* sql<{ readonly sequence: number | bigint | string }>`
        SELECT a.sequence AS sequence FROM ${sql(table)} a
        WHERE a.environment_id = ${environmentId} AND a.sequence > 0 AND NOT EXISTS (
          SELECT 1 FROM ${sql(table)} b WHERE b.environment_id = a.environment_id AND b.sequence = a.sequence - 1)
        ORDER BY a.sequence LIMIT 1`.pipe(Effect.mapError(sqlError("open", location)))
      const sequence = low !== 0 ? low : toNumber(gap[0]?.sequence) ?? high
      return yield* new Journal.JournalCorrupted({
        location,
        line: yield* rowNumber(sequence),
        sequence,
        detail: `sequence ${sequence} does not follow the previous row: sequences must be contiguous from 0`
      })
    }
    let last = high ?? -1
    const lock = yield* Effect.makeSemaphore(1)

    const toRows = (batch: ReadonlyArray<Event.Event>): Either.Either<Array<Record<string, unknown>>, string> => {
      const rows: Array<Record<string, unknown>> = []
      let expected = last + 1
      for (const event of batch) {
        if (event.sequence !== expected) {
          return Either.left(`sequence ${event.sequence} does not follow ${expected - 1}: sequences must be contiguous`)
        }
        const payload = encodePayload(event.payload)
        if (Either.isLeft(payload)) return Either.left(`event ${event.sequence} cannot be encoded: ${describe(payload.left)}`)
        const key = keys?.at(event.sequence)
        rows.push({
          environment_id: environmentId,
          sequence: event.sequence,
          author: event.author,
          timestamp: event.timestamp,
          tag: event.payload._tag,
          payload: JSON.stringify(payload.right),
          publish_key: key?.key ?? null,
          publish_count: key?.count ?? null
        })
        expected++
      }
      return Either.right(rows)
    }

    const append = (batch: ReadonlyArray<Event.Event>): Effect.Effect<void, Journal.JournalError> =>
      batch.length === 0 ? Effect.void : lock.withPermits(1)(
        Effect.uninterruptible(Effect.suspend(() => {
          const rows = toRows(batch)
          if (Either.isLeft(rows)) {
            return Effect.fail(new Journal.JournalError({ operation: "append", detail: `${location}: ${rows.left}` }))
          }
          const statements: Array<Effect.Effect<unknown, SqlError>> = []
          for (let i = 0; i < rows.right.length; i += insertRows) {
            statements.push(sql`INSERT INTO ${sql(table)} ${sql.insert(rows.right.slice(i, i + insertRows))}`)
          }
          const write = statements.length === 1 ? statements[0]! : sql.withTransaction(Effect.all(statements, { discard: true }))
          return write.pipe(
            Effect.mapError(sqlError("append", location)),
            Effect.tap(() =>
              Effect.sync(() => {
                last = batch[batch.length - 1]!.sequence
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
          typeof row.payload === "string" ? parseJson(row.payload) : Either.left("the payload is not text"),
          (payload) =>
            Either.flatMap(
              Either.mapLeft(
                decodeEvent({ sequence, author: row.author, timestamp: Number(row.timestamp), payload }),
                (error) => `not an event: ${describe(error)}`
              ),
              (event) =>
                event.payload._tag === row.tag
                  ? Either.right(event)
                  : Either.left(`tag ${String(row.tag)} does not match the payload ${event.payload._tag}`)
            )
        )
      if (Either.isRight(decoded)) return Effect.succeed(decoded.right)
      const detail = decoded.left
      return Effect.flatMap(rowNumber(sequence), (line) =>
        Effect.fail(new Journal.JournalCorrupted({ location, line, sequence, detail })))
    }

    const read: Journal.Service["read"] = (options) =>
      Stream.suspend(() => {
        const to = Math.min(options?.to ?? last, last)
        const start = Math.max(options?.from ?? 0, 0)
        const kinds = options?.kinds
        if (last < 0 || start > to) return Stream.empty
        return Stream.paginateChunkEffect(start, (from) =>
          sql<Row>`SELECT sequence, author, timestamp, tag, payload FROM ${sql(table)}
            WHERE environment_id = ${environmentId} AND sequence >= ${from} AND sequence <= ${to}
            ORDER BY sequence LIMIT ${pageRows}`.pipe(
            Effect.mapError(sqlError("read", location)),
            Effect.flatMap((rows) => Effect.forEach(rows, (row, i) => decodeRow(row, from + i))),
            Effect.flatMap((events) => {
              const next = from + events.length
              if (events.length < pageRows && next <= to) {
                return Effect.fail(new Journal.JournalCorrupted({
                  location,
                  line: next + 1,
                  sequence: next,
                  detail: `the row of sequence ${next} is missing`
                }))
              }
              // `kinds`: only those (every row is still decoded and checked: this journal keeps no checksums to skip by).
              const taken = kinds === undefined ? events : events.filter((event) => kinds.includes(event.payload._tag))
              return Effect.succeed([Chunk.unsafeFromArray(taken), next <= to ? Option.some(next) : Option.none()] as const)
            })
          ))
      })

    return { append, read, lastSequence: Effect.sync(() => last), repairs: [] } satisfies Journal.Service
  })

/** The last `limit` publish keys written for an environment, oldest first. */
export const recentKeys = (
  table: string,
  environmentId: string,
  limit: number
): Effect.Effect<ReadonlyArray<Journals.PublishKey>, Journal.JournalError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{
      readonly publish_key: string
      readonly sequence: number | bigint | string
      readonly publish_count: number | bigint | string
    }>`SELECT publish_key, sequence, publish_count FROM ${sql(table)}
      WHERE environment_id = ${environmentId} AND publish_key IS NOT NULL
      ORDER BY sequence DESC LIMIT ${limit}`.pipe(
      Effect.mapError(sqlError("read", `table ${table}, environment ${environmentId}`))
    )
    return rows.map((row) => ({ key: row.publish_key, sequence: Number(row.sequence), count: Number(row.publish_count) }))
      .reverse()
  })
