/**
 * The journal: the append-only event log behind an environment.
 *
 * The environment writes every event through the journal, in sequence order
 * and in batches, and replays it for subscribers that start from a sequence
 * number. An environment started on a journal that already holds events
 * continues its sequence numbers.
 *
 * ## Implementations
 * - {@link layerMemory}: fast, lost with the process.
 * - {@link layerFile}: JSON lines in one file, the embedded default.
 * - {@link layerSql} / {@link layerSqlite}: a table through `@effect/sql`
 *   (SQLite by default). `@effect/sql` and `@effect/sql-sqlite-node` are
 *   optional peer dependencies, loaded only when one of these layers is built.
 *
 * ## Durability (`durability: "fsync"`, the default)
 * `append` returns once its batch is written **and** forced to stable storage
 * (`fsync` of the file; `PRAGMA synchronous = FULL` for SQLite), so an
 * environment's `flush` means: this survives a process crash *and* a power
 * loss. With `durability: "none"` the batch is handed to the operating system
 * only: it survives a crash of the process (the kernel still writes it) but
 * the last batches may be lost on a power loss or kernel crash. Either way a
 * crash never leaves a half-written event behind: a torn last line of a file
 * is cut off when it is next opened (and reported in `repairs`), SQLite rolls
 * back an unfinished transaction. One limit: the directory entry of a journal
 * file created on open is not synced (the platform `FileSystem` cannot sync a
 * directory), so a power loss right after creation may lose the new file.
 *
 * ## Validation, and what opening costs
 * Opening a journal reads what an environment needs to start — the last
 * sequence and the head of the hash chain — and checks what can be checked
 * without decoding events:
 * - the file journal reads every byte once: the hash chain of every line,
 *   the header's start against the first event, contiguous sequences. Any
 *   failure is {@link JournalCorrupted} naming the file and line; nothing is
 *   skipped. No event is decoded.
 * - the SQL journal checks that sequences are contiguous and that the first
 *   row is the recorded start; each row's checksum is checked when the row
 *   is read.
 *
 * Events are decoded only when they are read. A read with `kinds` decodes
 * only events of those kinds. The file journal still checks the hash chain
 * of every line it passes; the SQL journal reads only the rows of those
 * kinds and checks each against its checksum, continued from the stored
 * checksum of the row before it (so a changed byte in a row read is
 * {@link JournalCorrupted} naming that row; rows not read are checked by the
 * reads that include them).
 *
 * One journal has one writer: do not open the same file or table from two
 * processes at once.
 *
 * @since 0.1.0
 */
import type * as FileSystem from "@effect/platform/FileSystem"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Chunk, Context, Effect, Layer, Option, Schema, Stream } from "effect"
import type { Scope } from "effect"
import type * as Event from "./Event.js"
import * as internalFile from "./internal/journalFile.js"
import * as JournalMemory from "./internal/journalMemory.js"

/** The journal could not be read or written. */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  operation: Schema.String,
  detail: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {
  override get message() {
    return `journal ${this.operation} failed: ${this.detail}`
  }
}

/**
 * A journal line (or row) that cannot be decoded, anywhere but a torn last
 * line, or sequences that are not contiguous. `location` names the file (or
 * the table), `line` the 1-based line (or row, in sequence order) and
 * `sequence` the event's sequence when it is known.
 */
export class JournalCorrupted extends Schema.TaggedError<JournalCorrupted>()("JournalCorrupted", {
  location: Schema.String,
  line: Schema.Number,
  detail: Schema.String,
  sequence: Schema.optional(Schema.Number)
}) {
  override get message() {
    const sequence = this.sequence === undefined ? "" : ` (sequence ${this.sequence})`
    return `journal ${this.location} is corrupted at line ${this.line}${sequence}: ${this.detail}`
  }
}

/** A repair made when the journal was opened: a torn last line (1-based `line`) of `bytes` bytes was cut off. */
export interface Repair {
  readonly line: number
  readonly bytes: number
}

/** What {@link Service.read} reads. */
export interface ReadOptions {
  readonly from?: number | undefined
  readonly to?: number | undefined
  /** Only events of these kinds (all when absent). */
  readonly kinds?: ReadonlyArray<Event.Payload["_tag"]> | undefined
}

/** The journal service. */
export interface Service {
  /** Appends events; they arrive in sequence order, with no gap. */
  readonly append: (events: ReadonlyArray<Event.Event>) => Effect.Effect<void, JournalError>
  /**
   * Events with `from <= sequence` (and `sequence <= to` when given), in
   * order; with `kinds`, only events of those kinds: the others are not
   * decoded (see the module documentation for what is still checked).
   */
  readonly read: (options?: ReadOptions) => Stream.Stream<Event.Event, JournalError | JournalCorrupted>
  /** The sequence of the last event written, or -1 for an empty journal. */
  readonly lastSequence: Effect.Effect<number, JournalError | JournalCorrupted>
  /** Repairs made when the journal was opened; the environment publishes them. */
  readonly repairs: ReadonlyArray<Repair>
}

/** The journal service tag. */
export class Journal extends Context.Tag("@chorus/core/Journal")<Journal, Service>() {}

