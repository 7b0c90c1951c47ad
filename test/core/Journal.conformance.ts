/**
 * The behaviour every journal must have, run unchanged on each implementation
 * by `Journal.test.ts`.
 *
 * A store is a place a journal lives (an in-memory journal instance, a file,
 * a database): every layer built from `open` opens the same storage again,
 * as a restarted process would.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Layer, Schema, Stream } from "effect"
import type { Scope } from "effect"
import { ContextItem, Environment, Event, Journal, Reducer } from "@chorus/core"

/** A place a journal lives; `open` opens it again each time its layer is built. */
export interface Store {
  readonly open: Layer.Layer<Journal.Journal, Journal.JournalError | Journal.JournalCorrupted>
  /**
   * Changes to the storage behind the journal's back, for the integrity
   * cases (a journal that cannot be changed that way, like memory, leaves it
   * out and the cases are skipped).
   */
  readonly tamper?: Tamper | undefined
}

/** Storage-level edits, as a careless person or a damaged disk makes them. */
export interface Tamper {
  /**
   * Changes the first character of the delta text of the event of
   * `sequence` (a `deltaEvent`, whose text starts with its sequence) to
   * another digit: the record still decodes.
   */
  readonly editDelta: (sequence: number) => Effect.Effect<void>
  /** Removes the first event's record. */
  readonly removeFirst: Effect.Effect<void>
  /** The line (or row) a damaged record of `sequence` is reported at. */
  readonly lineOf: (sequence: number) => number
}

/** Makes a fresh, empty store that lives as long as the scope. */
export type MakeStore = Effect.Effect<Store, never, Scope.Scope>

const encodeEvent = Schema.encodeSync(Event.Event)
const encode = (event: Event.Event) => encodeEvent(event)

/** An event as an environment stamps it (the payload was validated when it was built, as there). */
export const stamped = (sequence: number, payload: Event.Payload, author = "tester"): Event.Event =>
  new Event.Event({ sequence, author, timestamp: 1_700_000_000_000 + sequence, payload }, true)

/** A delta whose text names its sequence, with characters JSON lines must escape or encode. */
export const deltaEvent = (sequence: number): Event.Event =>
  stamped(sequence, new Event.TextDelta({ itemId: "m1", contentIndex: 0, delta: `${sequence}: "é\n✓ 🎉"\\` }))

