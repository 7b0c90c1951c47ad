/**
 * Restart at any event index: a journal cut after event i (the process died there) and resumed
 * ends with every run closed, no item left in progress, every call answered, and no call run twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Ref, Schema, Stream } from "effect"
import { Agent, ContextItem, Environment, Event, Journal, Reducer, ScriptedModel, Tool, Toolkit } from "@chorus/core"

const counter = (runs: Ref.Ref<number>) =>
  Tool.make("count", {
    description: "Counts",
    parameters: Schema.Struct({}),
    handler: () => Effect.as(Ref.update(runs, (n) => n + 1), "counted")
  })

const answered = (request: { readonly items: ReadonlyArray<{ readonly _tag: string }> }) =>
  request.items.some((item) => item._tag === "FunctionCallOutput")

const script: ScriptedModel.Options = {
  turns: [(request) =>
    answered(request)
      ? [ScriptedModel.text("counted once")]
      : [ScriptedModel.reasoning("I should count"), ScriptedModel.functionCall("count", {}, { callId: "c1" })]],
  whenExhausted: "repeat-last"
}

/** One lifetime on a journal: join the agent, optionally say something, wait until `done` holds. */
const lifetime = (
  journal: Journal.Service,
  runs: Ref.Ref<number>,
  body: Effect.Effect<void, unknown, Environment.Environment>
) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const model = yield* ScriptedModel.make(script)
    yield* env.join(Agent.make({ id: "ops" })).pipe(Effect.provide(model.layer), Effect.provide(Toolkit.make(counter(runs)).layer))
    yield* body
  }).pipe(Effect.provide(Environment.layer().pipe(Layer.provide(Layer.succeed(Journal.Journal, journal)), Layer.orDie)))

const read = (journal: Journal.Service) => Effect.map(Stream.runCollect(journal.read()), (chunk) => [...chunk])

const ids = (events: ReadonlyArray<Event.Event>, tag: "RunStarted" | "RunEnded") =>
  new Set(events.flatMap((event) => event.payload._tag === tag ? [(event.payload as Event.RunStarted).runId] : []))

describe("Agent resume at any event index", () => {
  it.effect("every prefix of a run resumes to a closed, valid transcript, with the call run at most once", () =>
    Effect.gen(function*() {
      // The uninterrupted run.
      const journal = yield* Journal.makeMemory
      const firstRuns = yield* Ref.make(0)
      yield* lifetime(journal, firstRuns, Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.publish("alice", new Event.ParticipantJoined({ participant: "alice", kind: "human" }))
        const item = ContextItem.userText({ id: "u1", author: "alice", text: "count" })
        yield* env.publish("alice", new Event.ItemAdded({ item, runId: null }))
        yield* env.publish("alice", new Event.ItemDone({ item, runId: null }))
        yield* env.waitFor((event) => event.payload._tag === "RunEnded")
      }))
      assert.strictEqual(yield* Ref.get(firstRuns), 1)
      const events = yield* read(journal)
      assert.isAbove(events.length, 20)
      for (let cut = 1; cut < events.length; cut++) {
        const prefix = events.slice(0, cut)
        const resumed = yield* Journal.makeMemory
        yield* resumed.append(prefix)
        const runs = yield* Ref.make(0)
        const hasMessage = prefix.some((event) => event.payload._tag === "ItemDone" && event.author === "alice")
        const closed = prefix.some((event) => event.payload._tag === "RunEnded")
        yield* lifetime(resumed, runs, Effect.gen(function*() {
          const env = yield* Environment.Environment
          if (hasMessage && !closed) yield* env.waitFor((event) => event.payload._tag === "RunEnded")
          else yield* Effect.yieldNow()
        }))
        const final = yield* read(resumed)
        const where = `cut after event ${cut - 1} (${prefix[cut - 1]!.payload._tag})`
        // At most once: a start in the prefix means the resumed agent never runs it again.
        const startedBefore = prefix.some((event) => event.payload._tag === "FunctionCallStarted")
        assert.isAtMost((startedBefore ? 1 : 0) + (yield* Ref.get(runs)), 1, where)
        // Every run closed, every item finished, every call answered.
        const started = ids(final, "RunStarted")
        const ended = ids(final, "RunEnded")
        assert.deepStrictEqual([...ended].sort(), [...started].sort(), `${where}: a run was left open`)
        const inferences = new Map<string, string>()
        for (const event of final) {
          const payload = event.payload
          if (payload._tag === "InferenceStarted") inferences.set(payload.inferenceId, "open")
          if (payload._tag === "InferenceCompleted" || payload._tag === "InferenceFailed" || payload._tag === "InferenceInterrupted") {
            inferences.set(payload.inferenceId, "closed")
          }
        }
        assert.notInclude([...inferences.values()], "open", `${where}: an inference was left open`)
        const transcript = Reducer.items(Reducer.run(Reducer.transcript, final))
        assert.isFalse(transcript.some((item) => item.status === "in_progress"), `${where}: an item is left in progress`)
        const outputs = new Set(transcript.flatMap((item) => item._tag === "FunctionCallOutput" ? [item.callId] : []))
        for (const item of transcript) {
          if (item._tag === "FunctionCall") assert.isTrue(outputs.has(item.callId), `${where}: call ${item.callId} has no output`)
        }
        if (hasMessage) assert.isAtLeast(started.size, 1, `${where}: the message was never handled`)
      }
    }))
})
