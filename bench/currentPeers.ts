/**
 * The peers at their current releases — `ai@7` (needs Node >= 22) and the
 * latest `@openai/agents` — played exactly as `frameworks.ts` plays their
 * previous majors (same scripted deltas, same checks). Imported only in a
 * Node 24 benchmark process (`isolated.ts`), so Node 20 never loads them.
 */
import {
  Agent as OpenAiAgent,
  type Model,
  type ModelResponse,
  run,
  setTracingDisabled,
  type StreamEvent
} from "openai-agents-current"
import { simulateReadableStream, streamText } from "ai7"
import { MockLanguageModelV4 } from "ai7/test"
import { check, type Observed, type Script } from "./frameworks.js"
import { now } from "./support.js"

setTracingDisabled(true)

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

const fakeModel = (events: ReadonlyArray<StreamEvent>): Model => ({
  getResponse: (): Promise<ModelResponse> => Promise.reject(new Error("the benchmark streams")),
  getStreamedResponse: async function*() {
    yield* events
  }
})

export const openAiAgentsRun = async (script: Script, events: ReadonlyArray<StreamEvent>): Promise<Observed> => {
  const agent = new OpenAiAgent({ name: "assistant", instructions: "Answer.", model: fakeModel(events) })
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
  if (result.finalOutput !== script.text) throw new Error("@openai/agents (current): the final output is not the streamed text")
  return check("@openai/agents (current)", script, { ms: end - start, deltas, chars })
}

type V4Part = Awaited<ReturnType<MockLanguageModelV4["doStream"]>>["stream"] extends ReadableStream<infer P> ? P : never

export const aiParts = (script: Script): Array<V4Part> => [
  { type: "stream-start", warnings: [] },
  { type: "text-start", id: "msg_bench" },
  ...script.deltas.map((delta): V4Part => ({ type: "text-delta", id: "msg_bench", delta })),
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

export const aiRun = async (script: Script, parts: Array<V4Part>): Promise<Observed> => {
  const model = new MockLanguageModelV4({
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
  if ((await result.text) !== script.text) throw new Error("ai@7: the final text is not the streamed text")
  return check("ai@7", script, { ms: end - start, deltas, chars })
}