/**
 * An in-memory journal: fast, lost with the process. Deltas are kept as rows of typed arrays and
 * rebuilt when read (~37 bytes each beside their text, not ~139 as objects: `internal/journalMemory.ts`).
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(
  () => {
    // Owned by this journal instance only; appends stay O(batch), a read sees what was stored when it began.
    const store = JournalMemory.make()
    const service: Service = {
      append: (batch) => Effect.sync(() => store.append(batch)),
      read: (options) =>
        Stream.suspend(() => {
          const next = store.pages(options?.from ?? 0, options?.to ?? Number.POSITIVE_INFINITY, options?.kinds)
          return Stream.unfoldChunk(undefined, () => {
            const page = next()
            return page === undefined ? Option.none() : Option.some([Chunk.unsafeFromArray(page), undefined] as const)
          })
        }),
      lastSequence: Effect.sync(store.last),
      repairs: []
    }
    // The environment appends to the store itself, in its publish step. Frozen: a test that patched `append` in
    // place would see its patch bypassed; it wraps the service instead (a new object, appended through the writer).
    JournalMemory.stores.set(service, store)
    return Object.freeze(service)
  }
)

/** Index of the first event whose sequence is at least `from`. */
export const lowerBound = (events: ReadonlyArray<Event.Event>, from: number): number => {
  let low = 0
  let high = events.length
  while (low < high) {
    const mid = (low + high) >>> 1
    if (events[mid]!.sequence < from) low = mid + 1
    else high = mid
  }
  return low
}

/** The in-memory journal as a layer. */
export const layerMemory: Layer.Layer<Journal> = Layer.effect(Journal, makeMemory)

/**
 * How hard a durable journal works to keep a batch before `append` returns:
 * `"fsync"` (default) survives a power loss, `"none"` survives a crash of the
 * process only. See the module documentation.
 */
export type Durability = "fsync" | "none"

/** Options of the file journal. */
export interface FileOptions {
  /** Default `"fsync"`: every batch is written, then `fsync`ed, before `append` returns. */
  readonly durability?: Durability | undefined
}

/**
 * Opens (or creates) a JSON-lines journal file: one Schema-encoded event per
 * line, appended and flushed per batch. Every line is checked on open; a torn
 * last line is cut off and reported in `repairs`, any other bad line or a
 * sequence gap fails with {@link JournalCorrupted}. The parent directory must
 * exist. The file is closed with the scope.
 */
export const makeFile = (
  path: string,
  options?: FileOptions
): Effect.Effect<Service, JournalError | JournalCorrupted, FileSystem.FileSystem | Scope.Scope> =>
  internalFile.make(path, options?.durability ?? "fsync").pipe(Effect.withSpan("Journal.makeFile", { attributes: { path } }))

/**
 * The file journal as a layer: the embedded default.
 *
 * @example
 * import { NodeContext } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Environment, Journal } from "@chorus/core"
 *
 * // An environment that resumes from `chorus.jsonl` when it starts again.
 * const EnvironmentLive = Environment.layer().pipe(
 *   Layer.provide(Journal.layerFile("chorus.jsonl")),
 *   Layer.provide(NodeContext.layer)
 * )
 */
export const layerFile = (
  path: string,
  options?: FileOptions
): Layer.Layer<Journal, JournalError | JournalCorrupted, FileSystem.FileSystem> =>
  Layer.scoped(Journal, makeFile(path, options))

/** Options of the SQL journal. */
export interface SqlOptions {
  /** The events table, default `chorus_events`; its migrations are recorded in `<table>_migrations`. */
  readonly table?: string | undefined
  /**
   * SQLite only (other databases follow their server's settings): `"fsync"`
   * (default) sets `PRAGMA synchronous = FULL`, `"none"` sets `OFF`.
   */
  readonly durability?: Durability | undefined
}

/** Options of the SQLite journal. */
export interface SqliteOptions extends SqlOptions {
  /** The database file; created when missing (its directory must exist). */
  readonly filename: string
}

const missingPeer = (peers: string) => (cause: unknown) =>
  new JournalError({ operation: "open", detail: `this journal needs the optional peer dependencies ${peers}`, cause })

// Loaded on first use: applications without a SQL journal need neither @effect/sql nor a native driver.
const loadSql = Effect.tryPromise({
  try: () => import("./internal/journalSql.js"),
  catch: missingPeer("@effect/sql")
})
const loadSqlite = Effect.tryPromise({
  try: () => import("./internal/journalSqlite.js"),
  catch: missingPeer("@effect/sql and @effect/sql-sqlite-node")
})

/**
 * Opens a journal in a SQL table through the `SqlClient` in context. The
 * table is created by a migration; each batch is appended in one
 * transaction; a row that does not decode fails the read with
 * {@link JournalCorrupted} naming its sequence.
 */
export const makeSql = (
  options?: SqlOptions
): Effect.Effect<Service, JournalError | JournalCorrupted, SqlClient.SqlClient> =>
  Effect.flatMap(loadSql, (internal) => internal.make(options ?? {})).pipe(
    Effect.withSpan("Journal.makeSql", { attributes: { table: options?.table ?? "chorus_events" } })
  )

/** The SQL journal as a layer, on the `SqlClient` in context. */
export const layerSql = (
  options?: SqlOptions
): Layer.Layer<Journal, JournalError | JournalCorrupted, SqlClient.SqlClient> => Layer.effect(Journal, makeSql(options))

/**
 * The SQL journal on a SQLite file (`@effect/sql-sqlite-node`), which this
 * layer opens and closes itself.
 *
 * @example
 * import { Layer } from "effect"
 * import { Environment, Journal } from "@chorus/core"
 *
 * const EnvironmentLive = Environment.layer().pipe(
 *   Layer.provide(Journal.layerSqlite({ filename: "chorus.db" }))
 * )
 */
export const layerSqlite = (options: SqliteOptions): Layer.Layer<Journal, JournalError | JournalCorrupted> =>
  Layer.unwrapEffect(Effect.map(loadSqlite, (internal) => internal.layerSqlite(options)))