/** Events `from..from+count-1`. */
export const events = (from: number, count: number, make: (sequence: number) => Event.Event = deltaEvent) =>
  Array.from({ length: count }, (_, i) => make(from + i))

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** One payload of every kind, carrying every kind of context item and content part. */
export const everyPayload = (): ReadonlyArray<Event.Payload> => {
  const common = { author: "alice", status: "completed" as const }
  const items: ReadonlyArray<ContextItem.ContextItem> = [
    new ContextItem.SystemMessage({ ...common, id: "sys", content: [new ContextItem.InputText({ text: "be brief" })] }),
    new ContextItem.DeveloperMessage({ ...common, id: "dev", content: [new ContextItem.InputText({ text: "use tools" })] }),
    new ContextItem.UserMessage({
      ...common,
      id: "user",
      content: [
        new ContextItem.InputText({ text: "look at this\nplease — ünïcödé 🎉" }),
        new ContextItem.InputImage({ imageUrl: "data:image/png;base64,iVBORw0KGgo=", detail: "low" })
      ]
    }),
    new ContextItem.ModelMessage({
      ...common,
      id: "model",
      status: "incomplete",
      content: [new ContextItem.OutputText({ text: "half an ans" }), new ContextItem.Refusal({ refusal: "no" })]
    }),
    new ContextItem.Reasoning({
      ...common,
      id: "reasoning",
      summary: [new ContextItem.SummaryText({ text: "thinking" })],
      content: [new ContextItem.ReasoningText({ text: "step 1" })],
      encryptedContent: "gAAAA=="
    }),
    new ContextItem.FunctionCall({
      ...common,
      id: "call-item",
      status: "in_progress",
      callId: "call-1",
      name: "shell",
      arguments: "{\"command\":\"ls -la\"}"
    }),
    new ContextItem.FunctionCallOutput({ ...common, id: "out-1", callId: "call-1", output: "a\nb", isError: false }),
    new ContextItem.FunctionCallOutput({
      ...common,
      id: "out-2",
      callId: "call-2",
      output: [new ContextItem.InputText({ text: "failed" })],
      isError: true
    })
  ]
  const usage = new Event.Usage({ inputTokens: 10, outputTokens: 5, totalTokens: 15, cachedInputTokens: 2, reasoningTokens: 1 })
  const samples: ReadonlyArray<Event.Payload> = [
    ...items.map((item) => new Event.ItemAdded({ item, runId: "run-1" })),
    new Event.TextDelta({ itemId: "model", contentIndex: 0, delta: "t" }),
    new Event.RefusalDelta({ itemId: "model", contentIndex: 1, delta: "n" }),
    new Event.ReasoningSummaryDelta({ itemId: "reasoning", summaryIndex: 0, delta: "s" }),
    new Event.ReasoningDelta({ itemId: "reasoning", contentIndex: 0, delta: "r" }),
    new Event.FunctionCallArgumentsDelta({ itemId: "call-item", delta: "{\"a\":" }),
    ...items.map((item) => new Event.ItemDone({ item, runId: null })),
    new Event.InferenceStarted({ runId: "run-1", inferenceId: "inf-1", model: "gpt-test" }),
    new Event.InferenceCompleted({ runId: "run-1", inferenceId: "inf-1", usage, incompleteReason: null }),
    new Event.InferenceFailed({ runId: "run-1", inferenceId: "inf-2", error: "HTTP 500", reason: "server_error" }),
    new Event.InferenceInterrupted({ runId: "run-1", inferenceId: "inf-3" }),
    new Event.FunctionCallRequested({ runId: "run-1", callId: "call-1", name: "shell", arguments: "{}" }),
    new Event.ApprovalRequested({ runId: "run-1", callId: "call-1", name: "shell", arguments: "{}" }),
    new Event.ApprovalAnswered({ callId: "call-1", approved: true, reason: null }),
    new Event.FunctionCallApproved({ callId: "call-1", by: "alice" }),
    new Event.FunctionCallRejected({ callId: "call-2", by: "timeout", reason: "no answer" }),
    new Event.ApprovalAnswerRefused({ callId: "call-1", by: "bob", reason: "already_answered" }),
    new Event.FunctionCallStarted({ callId: "call-1", name: "shell" }),
    new Event.FunctionCallProgress({ callId: "call-1", progress: 0.5, total: 1, message: "half" }),
    new Event.FunctionCallCompleted({ callId: "call-1", isError: false }),
    new Event.FunctionCallFailed({ callId: "call-3", error: "boom" }),
    new Event.FunctionCallCancelled({ callId: "call-4", reason: "interrupted" }),
    new Event.InputQueued({ participant: "agent", itemId: "user", position: 1 }),
    new Event.InputSteered({ participant: "agent", itemId: "user", runId: "run-1" }),
    new Event.InputDropped({ participant: "agent", itemId: "user", reason: "busy" }),
    new Event.InputDequeued({ participant: "agent", itemId: "user", runId: "run-2" }),
    new Event.ParticipantJoined({ participant: "agent", kind: "agent" }),
    new Event.ParticipantLeft({ participant: "agent" }),
    new Event.ParticipantFailed({ participant: "agent", cause: "Error: boom\n    at somewhere" }),
    new Event.ParticipantRestarted({ participant: "agent", attempt: 2 }),
    new Event.InterruptRequested({ participant: "agent", runId: null }),
    new Event.InterruptIgnored({ participant: "agent", runId: "run-9", reason: "idle" }),
    new Event.StateChanged({ participant: "agent", runId: "run-1", from: "idle", to: "inference" }),
    new Event.RunStarted({ participant: "agent", runId: "run-1", trigger: "user" }),
    new Event.RunEnded({ participant: "agent", runId: "run-1", outcome: "completed", detail: null }),
    new Event.RunInterrupted({ participant: "agent", runId: "run-1", incompleteItems: ["model"], cancelledCalls: ["call-4"] }),
    new Event.HookFailed({ participant: "agent", runId: null, hook: "beforeInference", error: "vetoed" }),
    new Event.ClarificationRequested({ callId: "call-5", question: "which file?" }),
    new Event.ClarificationAnswered({ callId: "call-5", answer: "a.txt" }),
    new Event.JournalRepaired({ line: 3, bytes: 17 }),
    new Event.JournalDegraded({ error: "disk full", since: 17, unwritten: 1_000 }),
    new Event.JournalRecovered({ written: 1_026, downtimeMillis: 4_000 }),
    new Event.ElicitationRequested({
      elicitationId: "eli-1",
      callId: "call-6",
      server: "everything",
      message: "Your name?",
      requestedSchema: { type: "object", properties: { name: { type: "string", default: "Ada" } }, required: ["name"] }
    }),
    new Event.ElicitationAnswered({ elicitationId: "eli-1", action: "accept", content: { name: "Ada", n: 2, ok: true, tags: ["a"] } }),
    new Event.ElicitationResolved({ elicitationId: "eli-1", action: "accept", by: "alice", content: { name: "Ada" } }),
    new Event.ElicitationAnswerRefused({ elicitationId: "eli-1", by: "bot", reason: "not_allowed", detail: null }),
    new Event.ElicitationCancelled({ elicitationId: "eli-2", reason: "the agent was interrupted" }),
    new Event.AuthorizationRequested({ server: "remote", url: "https://auth.example.com/authorize?client_id=c&state=s" })
  ]
  return samples
}

