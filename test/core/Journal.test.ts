import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Effect, Exit, Layer, Schema, Stream } from "effect"
import { Environment, Event, Journal } from "@chorus/core"
import { conformance, events, type MakeStore, type Tamper } from "./Journal.conformance.js"

// ---------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------

const tempDirectory = Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "chorus-journal-" })).pipe(
  Effect.provide(NodeFileSystem.layer),
  Effect.orDie
)

/** Runs raw SQL on the database, as another program (or a broken disk) would. */
const tamper = (filename: string, statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  Effect.flatMap(SqlClient.SqlClient, statement).pipe(Effect.provide(SqliteClient.layer({ filename })), Effect.orDie)

const memoryStore: MakeStore = Effect.map(Journal.makeMemory, (journal) => ({ open: Layer.succeed(Journal.Journal, journal) }))

/** Rewrites a file, line by line (1-based numbers), as an editor would. */
const editLines = (path: string, edit: (lines: Array<string>) => Array<string>) =>
  withFs(Effect.flatMap(FileSystem.FileSystem, (fs) =>
    Effect.flatMap(fs.readFileString(path), (content) => fs.writeFileString(path, edit(content.split("\n")).join("\n"))))).pipe(Effect.orDie)

const fileTamper = (path: string): Tamper => ({
  // Line 1 is the header: the event of sequence s is on line s + 2.
  editDelta: (sequence) =>
    editLines(path, (lines) =>
      lines.map((line, i) => i === sequence + 1 ? line.replace(`"delta":"${sequence}:`, `"delta":"${(sequence + 1) % 10}:`) : line)),
  // The first event's line (line 2 below the header; line 1 in a journal without one).
  removeFirst: editLines(path, (lines) => {
    const first = lines.findIndex((line) => line.startsWith("{\"sequence\""))
    return lines.filter((_, i) => i !== first)
  }),
  lineOf: (sequence) => sequence + 2
})

const fileStore = (options?: Journal.FileOptions): MakeStore =>
  Effect.map(tempDirectory, (directory) => ({
    open: Journal.layerFile(`${directory}/journal.jsonl`, options).pipe(Layer.provide(NodeFileSystem.layer)),
    tamper: fileTamper(`${directory}/journal.jsonl`)
  }))

const sqlTamper = (run: (statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) => Effect.Effect<void>, table: string): Tamper => ({
  editDelta: (sequence) =>
    run((sql) =>
      sql`UPDATE ${sql(table)} SET payload = replace(payload, ${`"delta":"${sequence}:`}, ${`"delta":"${(sequence + 1) % 10}:`}) WHERE sequence = ${sequence}`),
  removeFirst: run((sql) => sql`DELETE FROM ${sql(table)} WHERE sequence = (SELECT MIN(sequence) FROM ${sql(table)})`),
  lineOf: (sequence) => sequence + 1
})

const sqliteStore: MakeStore = Effect.map(tempDirectory, (directory) => ({
  open: Journal.layerSqlite({ filename: `${directory}/journal.db` }),
  tamper: sqlTamper((statement) => tamper(`${directory}/journal.db`, statement), "chorus_events")
}))

// One SqlClient kept open for the whole store, a journal layer built on it each time: `layerSql` as an
// application that owns its database would use it (here an in-memory SQLite database, another table name).
const sqlClientStore: MakeStore = Effect.map(
  Layer.build(SqliteClient.layer({ filename: ":memory:" })).pipe(Effect.orDie),
  (context) => ({
    open: Journal.layerSql({ table: "agent_log" }).pipe(Layer.provide(Layer.succeedContext(context))),
    tamper: sqlTamper(
      (statement) => Effect.flatMap(SqlClient.SqlClient, statement).pipe(Effect.provide(context), Effect.orDie, Effect.asVoid),
      "agent_log"
    )
  })
)

conformance("memory", memoryStore)
conformance("file", fileStore())
conformance("file without fsync", fileStore({ durability: "none" }))
conformance("SQLite file", sqliteStore)
conformance("SQL client (in-memory SQLite, custom table)", sqlClientStore)

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const line = (event: Event.Event) => Schema.encodeSync(Event.Json)(event) + "\n"
const lines = (from: number, count: number) => events(from, count).map(line).join("")

/** A file journal's content without its header and checksums: the events' JSON lines as an older journal holds them. */
const withoutChecksums = (content: string) => {
  const all = content.split("\n")
  assert.match(all[0]!, /^\{"chorus\.journal":2,"start":\d+\}$/)
  return all.slice(1).map((line) => {
    if (line === "") return line
    assert.match(line, /,"crc":"[0-9a-f]{8}"\}$/)
    return line.replace(/,"crc":"[0-9a-f]{8}"\}$/, "}")
  }).join("\n")
}

