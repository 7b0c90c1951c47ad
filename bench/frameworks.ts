/**
 * One scripted model stream — `n` text deltas, no latency — played through
 * three frameworks to one observer that counts every delta and its text:
 *
 * - **Chorus**: an agent in an environment (in-memory journal) with an
 *   `InferenceRunner` that yields the item, the deltas, the finished item and
 *   `Finished`; a user message published to the environment starts the run;
 *   an observer participant sees every event. Timed from the publish of the
 *   user message to the observer seeing `RunEnded`.
 * - **@openai/agents**: an `Agent` whose `Model` yields `response_started`,
 *   the deltas as `output_text_delta` and `response_done`; `run(agent, input,
 *   { stream: true })`, every streamed event read. Timed from `run` to the
 *   end of the event stream.
 * - **ai** (Vercel AI SDK): `streamText` with `MockLanguageModelV3` whose
 *   stream is `simulateReadableStream` without delays (`null`: its default of
 *   0 ms would `setTimeout` between chunks); `fullStream` read to the end.
 *
 * Each framework gets its model events built before the clock starts, in its
 * own format, from the same delta strings. Every run checks that the observer
 * saw all `n` deltas and all the text, so no work can be skipped.
 */
import { Agent as OpenAiAgent, type Model, type ModelResponse, run, setTracingDisabled, type StreamEvent } from "@openai/agents"
import { simulateReadableStream, streamText } from "ai"
import { MockLanguageModelV3 } from "ai/test"
import { Deferred, Effect, Layer, Stream } from "effect"
import { Agent, ContextItem, Environment, Event, InferenceRunner, Participant, Toolkit } from "@chorus/core"
import { now } from "./support.js"

// No trace leaves the process (there is no network; the exporter would try).
setTracingDisabled(true)

/** The scripted model output: `n` delta strings and their text. */
export interface Script {
  readonly deltas: ReadonlyArray<string>
  readonly text: string
}

export const script = (n: number): Script => {
  const deltas = Array.from({ length: n }, (_, i) => `tok${i % 997} `)
  return { deltas, text: deltas.join("") }
}

/** What a run observed; checked against the script. */
export interface Observed {
  readonly ms: number
  readonly deltas: number
  readonly chars: number
}

/** Fails loudly when the observer did not see the whole stream. */
export const check = (framework: string, script: Script, observed: Observed): Observed => {
  if (observed.deltas !== script.deltas.length || observed.chars !== script.text.length) {
    throw new Error(
      `${framework}: the observer saw ${observed.deltas} deltas (${observed.chars} chars), ` +
        `expected ${script.deltas.length} (${script.text.length} chars)`
    )
  }
  return observed
}

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

/** One Chorus run through an agent in a fresh environment. */
export const chorusRun = (script: Script, events: ReadonlyArray<InferenceRunner.Part>): Promise<Observed> =>
  Effect.runPromise(
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      let deltas = 0
      let chars = 0
      const ended = yield* Deferred.make<number>()
      yield* env.join(Participant.observer("observer", (event) => {
        const payload = event.payload
        if (payload._tag === "TextDelta") {
          deltas++
          chars += payload.delta.length
        } else if (payload._tag === "RunEnded") {
          return Deferred.succeed(ended, now())
        }
        return Effect.void
      }))
      yield* env.join(Agent.make({ id: "assistant" })).pipe(
        Effect.provide(Layer.succeed(InferenceRunner.InferenceRunner, playing(events))),
        Effect.provide(Toolkit.empty.layer)
      )
      const start = now()
      yield* env.publishAll("alice", userMessage("question", "alice", "Go."))
      const end = yield* Deferred.await(ended)
      return { ms: end - start, deltas, chars }
    }).pipe(Effect.provide(Environment.layerMemory({ coalesceAfter: Infinity })), Effect.scoped)
  ).then((observed) => check("chorus", script, observed))

// ---------------------------------------------------------------------------
// @openai/agents
// ---------------------------------------------------------------------------

/** The model events of an @openai/agents streamed response, built once per script. */
export const openAiAgentsEvents = (script: Script): ReadonlyArray<StreamEvent> => [
  { type: "response_started" },
  ...script.deltas.map((delta): StreamEvent => ({ type: "output_text_delta", delta })),
  {
    type: "response_done",
    response: {
      id: "resp_bench",
      usage: { requests: 1, inputTokens: 1, outputTokens: script.deltas.length, totalTokens: script.deltas.length + 1 },
      output: [{
        type: "message",
        id: "msg_bench",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: script.text }]
      }]
    }
  }
]

/** A `Model` that plays the given events with no latency. */
const fakeModel = (events: ReadonlyArray<StreamEvent>, text: string): Model => ({
  getResponse: (): Promise<ModelResponse> =>
    Promise.reject(new Error(`the benchmark streams; getResponse was not expected (${text.length} chars)`)),
  getStreamedResponse: async function*() {
    yield* events
  }
})

export const openAiAgentsRun = async (script: Script, events: ReadonlyArray<StreamEvent>): Promise<Observed> => {
  const agent = new OpenAiAgent({ name: "assistant", instructions: "Answer.", model: fakeModel(events, script.text) })
  let deltas = 0
  let chars = 0
  const start = now()
  const result = await run(agent, "Go.", { stream: true })
  for await (const event of result) {
    if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") {
      deltas++
      chars += event.data.delta.length
    }
  }
  await result.completed
  const end = now()
  if (result.finalOutput !== script.text) throw new Error("@openai/agents: the final output is not the streamed text")
  return check("@openai/agents", script, { ms: end - start, deltas, chars })
}

// ---------------------------------------------------------------------------
// ai (Vercel AI SDK)
// ---------------------------------------------------------------------------

type V3Part = Exclude<
  Awaited<ReturnType<MockLanguageModelV3["doStream"]>>["stream"] extends ReadableStream<infer P> ? P : never,
  never
>

/** The model stream parts of an `ai` mock model, built once per script. */
export const aiParts = (script: Script): Array<V3Part> => [
  { type: "stream-start", warnings: [] },
  { type: "text-start", id: "msg_bench" },
  ...script.deltas.map((delta): V3Part => ({ type: "text-delta", id: "msg_bench", delta })),
  { type: "text-end", id: "msg_bench" },
  {
    type: "finish",
    finishReason: { unified: "stop", raw: "stop" },
    usage: {
      inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: script.deltas.length, text: script.deltas.length, reasoning: 0 }
    }
  }
]

export const aiRun = async (script: Script, parts: Array<V3Part>): Promise<Observed> => {
  const model = new MockLanguageModelV3({
    doStream: async () => ({
      stream: simulateReadableStream({ chunks: parts, initialDelayInMs: null, chunkDelayInMs: null })
    })
  })
  let deltas = 0
  let chars = 0
  const start = now()
  const result = streamText({ model, prompt: "Go." })
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") {
      deltas++
      chars += part.text.length
    } else if (part.type === "error") {
      throw part.error
    }
  }
  const end = now()
  if ((await result.text) !== script.text) throw new Error("ai: the final text is not the streamed text")
  return check("ai", script, { ms: end - start, deltas, chars })
}
