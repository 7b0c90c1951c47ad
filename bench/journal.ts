/**
 * Journal benchmarks: append throughput of the memory, file and SQLite
 * journals (through an environment, and directly with the batches that
 * environment made), and the time to replay 100,000 events on start.
 *
 * The workload is an agent's: turns of one user message, one model message
 * streamed as 20 text deltas, and its final item (23 events), the producer
 * going back to the event loop between turns so the environment's writer
 * batches what piles up while it writes. `direct` appends the batches that
 * environment made; `direct.single` appends one event per batch (one write
 * and one fsync each: the rate of durable single events). Both durable
 * journals run with their default durability (`fsync` per batch).
 *
 * Replaying 100,000 events, three ways, each opening the journal afresh, in
 * a fresh process (`freshProcess`), as a journal is replayed when a process
 * starts: the heap and JIT state of the sections run before in the bench's
 * process do not weigh on it (in that process the same reads took up to 1.7x
 * as long):
 * - `start`: an environment starting on the journal: what it reads to start
 *   (the last sequence and the head of the hash chain; the file journal
 *   checks the chain over every byte). No event is decoded.
 * - `replay`: opening and reading every event (every event decoded): what a
 *   reader of the whole history pays.
 * - `replay.kinds`: opening and reading every kind but deltas (13% of this
 *   workload's events): what a reader of finished items pays.
 * Beside the file's replay, `json-parse-only` is `JSON.parse` of the same
 * file's whole lines alone: what a reader that parses each line pays before
 * decoding anything (the file journal parses only the payload of a line it
 * wrote and reads the envelope off its bytes).
 * The events written are dropped before the timed reads, as a process that
 * replays a journal on start has none of them in memory.
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Layer, Stream } from "effect"
import { ContextItem, Environment, Event, Journal } from "@chorus/core"
import { freshProcess, gc, reply, taskArguments } from "./support.js"

/** One measured figure. */
export interface Result {
  readonly name: string
  readonly unit: string
  readonly value: number
  readonly target?: { readonly text: string; readonly holds: boolean } | undefined
}

type Kind = "memory" | "file" | "sqlite"

const appendEvents = 46_000
const replayEvents = 100_000

const turn = (n: number): ReadonlyArray<readonly [string, Event.Payload]> => {
  const id = `m${n}`
  const words = Array.from({ length: 20 }, (_, i) => `word${i} `)
  return [
    ["alice", new Event.ItemAdded({ item: ContextItem.userText({ id: `${id}-q`, author: "alice", text: `question ${n}` }), runId: null })],
    ["agent", new Event.ItemAdded({ item: new ContextItem.ModelMessage({ id, author: "agent", status: "in_progress", content: [] }), runId: id })],
    ...words.map((word) => ["agent", new Event.TextDelta({ itemId: id, contentIndex: 0, delta: word })] as const),
    ["agent", new Event.ItemDone({ item: ContextItem.modelText({ id, author: "agent", text: words.join("") }), runId: id })]
  ]
}

/** A journal layer of this kind in `directory`, each build opening the same storage. */
const journalLayer = (kind: Kind, directory: string) => {
  switch (kind) {
    case "memory":
      return Journal.layerMemory
    case "file":
      return Journal.layerFile(join(directory, "journal.jsonl")).pipe(Layer.provide(NodeFileSystem.layer))
    case "sqlite":
      return Journal.layerSqlite({ filename: join(directory, "journal.db") })
  }
}

/** Wraps the journal in context so the batches it is given are recorded. */
const recording = (batches: Array<ReadonlyArray<Event.Event>>) =>
  Layer.effect(
    Journal.Journal,
    Effect.map(Journal.Journal, (journal): Journal.Service => ({
      ...journal,
      append: (batch) => {
        batches.push(batch)
        return journal.append(batch)
      }
    }))
  )

const nextTick = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const seconds = (start: number) => (performance.now() - start) / 1000