const withFs = <A, E>(effect: Effect.Effect<A, E, FileSystem.FileSystem>) => Effect.provide(effect, NodeFileSystem.layer)

/** A journal file holding `content`, in a directory removed with the scope. */
const journalFile = (content: string | Uint8Array) =>
  Effect.gen(function*() {
    const directory = yield* tempDirectory
    const path = `${directory}/journal.jsonl`
    yield* withFs(Effect.flatMap(FileSystem.FileSystem, (fs) =>
      typeof content === "string" ? fs.writeFileString(path, content) : fs.writeFile(path, content))).pipe(Effect.orDie)
    return path
  })

const fileContent = (path: string) => withFs(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFileString(path))).pipe(Effect.orDie)

const onFile = (path: string) => <A, E>(effect: Effect.Effect<A, E, Journal.Journal>) =>
  Effect.provide(effect, Journal.layerFile(path).pipe(Layer.provide(NodeFileSystem.layer)))

const contents = Effect.gen(function*() {
  const journal = yield* Journal.Journal
  const all = Chunk.toReadonlyArray(yield* Stream.runCollect(journal.read()))
  return { repairs: journal.repairs, last: yield* journal.lastSequence, sequences: all.map((event) => event.sequence), all }
})

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure === undefined) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return failure
}

const corruptedAt = (path: string, at: number) =>
  Effect.gen(function*() {
    const before = yield* fileContent(path)
    const error = failureOf(yield* Effect.exit(onFile(path)(contents)))
    assert.strictEqual(error._tag, "JournalCorrupted")
    // Nothing was cut or rewritten: the bytes are still there for whoever repairs the file.
    assert.strictEqual(yield* fileContent(path), before)
    const corrupted = error as Journal.JournalCorrupted
    assert.strictEqual(corrupted.location, path)
    assert.strictEqual(corrupted.line, at)
    assert.include(corrupted.message, `${path} is corrupted at line ${at}`)
    return corrupted
  })

// ---------------------------------------------------------------------------
// File journal: garbage and repairs
// ---------------------------------------------------------------------------