/** Payload kinds of `Event.Payload` that `everyPayload` has no sample of (a new kind needs one). */
export const missingPayloadKinds = (samples: ReadonlyArray<Event.Payload>): ReadonlyArray<string> => {
  const covered = new Set<string>(samples.map((payload) => payload._tag))
  return Event.Payload.members.map((member) => member._tag as string).filter((tag) => !covered.has(tag))
}

const readAll = (options?: { readonly from?: number; readonly to?: number }) =>
  Effect.flatMap(Journal.Journal, (journal) => Stream.runCollect(journal.read(options))).pipe(
    Effect.map(Chunk.toReadonlyArray)
  )

const sequencesOf = (all: ReadonlyArray<Event.Event>) => all.map((event) => event.sequence)

const appendAll = (batches: ReadonlyArray<ReadonlyArray<Event.Event>>) =>
  Effect.flatMap(Journal.Journal, (journal) => Effect.forEach(batches, journal.append, { discard: true }))

const conversation = (runId: string, itemId: string, words: ReadonlyArray<string>): ReadonlyArray<Event.Payload> => [
  new Event.ItemAdded({ item: ContextItem.userText({ id: `${itemId}-question`, author: "alice", text: `question ${itemId}` }), runId: null }),
  new Event.ItemAdded({ item: new ContextItem.ModelMessage({ id: itemId, author: "agent", status: "in_progress", content: [] }), runId }),
  ...words.map((word) => new Event.TextDelta({ itemId, contentIndex: 0, delta: word })),
  new Event.ItemDone({ item: ContextItem.modelText({ id: itemId, author: "agent", text: words.join("") }), runId })
]

const transcriptItems = Effect.flatMap(Environment.Environment, (env) => env.snapshot(Reducer.transcript)).pipe(
  Effect.map((state) => Reducer.items(state).map((item) => Schema.encodeSync(ContextItem.ContextItem)(item)))
)

const readAllOnce = (store: Store) =>
  Effect.flatMap(Journal.Journal, (journal) => Stream.runCollect(journal.read())).pipe(Effect.provide(store.open))