/** Publishes the workload through an environment; returns events/s and the batches it wrote. */
const throughEnvironment = (kind: Kind, directory: string) =>
  Effect.gen(function*() {
    const batches: Array<ReadonlyArray<Event.Event>> = []
    const journal = recording(batches).pipe(Layer.provide(journalLayer(kind, directory)))
    const turns = Array.from({ length: Math.ceil(appendEvents / 23) }, (_, n) => turn(n))
    const elapsed = yield* Effect.gen(function*() {
      const env = yield* Environment.Environment
      const start = performance.now()
      for (const payloads of turns) {
        for (const [author, payload] of payloads) yield* env.publish(author, payload)
        // Back to the event loop between turns, as a producer fed by a socket is.
        yield* nextTick
      }
      yield* env.flush
      return seconds(start)
    }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(journal))))
    const events = batches.reduce((sum, batch) => sum + batch.length, 0)
    return { rate: events / elapsed, batches, events }
  })

/** Appends the same batches directly to a fresh journal; returns events/s. */
const direct = (kind: Kind, directory: string, batches: ReadonlyArray<ReadonlyArray<Event.Event>>) =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const start = performance.now()
    for (const batch of batches) yield* journal.append(batch)
    const events = batches.reduce((sum, batch) => sum + batch.length, 0)
    return events / seconds(start)
  }).pipe(Effect.provide(journalLayer(kind, directory)))

/** Appends `count` events one per batch: one write (and one fsync) per event. */
const singleEvents = (kind: Kind, directory: string, count: number) =>
  Effect.gen(function*() {
    const journal = yield* Journal.Journal
    const events = turnsOf(count).map(([author, payload], sequence) =>
      new Event.Event({ sequence, author, timestamp: 1_700_000_000_000 + sequence, payload }, true))
    const start = performance.now()
    for (const event of events) yield* journal.append([event])
    return count / seconds(start)
  }).pipe(Effect.provide(journalLayer(kind, directory)))

const turnsOf = (count: number) => Array.from({ length: Math.ceil(count / 23) }, (_, n) => turn(n)).flat().slice(0, count)

/** Every kind of payload but deltas. */
const finishedKinds = Event.Payload.members
  .map((member) => member._tag as Event.Payload["_tag"])
  .filter((tag) => !tag.endsWith("Delta"))

/** Milliseconds of wall time and of CPU time (this process, every thread) that `effect` took. */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.suspend(() => {
    // Each from a collected heap: what came before (the append runs) leaves no garbage to this one.
    gc()
    const start = performance.now()
    const cpu = process.cpuUsage()
    return Effect.map(effect, (value) => {
      const used = process.cpuUsage(cpu)
      return { value, ms: performance.now() - start, cpuMs: (used.user + used.system) / 1000 }
    })
  })

/** Writes `replayEvents` events to a fresh journal in 1,000-event batches; returns how many are not deltas. */
const fill = (kind: "file" | "sqlite", directory: string) =>
  Effect.gen(function*() {
    const events = turnsOf(replayEvents).map(([author, payload], sequence) =>
      new Event.Event({ sequence, author, timestamp: 1_700_000_000_000 + sequence, payload }, true))
    const journal = yield* Journal.Journal
    for (let i = 0; i < events.length; i += 1_000) yield* journal.append(events.slice(i, i + 1_000))
    return events.filter((event) => !event.payload._tag.endsWith("Delta")).length
  }).pipe(Effect.provide(journalLayer(kind, directory)))

type Timed = { readonly value: number; readonly ms: number; readonly cpuMs: number }

interface Replayed {
  readonly start: Timed
  readonly full: Timed
  readonly some: Timed
  readonly floor: number
}

/** Fills a journal with `replayEvents` events, then times, in a fresh process, starting on it, reading everything, and reading some kinds. */
const replay = async (kind: "file" | "sqlite", directory: string): Promise<Replayed> => {
  const finished = await Effect.runPromise(fill(kind, directory))
  return freshProcess<Replayed>(import.meta.url, [kind, directory, String(finished)])
}