describe("Journal.layerFile", () => {
  it.effect("cuts off a torn last line, reports it, and the environment publishes the repair", () =>
    Effect.gen(function*() {
      const torn = "{\"sequence\":3,\"author\":\"te"
      const path = yield* journalFile(lines(0, 3) + torn)
      const opened = yield* onFile(path)(contents)
      assert.deepStrictEqual(opened.repairs, [{ line: 4, bytes: torn.length }])
      assert.strictEqual(opened.last, 2)
      assert.deepStrictEqual(opened.sequences, [0, 1, 2])
      assert.strictEqual(yield* fileContent(path), lines(0, 3))

      // Torn again, then opened by an environment: the repair becomes an event in the journal.
      yield* withFs(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFileString(path, torn, { flag: "a" }))).pipe(Effect.orDie)
      const environment = Environment.layer().pipe(Layer.provide(Journal.layerFile(path)), Layer.provide(NodeFileSystem.layer))
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        const repaired = yield* env.waitFor((event) => event.payload._tag === "JournalRepaired")
        assert.strictEqual(repaired.sequence, 3)
        assert.deepStrictEqual(repaired.payload, new Event.JournalRepaired({ line: 4, bytes: torn.length }))
        yield* env.publish("alice", new Event.InterruptRequested({ participant: "agent", runId: null }))
      }).pipe(Effect.provide(environment))

      const reopened = yield* onFile(path)(contents)
      assert.deepStrictEqual(reopened.repairs, [])
      assert.deepStrictEqual(reopened.sequences, [0, 1, 2, 3, 4])
    }).pipe(Effect.scoped))

  it.effect("cuts off a last line that ends with a newline but is not an event", () =>
    Effect.gen(function*() {
      const bad = "{\"sequence\":3}\n"
      const path = yield* journalFile(lines(0, 3) + bad)
      const opened = yield* onFile(path)(contents)
      assert.deepStrictEqual(opened.repairs, [{ line: 4, bytes: bad.length }])
      assert.deepStrictEqual(opened.sequences, [0, 1, 2])
      assert.strictEqual(yield* fileContent(path), lines(0, 3))
    }).pipe(Effect.scoped))

  it.effect("invalid JSON in the middle is JournalCorrupted naming the file and line", () =>
    Effect.gen(function*() {
      const path = yield* journalFile(lines(0, 2) + "{\"sequence\":2,\"auth\n" + lines(2, 3))
      const error = yield* corruptedAt(path, 3)
      assert.include(error.detail, "invalid JSON")
    }).pipe(Effect.scoped))

  it.effect("a valid JSON line that is not an event is JournalCorrupted", () =>
    Effect.gen(function*() {
      const path = yield* journalFile(lines(0, 1) + "{\"hello\":\"world\"}\n" + lines(1, 2))
      const error = yield* corruptedAt(path, 2)
      assert.include(error.detail, "not an event")
    }).pipe(Effect.scoped))

  it.effect("an event with an unknown payload kind is JournalCorrupted", () =>
    Effect.gen(function*() {
      const unknown = JSON.stringify({ sequence: 1, author: "x", timestamp: 0, payload: { _tag: "Teleported" } }) + "\n"
      const path = yield* journalFile(lines(0, 1) + unknown + lines(1, 1))
      const error = yield* corruptedAt(path, 2)
      assert.include(error.detail, "payload")
    }).pipe(Effect.scoped))

  it.effect("only the last line may be cut: a bad line before a torn one is JournalCorrupted", () =>
    Effect.gen(function*() {
      const path = yield* journalFile(lines(0, 2) + "garbage\n" + "{\"seq")
      yield* corruptedAt(path, 3)
    }).pipe(Effect.scoped))

  it.effect("a line that is not UTF-8 is JournalCorrupted", () =>
    Effect.gen(function*() {
      const encoder = new TextEncoder()
      const bytes = [...encoder.encode(lines(0, 1)), 0xff, 0xfe, 0x7b, 0x0a, ...encoder.encode(lines(1, 1))]
      const path = yield* journalFile(Uint8Array.from(bytes))
      const error = yield* corruptedAt(path, 2)
      assert.include(error.detail, "UTF-8")
    }).pipe(Effect.scoped))

  it.effect("a sequence gap, a step back or a repeat is JournalCorrupted", () =>
    Effect.gen(function*() {
      const gap = yield* corruptedAt(yield* journalFile(lines(0, 2) + lines(3, 2)), 3)
      assert.strictEqual(gap.sequence, 3)
      assert.include(gap.detail, "sequence 3 follows 1")
      const back = yield* corruptedAt(yield* journalFile(lines(0, 2) + lines(0, 1)), 3)
      assert.strictEqual(back.sequence, 0)
      assert.include(back.detail, "sequence 0 follows 1")
      const repeat = yield* corruptedAt(yield* journalFile(lines(0, 2) + lines(1, 1)), 3)
      assert.include(repeat.detail, "sequence 1 follows 1")
    }).pipe(Effect.scoped))

  it.effect("integrity: every changed byte of an event line is JournalCorrupted naming that line, even when it still decodes", () =>
    Effect.gen(function*() {
      const path = yield* journalFile("")
      yield* onFile(path)(Effect.flatMap(Journal.Journal, (journal) => journal.append(events(0, 3))))
      const original = yield* withFs(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.readFile(path))).pipe(Effect.orDie)
      const lineStarts = [0]
      original.forEach((byte, i) => byte === 10 && lineStarts.push(i + 1))
      // Line 3 holds sequence 1: every byte of it but its newline, changed to another character.
      const [from, to] = [lineStarts[2]!, lineStarts[3]! - 1]
      let decodedAnyway = 0
      for (let at = from; at < to; at++) {
        const bytes = Uint8Array.from(original)
        const byte = bytes[at]!
        bytes[at] = byte >= 48 && byte <= 57 ? 48 + ((byte - 48 + 1) % 10) : byte === 97 ? 98 : 97
        yield* withFs(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.writeFile(path, bytes))).pipe(Effect.orDie)
        const exit = yield* Effect.exit(onFile(path)(contents))
        const error = failureOf(exit)
        assert.strictEqual(error._tag, "JournalCorrupted", `byte ${at - from} of the line was accepted`)
        assert.strictEqual((error as Journal.JournalCorrupted).line, 3, `byte ${at - from}: ${error.message}`)
        if ((error as Journal.JournalCorrupted).detail.includes("checksum mismatch")) decodedAnyway++
      }
      // Most of these lines still decoded: only the checksum could tell.
      assert.isTrue(decodedAnyway > (to - from) / 2, `${decodedAnyway} of ${to - from}`)
    }).pipe(Effect.scoped))

  it.effect("integrity: a missing header (line 1) is JournalCorrupted", () =>
    Effect.gen(function*() {
      const path = yield* journalFile("")
      yield* onFile(path)(Effect.flatMap(Journal.Journal, (journal) => journal.append(events(0, 3))))
      yield* editLines(path, (lines) => lines.slice(1))
      const error = yield* corruptedAt(path, 1)
      assert.include(error.detail, "header")
    }).pipe(Effect.scoped))

  it.effect("an older journal (no header, no checksums) opens, and takes appends in its own format", () =>
    Effect.gen(function*() {
      const path = yield* journalFile(lines(0, 3))
      yield* onFile(path)(Effect.flatMap(Journal.Journal, (journal) => journal.append(events(3, 2))))
      assert.strictEqual(yield* fileContent(path), lines(0, 5))
      const opened = yield* onFile(path)(contents)
      assert.deepStrictEqual(opened.sequences, [0, 1, 2, 3, 4])
    }).pipe(Effect.scoped))

  it.effect("an empty file is an empty journal that takes appends", () =>
    Effect.gen(function*() {
      const path = yield* journalFile("")
      yield* onFile(path)(Effect.gen(function*() {
        const opened = yield* contents
        assert.deepStrictEqual(opened.repairs, [])
        assert.strictEqual(opened.last, -1)
        const journal = yield* Journal.Journal
        yield* journal.append(events(0, 2))
      }))
      assert.strictEqual(withoutChecksums(yield* fileContent(path)), lines(0, 2))
    }).pipe(Effect.scoped))

  it.effect("a missing file is created; a missing directory is a JournalError", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const path = `${directory}/new.jsonl`
      const opened = yield* onFile(path)(contents)
      assert.strictEqual(opened.last, -1)
      assert.isTrue(yield* withFs(Effect.flatMap(FileSystem.FileSystem, (fs) => fs.exists(path))).pipe(Effect.orDie))

      const error = failureOf(yield* Effect.exit(onFile(`${directory}/missing/journal.jsonl`)(contents)))
      assert.strictEqual(error._tag, "JournalError")
      assert.strictEqual((error as Journal.JournalError).operation, "open")
      assert.include(error.message, "missing/journal.jsonl")
    }).pipe(Effect.scoped))

  it.effect("refuses a batch that does not continue the sequences, and writes none of it", () =>
    Effect.gen(function*() {
      const path = yield* journalFile("")
      yield* onFile(path)(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        yield* journal.append(events(0, 3))
        const gap = failureOf(yield* Effect.exit(journal.append([...events(3, 2), ...events(6, 1)])))
        assert.strictEqual(gap.operation, "append")
        assert.include(gap.detail, "sequence 6 does not follow 4")
        assert.strictEqual(yield* journal.lastSequence, 2)
        yield* journal.append(events(3, 1))
      }))
      assert.strictEqual(withoutChecksums(yield* fileContent(path)), lines(0, 4))
    }).pipe(Effect.scoped))
})

