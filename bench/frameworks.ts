/**
 * The stream throughput runs. One model answer of `n` text deltas, no
 * latency, to one observer that counts every delta and its text.
 *
 * - **Over the wire** (`chorusWireRun` here, the peers in `peers.ts`): what a
 *   user runs. A Responses API server on 127.0.0.1 (`sseServer.ts`, a process of
 *   its own) sends the whole answer at once; each framework reads it through
 *   its own OpenAI client: Chorus an agent on `OpenAiResponses` (the official
 *   `openai` SDK) in an environment, an observer participant seeing every
 *   event, timed from the publish of the user message to the observer seeing
 *   `RunEnded`.
 * - **Scripted** (`chorusRun`): the same agent and observer with an
 *   `InferenceRunner` that yields the parts as one `Stream.fromIterable`, no
 *   provider; the Chorus-only benchmarks (linearity, scale) and the bridge's
 *   cost per delta use it.
 *
 * Every run checks that the observer saw all `n` deltas and all the text, so
 * no work can be skipped.
 */
import { Deferred, Effect, Layer, Redacted, Stream } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, Participant, Toolkit } from "@chorus/core"
import { OpenAiClient, OpenAiResponses } from "@chorus/providers"
import { check, type Observed, type Script, stopwatch } from "./support.js"

// ---------------------------------------------------------------------------
// Chorus
// ---------------------------------------------------------------------------

/** The parts of a Chorus inference, built once per script. */
export const chorusEvents = (script: Script, author: string, id = "msg_bench"): ReadonlyArray<InferenceRunner.Part> => {
  return [
    new InferenceRunner.ItemStart({ itemId: id, kind: "message", callId: null, name: null }),
    ...script.deltas.map((delta) => new Event.TextDelta({ itemId: id, contentIndex: 0, delta })),
    new InferenceRunner.ItemEnd({ itemId: id, final: ContextItem.modelText({ id, author, text: script.text }) }),
    new InferenceRunner.Finished({
      usage: new Event.Usage({
        inputTokens: 1,
        outputTokens: script.deltas.length,
        totalTokens: script.deltas.length + 1,
        cachedInputTokens: 0,
        reasoningTokens: 0
      }),
      incompleteReason: null,
      model: "bench"
    })
  ]
}

/** An inference runner that plays the given events with no latency, as one stream. */
export const playing = (events: ReadonlyArray<InferenceRunner.Part>): InferenceRunner.Service => ({
  model: "bench",
  stream: () => Stream.fromIterable(events)
})

/** A human's message, as the environment carries it. */
export const userMessage = (id: string, author: string, text: string): ReadonlyArray<Event.Payload> => {
  const item = ContextItem.userText({ id, author, text })
  return [new Event.ItemAdded({ item, runId: null }), new Event.ItemDone({ item, runId: null })]
}

/** One Chorus run through an agent on the given runner in a fresh environment, an observer counting every delta. */
export const chorusRunOn = (
  framework: string,
  script: Script,
  runner: Layer.Layer<InferenceRunner.InferenceRunner>
): Promise<Observed> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      let deltas = 0
      let chars = 0
      let watch = stopwatch()
      const ended = yield* Deferred.make<{ readonly ms: number; readonly cpuMs: number }>()
      yield* env.join(Participant.observer("observer", (event) => {
        const payload = event.payload
        if (payload._tag === "TextDelta") {
          deltas++
          chars += payload.delta.length
        } else if (payload._tag === "RunEnded") {
          return Deferred.succeed(ended, watch.stop())
        }
        return Effect.void
      }))
      const built = yield* Layer.build(runner)
      yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(built), Effect.provide(Toolkit.empty.layer))
      watch = stopwatch()
      yield* env.publishAll("alice", userMessage("question", "alice", "Go."))
      const { cpuMs, ms } = yield* Deferred.await(ended)
      return { ms, cpuMs, deltas, chars }
    }).pipe(Effect.provide(Environment.layerMemory({ coalesceAfter: Infinity })), Effect.scoped)
  ).then((observed) => check(framework, script, observed))

/** The scripted run: the parts played by an in-process runner. */
export const chorusRun = (script: Script, events: ReadonlyArray<InferenceRunner.Part>): Promise<Observed> =>
  chorusRunOn("chorus (scripted)", script, Layer.succeed(InferenceRunner.InferenceRunner, playing(events)))

/** The model's name on the wire, and the key every client sends (the local server checks neither). */
export const wireModel = "gpt-bench"
export const wireKey = "sk-bench-not-a-secret"

/** The run over the wire: `OpenAiResponses` on `OpenAiClient` (the `openai` SDK) against the local server. */
export const chorusWireRun = (script: Script, baseURL: string): Promise<Observed> =>
  chorusRunOn(
    "chorus",
    script,
    OpenAiResponses.layer({ model: wireModel }).pipe(
      Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(wireKey), baseURL }))
    )
  )
