import * as FileSystem from "@effect/platform/FileSystem"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Chunk, Deferred, Effect, Layer, Stream } from "effect"
import { ContextItem, Environment, Event, Journal, Reducer } from "@chorus/core"

const root = fileURLToPath(new URL("../..", import.meta.url))
const writer = fileURLToPath(new URL("../fixtures/journal/crash-writer.ts", import.meta.url))

/** Events a writer has flushed before it is killed: many batches, so the kill lands amid writes. */
const killAfter = 2_000

type Kind = "file" | "sqlite"

/** The text of every answer the writer publishes (see the fixture). */
const answer = Array.from({ length: 20 }, (_, i) => `w${i}:${"é✓".repeat(10)} `).join("")

/**
 * Runs the writer until it has flushed `killAfter` events, then kills it with
 * SIGKILL while it keeps publishing. Returns the last sequence it reported as
 * flushed.
 */
const runAndKill = (kind: Kind, path: string, durability: Journal.Durability) =>
  Effect.gen(function*() {
    const flushed = yield* Deferred.make<number, Error>()
    const exited = yield* Deferred.make<NodeJS.Signals | number | null>()
    let started = -1
    let lastFlushed = -1
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, ["--import", "tsx", writer, kind, path, durability], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })),
      (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
    )
    let stdout = ""
    let stderr = ""
    child.stderr.on("data", (data: Buffer) => {
      stderr += data.toString("utf8")
    })
    child.stdout.on("data", (data: Buffer) => {
      stdout += data.toString("utf8")
      const lines = stdout.split("\n")
      stdout = lines.pop() ?? ""
      for (const line of lines) {
        const start = /^started (-?\d+)$/.exec(line)
        if (start !== null) started = Number(start[1])
        const match = /^flushed (\d+)$/.exec(line)
        if (match === null) continue
        lastFlushed = Number(match[1])
        if (lastFlushed - started >= killAfter) {
          // Killed right away, while it goes on publishing and writing.
          child.kill("SIGKILL")
          Deferred.unsafeDone(flushed, Effect.succeed(lastFlushed))
        }
      }
    })
    child.on("exit", (code, signal) => {
      Deferred.unsafeDone(exited, Effect.succeed(signal ?? code))
      Deferred.unsafeDone(flushed, Effect.fail(new Error(`the writer exited (${signal ?? code}) before the kill: ${stderr}`)))
    })
    const acknowledged = yield* Deferred.await(flushed)
    assert.strictEqual(yield* Deferred.await(exited), "SIGKILL")
    return acknowledged
  }).pipe(Effect.scoped)

const journalOf = (kind: Kind, path: string) =>
  kind === "sqlite" ? Journal.layerSqlite({ filename: path }) : Journal.layerFile(path).pipe(Layer.provide(NodeFileSystem.layer))

// A SIGKILL is a crash of the process: both durability settings must keep every acknowledged event.
const cases: ReadonlyArray<readonly [Kind, Journal.Durability]> = [["file", "fsync"], ["file", "none"], ["sqlite", "fsync"], ["sqlite", "none"]]

const readAll = Effect.gen(function*() {
  const journal = yield* Journal.Journal
  const events = Chunk.toReadonlyArray(yield* Stream.runCollect(journal.read()))
  return { events, last: yield* journal.lastSequence, repairs: journal.repairs }
})

const assertContiguous = (events: ReadonlyArray<Event.Event>) => {
  for (const [i, event] of events.entries()) {
    if (event.sequence !== i) assert.fail(`event ${i} has sequence ${event.sequence}`)
  }
}

describe("Journal after a crash", () => {
  for (const [kind, durability] of cases) {
    it.live(`${kind} (durability ${durability}): a writer killed with SIGKILL leaves a readable journal that a new environment continues`, () =>
      Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const directory = yield* fs.makeTempDirectoryScoped({ prefix: "chorus-crash-" })
        const path = `${directory}/journal.${kind === "file" ? "jsonl" : "db"}`

        const acknowledged = yield* runAndKill(kind, path, durability)

        // Everything acknowledged as flushed is there, contiguous, and every event decodes.
        const afterKill = yield* readAll.pipe(Effect.provide(journalOf(kind, path)))
        assert.isAtLeast(afterKill.last, acknowledged)
        assert.strictEqual(afterKill.events.length, afterKill.last + 1)
        assertContiguous(afterKill.events)
        assert.isAtMost(afterKill.repairs.length, 1)

        // A second writer resumes on the same journal and is killed too.
        const secondAcknowledged = yield* runAndKill(kind, path, durability)
        assert.isAbove(secondAcknowledged, afterKill.last)

        // A new environment continues from the last complete event.
        const resumed = yield* Effect.gen(function*() {
          const env = yield* Environment.Environment
          const start = yield* env.lastSequence
          const event = yield* env.publish("alice", new Event.InterruptRequested({ participant: "agent", runId: null }))
          assert.strictEqual(event.sequence, start + 1)
          const items = Reducer.items(yield* env.snapshot(Reducer.transcript))
          return { start, items }
        }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(journalOf(kind, path)))))
        assert.isAtLeast(resumed.start, secondAcknowledged)

        // Every completed answer replays whole.
        const answers = resumed.items.filter((item): item is ContextItem.ModelMessage =>
          item._tag === "ModelMessage" && item.status === "completed")
        assert.isAbove(answers.length, 2 * killAfter / 23)
        for (const item of answers) {
          assert.strictEqual(ContextItem.text(item), answer)
        }

        const final = yield* readAll.pipe(Effect.provide(journalOf(kind, path)))
        assert.deepStrictEqual(final.repairs, [])
        assert.strictEqual(final.last, resumed.start + 1)
        assertContiguous(final.events)
        const repairedEvents = final.events.filter((event) => event.payload._tag === "JournalRepaired")
        assert.isAtMost(repairedEvents.length, 2)
      }).pipe(Effect.scoped, Effect.provide(NodeFileSystem.layer)))
  }
})