// ---------------------------------------------------------------------------
// SQLite journal: garbage
// ---------------------------------------------------------------------------

const sqliteFile = Effect.map(tempDirectory, (directory) => `${directory}/journal.db`)

const onSqlite = (filename: string) => <A, E>(effect: Effect.Effect<A, E, Journal.Journal>) =>
  Effect.provide(effect, Journal.layerSqlite({ filename }))


const sqliteWith = (count: number) =>
  Effect.gen(function*() {
    const filename = yield* sqliteFile
    yield* onSqlite(filename)(Effect.flatMap(Journal.Journal, (journal) => journal.append(events(0, count))))
    return filename
  })

describe("Journal.layerSqlite", () => {
  it.effect("a row whose payload is not JSON is JournalCorrupted naming its sequence", () =>
    Effect.gen(function*() {
      const filename = yield* sqliteWith(10)
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET payload = '{"itemId":' WHERE sequence = 5`)
      yield* onSqlite(filename)(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        assert.strictEqual(yield* journal.lastSequence, 9)
        const error = failureOf(yield* Effect.exit(Stream.runDrain(journal.read())))
        assert.strictEqual(error._tag, "JournalCorrupted")
        const corrupted = error as Journal.JournalCorrupted
        assert.strictEqual(corrupted.sequence, 5)
        assert.strictEqual(corrupted.line, 6)
        assert.strictEqual(corrupted.location, "table chorus_events")
        assert.include(corrupted.detail, "invalid JSON")
        assert.include(corrupted.message, "(sequence 5)")
        // What is before it still reads.
        const before = yield* Stream.runCollect(journal.read({ to: 4 }))
        assert.strictEqual(Chunk.size(before), 5)
      }))
    }).pipe(Effect.scoped))

  it.effect("a row whose payload is JSON but not a payload, or whose tag lies, is JournalCorrupted", () =>
    Effect.gen(function*() {
      const filename = yield* sqliteWith(10)
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET payload = '{"_tag":"TextDelta"}' WHERE sequence = 2`)
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET tag = 'ItemDone' WHERE sequence = 7`)
      yield* onSqlite(filename)(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const first = failureOf(yield* Effect.exit(Stream.runDrain(journal.read())))
        assert.strictEqual((first as Journal.JournalCorrupted).sequence, 2)
        assert.include((first as Journal.JournalCorrupted).detail, "not an event")
        const second = failureOf(yield* Effect.exit(Stream.runDrain(journal.read({ from: 3 }))))
        assert.strictEqual((second as Journal.JournalCorrupted).sequence, 7)
        assert.include((second as Journal.JournalCorrupted).detail, "tag ItemDone")
      }))
    }).pipe(Effect.scoped))

  it.effect("rows a read as one text cannot vouch for read back as written: authors outside the BMP, with a colon or a NUL", () =>
    Effect.gen(function*() {
      const filename = yield* sqliteFile
      // SQLite's length() counts "🦊" as 1 character, the checksum as 2 UTF-16 units; it stops at a NUL.
      // Rows 0-1 go through the one-text read, then the NUL author makes it read the rest of the page by columns.
      const authors = ["agent", "a:b:9:", "nul\u0000inside", "🦊 fox", "", "zoë", "🦊"]
      const written = authors.map((author, sequence) =>
        new Event.Event({ sequence, author, timestamp: 1_700_000_000_000 + sequence, payload: Event.unsafeTextDelta("m1", 0, `${sequence}: 🦊 said`) }, true))
      yield* onSqlite(filename)(Effect.flatMap(Journal.Journal, (journal) => journal.append(written)))
      const read = yield* onSqlite(filename)(contents)
      assert.deepStrictEqual(read.all, written)
      // A changed row among them is still caught, and named.
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET payload = replace(payload, '3: 🦊 said', '3: 🦊 sand') WHERE sequence = 3`)
      const error = failureOf(yield* Effect.exit(onSqlite(filename)(contents)))
      assert.strictEqual((error as Journal.JournalCorrupted).sequence, 3)
      assert.include((error as Journal.JournalCorrupted).detail, "checksum mismatch")
    }).pipe(Effect.scoped))

  it.effect("a missing row is JournalCorrupted when the journal opens", () =>
    Effect.gen(function*() {
      const filename = yield* sqliteWith(10)
      yield* tamper(filename, (sql) => sql`DELETE FROM chorus_events WHERE sequence = 3`)
      const error = failureOf(yield* Effect.exit(onSqlite(filename)(contents)))
      assert.strictEqual(error._tag, "JournalCorrupted")
      assert.strictEqual((error as Journal.JournalCorrupted).sequence, 4)
      assert.strictEqual((error as Journal.JournalCorrupted).line, 4)
    }).pipe(Effect.scoped))

  it.effect("a file that is not a database, or a missing directory, is a JournalError", () =>
    Effect.gen(function*() {
      const notADatabase = yield* journalFile(lines(0, 3))
      const first = failureOf(yield* Effect.exit(onSqlite(notADatabase)(contents)))
      assert.strictEqual(first._tag, "JournalError")
      const directory = yield* tempDirectory
      const second = failureOf(yield* Effect.exit(onSqlite(`${directory}/missing/journal.db`)(contents)))
      assert.strictEqual(second._tag, "JournalError")
      assert.strictEqual((second as Journal.JournalError).operation, "open")
    }).pipe(Effect.scoped))

  it.effect("refuses a batch that does not continue the sequences, and writes none of it", () =>
    Effect.gen(function*() {
      const filename = yield* sqliteWith(3)
      yield* onSqlite(filename)(Effect.gen(function*() {
        const journal = yield* Journal.Journal
        const gap = failureOf(yield* Effect.exit(journal.append([...events(3, 2), ...events(6, 1)])))
        assert.strictEqual(gap.operation, "append")
        assert.strictEqual(yield* journal.lastSequence, 2)
      }))
      const reopened = yield* onSqlite(filename)(contents)
      assert.deepStrictEqual(reopened.sequences, [0, 1, 2])
    }).pipe(Effect.scoped))
})