/** The timed reads of a filled journal (in the fresh process): it holds `finished` events that are not deltas. */
const reads = (kind: "file" | "sqlite", directory: string, finished: number) =>
  Effect.gen(function*() {
    const onJournal = <A, E>(effect: Effect.Effect<A, E, Journal.Journal>) => Effect.provide(effect, journalLayer(kind, directory))
    const start = yield* timed(Effect.flatMap(Environment.Environment, (env) => env.lastSequence).pipe(
      Effect.provide(Environment.layer().pipe(Layer.provide(journalLayer(kind, directory))))
    ))
    if (start.value !== replayEvents - 1) return yield* Effect.dieMessage(`started at ${start.value}, expected ${replayEvents - 1}`)
    const full = yield* timed(onJournal(Effect.flatMap(Journal.Journal, (journal) => Stream.runCount(journal.read()))))
    if (full.value !== replayEvents) return yield* Effect.dieMessage(`replayed ${full.value} events, expected ${replayEvents}`)
    const some = yield* timed(onJournal(Effect.flatMap(Journal.Journal, (journal) => Stream.runCount(journal.read({ kinds: finishedKinds })))))
    if (some.value !== finished) return yield* Effect.dieMessage(`replayed ${some.value} finished events, expected ${finished}`)
    // The floor for the file: JSON.parse of its lines alone, measured right after in the same process.
    let floor = 0
    if (kind === "file") {
      const lines = readFileSync(join(directory, "journal.jsonl"), "utf8").split("\n").filter((line) => line.length > 0)
      const parsing = performance.now()
      for (const line of lines) JSON.parse(line)
      floor = performance.now() - parsing
    }
    return { start, full, some, floor } satisfies Replayed
  })

const asked = taskArguments(import.meta.url)
if (asked !== undefined) reply(Effect.runPromise(reads(asked[0] as "file" | "sqlite", asked[1]!, Number(asked[2]))))

const fresh = () => mkdtempSync(join(tmpdir(), "chorus-bench-journal-"))

/** Runs the journal benchmarks. */
export const journalBench = async (log?: (line: string) => void): Promise<Array<Result>> => {
  const results: Array<Result> = []
  const directories: Array<string> = []
  const directory = () => {
    const created = fresh()
    directories.push(created)
    return created
  }
  try {
    for (const kind of ["memory", "file", "sqlite"] as const) {
      const viaEnvironment = await Effect.runPromise(throughEnvironment(kind, directory()))
      results.push({ name: `journal.${kind}.append.environment`, unit: "events/s", value: Math.round(viaEnvironment.rate) })
      results.push({
        name: `journal.${kind}.append.environment.batch`,
        unit: "events/batch",
        value: Math.round(viaEnvironment.events / viaEnvironment.batches.length)
      })
      const directRate = await Effect.runPromise(direct(kind, directory(), viaEnvironment.batches))
      results.push({ name: `journal.${kind}.append.direct`, unit: "events/s", value: Math.round(directRate) })
      const singleRate = await Effect.runPromise(singleEvents(kind, directory(), kind === "memory" ? 10_000 : 500))
      results.push({ name: `journal.${kind}.append.direct.single`, unit: "events/s", value: Math.round(singleRate) })
    }
    for (const kind of ["file", "sqlite"] as const) {
      const { floor, full, some, start } = await replay(kind, directory())
      log?.(
        `journal ${kind}, 100k events: start ${Math.round(start.ms)} ms (${Math.round(start.cpuMs)} ms CPU); ` +
          `every event ${Math.round(full.ms)} ms (${Math.round(full.cpuMs)} ms CPU); ` +
          `finished items ${Math.round(some.ms)} ms (${Math.round(some.cpuMs)} ms CPU)`
      )
      results.push(
        { name: `journal.${kind}.start.100k`, unit: "ms", value: Math.round(start.ms), target: { text: "< 500 ms", holds: start.ms < 500 } },
        { name: `journal.${kind}.replay.100k`, unit: "ms", value: Math.round(full.ms), target: { text: "< 500 ms", holds: full.ms < 500 } },
        { name: `journal.${kind}.replay.100k.cpu`, unit: "ms", value: Math.round(full.cpuMs) },
        { name: `journal.${kind}.replay.100k.kinds`, unit: "ms", value: Math.round(some.ms), target: { text: "< 500 ms", holds: some.ms < 500 } }
      )
      if (kind === "file") results.push({ name: "journal.file.replay.100k.json-parse-only", unit: "ms", value: Math.round(floor) })
    }
  } finally {
    for (const created of directories) rmSync(created, { recursive: true, force: true })
  }
  return results
}