const corruption = <A>(exit: Exit.Exit<A, Journal.JournalError | Journal.JournalCorrupted>) => {
  if (Exit.isSuccess(exit)) return assert.fail("the damaged journal was accepted")
  const failure = Cause.failureOption(exit.cause)
  if (failure._tag === "None") return assert.fail(`expected JournalCorrupted, got ${Cause.pretty(exit.cause)}`)
  assert.strictEqual(failure.value._tag, "JournalCorrupted", failure.value.message)
  return failure.value as Journal.JournalCorrupted
}

/** Runs the conformance suite on the journals of `makeStore` (any journal layer: give it a fresh store per call). */
export const conformance = (name: string, makeStore: MakeStore) =>
  describe(`Journal conformance: ${name}`, () => {
    it.effect("integrity: a changed character that still decodes is JournalCorrupted naming its line", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        if (store.tamper === undefined) return
        yield* appendAll([events(0, 6), events(6, 4)]).pipe(Effect.provide(store.open))
        yield* store.tamper.editDelta(5)
        const error = corruption(yield* Effect.exit(readAllOnce(store)))
        assert.strictEqual(error.line, store.tamper.lineOf(5), error.message)
        // What comes before it is intact: the damage is located, not guessed.
        assert.include(error.message, `line ${store.tamper.lineOf(5)}`)
      }).pipe(Effect.scoped))

    it.effect("integrity: a journal whose first event was removed is JournalCorrupted", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        if (store.tamper === undefined) return
        yield* appendAll([events(0, 10)]).pipe(Effect.provide(store.open))
        yield* store.tamper.removeFirst
        const error = corruption(yield* Effect.exit(readAllOnce(store)))
        // Reported where the first event should be (the chain or the recorded start catches it).
        assert.strictEqual(error.line, store.tamper.lineOf(0), error.message)
      }).pipe(Effect.scoped))

    it.effect("integrity: an untouched journal still opens after many batches and reopenings", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        for (let i = 0; i < 4; i++) yield* appendAll([events(i * 300, 300)]).pipe(Effect.provide(store.open))
        const all = yield* readAllOnce(store)
        assert.strictEqual(Chunk.size(all), 1_200)
      }).pipe(Effect.scoped))

    it.effect("an empty journal has no events and lastSequence -1", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          assert.strictEqual(yield* journal.lastSequence, -1)
          assert.deepStrictEqual(yield* readAll(), [])
          assert.deepStrictEqual(journal.repairs, [])
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("reads back what was appended, in order, batch after batch", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        const written = events(0, 100)
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          yield* appendAll([written.slice(0, 10), written.slice(10, 11), written.slice(11)])
          assert.strictEqual(yield* journal.lastSequence, 99)
          const all = yield* readAll()
          assert.deepStrictEqual(all.map(encode), written.map(encode))
          // A read is repeatable.
          assert.deepStrictEqual(sequencesOf(yield* readAll()), range(0, 99))
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("reads a range: from and to are inclusive, out-of-range bounds give what exists", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        yield* Effect.gen(function*() {
          yield* appendAll([events(0, 600), events(600, 400)])
          const cases: ReadonlyArray<readonly [{ readonly from?: number; readonly to?: number }, ReadonlyArray<number>]> = [
            [{ from: 10, to: 19 }, range(10, 19)],
            [{ from: 0, to: 0 }, [0]],
            [{ from: 255, to: 257 }, range(255, 257)],
            [{ from: 511 }, range(511, 999)],
            [{ from: 512, to: 767 }, range(512, 767)],
            [{ from: 999 }, [999]],
            [{ to: 4 }, range(0, 4)],
            [{ from: 990, to: 5_000 }, range(990, 999)],
            [{ from: 1_000 }, []],
            [{ from: 50, to: 40 }, []],
            [{ from: -5, to: 2 }, range(0, 2)]
          ]
          for (const [options, expected] of cases) {
            assert.deepStrictEqual(sequencesOf(yield* readAll(options)), expected, JSON.stringify(options))
          }
          const some = yield* readAll({ from: 700, to: 702 })
          assert.deepStrictEqual(some.map(encode), events(700, 3).map(encode))
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("reads only the kinds asked for: a full read's events of those kinds, in order, over any range", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        // Every kind of payload, then 4,500 events of which every other one is not a delta (pages of kinds).
        const samples = everyPayload().map((payload, i) => stamped(i, payload))
        const mixed = events(samples.length, 4_500, (sequence) =>
          sequence % 2 === 0 ? stamped(sequence, new Event.InterruptRequested({ participant: `p${sequence}`, runId: null })) : deltaEvent(sequence))
        yield* appendAll([samples, mixed.slice(0, 1_000), mixed.slice(1_000)]).pipe(Effect.provide(store.open))
        yield* Effect.gen(function*() {
          const all = yield* readAll()
          const last = samples.length + mixed.length - 1
          const cases: ReadonlyArray<Journal.ReadOptions> = [
            { kinds: ["InterruptRequested"] },
            { kinds: ["TextDelta"], from: 3_001, to: 3_010 },
            { kinds: ["ItemAdded", "ItemDone", "ParticipantJoined"] },
            { kinds: ["InterruptRequested", "TextDelta"], from: 100, to: 2_600 },
            { kinds: ["InterruptRequested"], from: last },
            { kinds: ["JournalRepaired"], from: 10 },
            { kinds: [] }
          ]
          for (const options of cases) {
            const kinds = new Set<string>(options.kinds)
            const expected = all.filter((event) =>
              kinds.has(event.payload._tag) && event.sequence >= (options.from ?? 0) && event.sequence <= (options.to ?? last))
            const read = yield* Effect.flatMap(Journal.Journal, (journal) => Stream.runCollect(journal.read(options)))
            assert.deepStrictEqual(Chunk.toReadonlyArray(read).map(encode), expected.map(encode), JSON.stringify(options))
          }
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("integrity: a read of some kinds still finds a changed record of those kinds, naming its line", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        if (store.tamper === undefined) return
        yield* appendAll([events(0, 6), events(6, 4)]).pipe(Effect.provide(store.open))
        yield* store.tamper.editDelta(5)
        const error = corruption(
          yield* Effect.exit(
            Effect.flatMap(Journal.Journal, (journal) => Stream.runCollect(journal.read({ kinds: ["TextDelta"] }))).pipe(
              Effect.provide(store.open)
            )
          )
        )
        assert.strictEqual(error.line, store.tamper.lineOf(5), error.message)
      }).pipe(Effect.scoped))

    it.effect("opened again, it holds the same events and continues after them", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        yield* appendAll([events(0, 300)]).pipe(Effect.provide(store.open))
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          assert.strictEqual(yield* journal.lastSequence, 299)
          assert.deepStrictEqual((yield* readAll()).map(encode), events(0, 300).map(encode))
          yield* appendAll([events(300, 150), events(450, 150)])
        }).pipe(Effect.provide(store.open))
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          assert.strictEqual(yield* journal.lastSequence, 599)
          assert.deepStrictEqual(journal.repairs, [])
          assert.deepStrictEqual(sequencesOf(yield* readAll()), range(0, 599))
          assert.deepStrictEqual((yield* readAll({ from: 290, to: 310 })).map(encode), events(290, 21).map(encode))
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("an environment restarted on it continues its sequence numbers and rebuilds the same transcript", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        const onJournal = <A, E>(effect: Effect.Effect<A, E, Environment.Environment>) =>
          effect.pipe(Effect.provide(Environment.layer().pipe(Layer.provide(store.open))))

        const first = yield* onJournal(Effect.gen(function*() {
          const env = yield* Environment.Environment
          yield* env.publishAll("agent", conversation("run-1", "m1", ["Hel", "lo ", "wor", "ld"]))
          yield* env.publish("agent", new Event.ItemAdded({
            item: new ContextItem.ModelMessage({ id: "m2", author: "agent", status: "in_progress", content: [] }),
            runId: "run-2"
          }))
          yield* env.publish("agent", new Event.TextDelta({ itemId: "m2", contentIndex: 0, delta: "unfinished" }))
          return { last: yield* env.lastSequence, items: yield* transcriptItems }
        }))
        assert.strictEqual(first.last, 8)
        assert.deepStrictEqual(first.items.map((item) => item.id), ["m1-question", "m1", "m2"])

        const second = yield* onJournal(Effect.gen(function*() {
          const env = yield* Environment.Environment
          assert.strictEqual(yield* env.lastSequence, first.last)
          assert.deepStrictEqual(yield* transcriptItems, first.items)
          const next = yield* env.publishAll("agent", conversation("run-3", "m3", ["again"]))
          assert.deepStrictEqual(next.map((event) => event.sequence), range(first.last + 1, first.last + next.length))
          return { last: yield* env.lastSequence, items: yield* transcriptItems }
        }))
        assert.deepStrictEqual(second.items.map((item) => item.id), ["m1-question", "m1", "m2", "m3-question", "m3"])

        yield* onJournal(Effect.gen(function*() {
          const env = yield* Environment.Environment
          assert.deepStrictEqual(yield* transcriptItems, second.items)
          // A subscriber replaying from the start sees every event once, then the live ones.
          const subscription = yield* env.subscribe({ from: 0 })
          yield* env.publish("alice", new Event.InterruptRequested({ participant: "agent", runId: null }))
          const seen = yield* subscription.stream.pipe(Stream.take(second.last + 2), Stream.runCollect)
          assert.deepStrictEqual(sequencesOf(Chunk.toReadonlyArray(seen)), range(0, second.last + 1))
        }).pipe(Effect.scoped))
      }).pipe(Effect.scoped))

    it.effect("takes large batches, directly and through an environment", () =>
      Effect.gen(function*() {
        const store = yield* makeStore
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          yield* journal.append(events(0, 20_000))
          assert.strictEqual(yield* journal.lastSequence, 19_999)
        }).pipe(Effect.provide(store.open))
        yield* Effect.gen(function*() {
          const env = yield* Environment.Environment
          const published = yield* env.publishAll(
            "agent",
            Array.from({ length: 10_000 }, (_, i) => new Event.TextDelta({ itemId: "big", contentIndex: 0, delta: `${i} ` }))
          )
          assert.strictEqual(published[0]!.sequence, 20_000)
          yield* env.flush
        }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(store.open))))
        yield* Effect.gen(function*() {
          const journal = yield* Journal.Journal
          assert.strictEqual(yield* journal.lastSequence, 29_999)
          const all = yield* readAll()
          assert.deepStrictEqual(sequencesOf(all), range(0, 29_999))
          assert.deepStrictEqual(encode(all[29_999]!).payload, { _tag: "TextDelta", itemId: "big", contentIndex: 0, delta: "9999 " })
        }).pipe(Effect.provide(store.open))
      }).pipe(Effect.scoped))

    it.effect("every kind of event payload round-trips", () =>
      Effect.gen(function*() {
        const samples = everyPayload()
        assert.deepStrictEqual(missingPayloadKinds(samples), [], "add a sample of each new payload kind to everyPayload")
        const written = samples.map((payload, i) => stamped(i, payload, i % 2 === 0 ? "alice" : "agent-1"))
        const store = yield* makeStore
        yield* appendAll([written]).pipe(Effect.provide(store.open))
        const read = yield* readAll().pipe(Effect.provide(store.open))
        assert.deepStrictEqual(read.map(encode), written.map(encode))
        for (const [i, event] of read.entries()) {
          // Decoded back into the same classes, not plain objects.
          assert.strictEqual(Object.getPrototypeOf(event.payload), Object.getPrototypeOf(written[i]!.payload))
        }
      }).pipe(Effect.scoped))
  })