// ---------------------------------------------------------------------------
// Reads by kind: what is decoded, what is still checked
// ---------------------------------------------------------------------------

const interrupt = (sequence: number) =>
  new Event.Event({
    sequence,
    author: "tester",
    timestamp: 1_700_000_000_000 + sequence,
    payload: new Event.InterruptRequested({ participant: `p${sequence}`, runId: null })
  }, true)

/** Deltas 0-9 with interrupts at 10 and 11. */
const mixedBatch = () => [...events(0, 10), interrupt(10), interrupt(11)]

const readKinds = (kinds: ReadonlyArray<Event.Payload["_tag"]>) =>
  Effect.flatMap(Journal.Journal, (journal) => Stream.runCollect(journal.read({ kinds }))).pipe(
    Effect.map((all) => Chunk.toReadonlyArray(all).map((event) => event.sequence))
  )

describe("Journal reads by kind", () => {
  it.effect("file: lines of other kinds are not decoded but their chain is checked, even when changed after opening", () =>
    Effect.gen(function*() {
      const path = yield* journalFile("")
      yield* onFile(path)(Effect.flatMap(Journal.Journal, (journal) => journal.append(mixedBatch())))
      yield* onFile(path)(Effect.gen(function*() {
        assert.deepStrictEqual(yield* readKinds(["InterruptRequested"]), [10, 11])
        // A delta (a kind this read skips) changed while the journal is open: the read still sees it.
        yield* fileTamper(path).editDelta(4)
        const error = failureOf(yield* Effect.exit(readKinds(["InterruptRequested"])))
        assert.strictEqual(error._tag, "JournalCorrupted")
        assert.strictEqual((error as Journal.JournalCorrupted).line, 6)
      }))
      // Opened again, the chain over every line is checked before anything is read.
      yield* corruptedAt(path, 6)
    }).pipe(Effect.scoped))

  it.effect("SQLite: a read of some kinds checks the rows it reads; a changed row of another kind is found by the reads that include it", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = `${directory}/journal.db`
      const open = Journal.layerSqlite({ filename })
      yield* Effect.flatMap(Journal.Journal, (journal) => journal.append(mixedBatch())).pipe(Effect.provide(open))
      yield* sqlTamper((statement) => tamper(filename, statement), "chorus_events").editDelta(4)
      yield* Effect.gen(function*() {
        // The rows read are intact, and so is the link to the row before each.
        assert.deepStrictEqual(yield* readKinds(["InterruptRequested"]), [10, 11])
        const journal = yield* Journal.Journal
        for (const options of [{ kinds: ["TextDelta"] as const }, {}]) {
          const error = failureOf(yield* Effect.exit(Stream.runDrain(journal.read(options))))
          assert.strictEqual(error._tag, "JournalCorrupted", JSON.stringify(options))
          assert.strictEqual((error as Journal.JournalCorrupted).line, 5, JSON.stringify(options))
        }
      }).pipe(Effect.provide(open))
    }).pipe(Effect.scoped))

  it.effect("SQLite: a changed row of the kinds read, or a changed row just before one, is JournalCorrupted naming its row", () =>
    Effect.gen(function*() {
      const directory = yield* tempDirectory
      const filename = `${directory}/journal.db`
      const open = Journal.layerSqlite({ filename })
      yield* Effect.flatMap(Journal.Journal, (journal) => journal.append(mixedBatch())).pipe(Effect.provide(open))
      // The interrupt at 10 names another participant: it still decodes, its checksum no longer holds.
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET payload = replace(payload, '"p10"', '"p01"') WHERE sequence = 10`)
      const error = failureOf(yield* Effect.exit(readKinds(["InterruptRequested"]).pipe(Effect.provide(open))))
      assert.strictEqual(error._tag, "JournalCorrupted")
      assert.strictEqual((error as Journal.JournalCorrupted).line, 11)
      // The checksum of the row before 11 rewritten (as a forger who recomputes one row would leave it): 11 no longer links.
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET payload = replace(payload, '"p01"', '"p10"') WHERE sequence = 10`)
      yield* tamper(filename, (sql) => sql`UPDATE chorus_events SET checksum = '00000000' WHERE sequence = 10`)
      const second = failureOf(yield* Effect.exit(readKinds(["InterruptRequested"]).pipe(Effect.provide(open))))
      assert.strictEqual(second._tag, "JournalCorrupted")
      assert.strictEqual((second as Journal.JournalCorrupted).line, 11)
    }).pipe(Effect.scoped))
})
