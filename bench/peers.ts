/**
 * The peers' throughput runs over the wire (see `frameworks.ts`): each reads
 * the same local Responses API server through its own OpenAI client.
 *
 * - **@openai/agents**: an `Agent` on the `OpenAIProvider`'s Responses model
 *   (the `openai` SDK); `run(agent, input, { stream: true })`, every streamed
 *   event read, then `completed`; the final output checked.
 * - **ai** (Vercel AI SDK): `streamText` on `@ai-sdk/openai`'s Responses
 *   model; `fullStream` read to the end; the final text checked.
 *
 * One function per peer for both of its releases: Node 20 runs the previous
 * majors (`@openai/agents@0.14`, `ai@6` with `@ai-sdk/openai@3`), Node 24 the
 * current ones (npm aliases `openai-agents-current`, `ai7`,
 * `ai-sdk-openai-current`), which `load` imports only in the process that runs
 * them.
 */
import { check, type Observed, type Script, stopwatch } from "./support.js"

/** A peer at one of its releases. */
export type Peer = "@openai/agents" | "@openai/agents@current" | "ai" | "ai@7"

// The current releases are typed as the previous ones: the members used here have the same shape in both.
type OpenAiAgents = typeof import("@openai/agents")
interface Ai {
  readonly streamText: typeof import("ai").streamText
  readonly createOpenAI: typeof import("@ai-sdk/openai").createOpenAI
}

const loadOpenAiAgents = async (current: boolean): Promise<OpenAiAgents> => {
  const lib = (current ? await import("openai-agents-current") : await import("@openai/agents")) as unknown as OpenAiAgents
  // No trace leaves the process (there is no network; the exporter would try).
  lib.setTracingDisabled(true)
  return lib
}

const loadAi = async (current: boolean): Promise<Ai> =>
  (current
    ? { streamText: (await import("ai7")).streamText, createOpenAI: (await import("ai-sdk-openai-current")).createOpenAI }
    : { streamText: (await import("ai")).streamText, createOpenAI: (await import("@ai-sdk/openai")).createOpenAI }) as Ai

const openAiAgentsRun = async (lib: OpenAiAgents, peer: Peer, script: Script, baseURL: string, model: string, apiKey: string): Promise<Observed> => {
  const provider = new lib.OpenAIProvider({ apiKey, baseURL, useResponses: true })
  const agent = new lib.Agent({ name: "assistant", instructions: "Answer.", model: await provider.getModel(model) })
  let deltas = 0
  let chars = 0
  const watch = stopwatch()
  const result = await lib.run(agent, "Go.", { stream: true })
  for await (const event of result) {
    if (event.type === "raw_model_stream_event" && event.data.type === "output_text_delta") {
      deltas++
      chars += event.data.delta.length
    }
  }
  await result.completed
  const { cpuMs, ms } = watch.stop()
  if (result.finalOutput !== script.text) throw new Error(`${peer}: the final output is not the streamed text`)
  return check(peer, script, { ms, cpuMs, deltas, chars })
}

const aiRun = async (lib: Ai, peer: Peer, script: Script, baseURL: string, model: string, apiKey: string): Promise<Observed> => {
  const provider = lib.createOpenAI({ apiKey, baseURL })
  let deltas = 0
  let chars = 0
  const watch = stopwatch()
  const result = lib.streamText({ model: provider.responses(model), prompt: "Go." })
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") {
      deltas++
      chars += part.text.length
    } else if (part.type === "error") {
      throw part.error
    }
  }
  const { cpuMs, ms } = watch.stop()
  if ((await result.text) !== script.text) throw new Error(`${peer}: the final text is not the streamed text`)
  return check(peer, script, { ms, cpuMs, deltas, chars })
}

/** Loads one peer (only its release) and returns its run against the server at `baseURL`. */
export const load = async (
  peer: Peer,
  options: { readonly baseURL: string; readonly model: string; readonly apiKey: string }
): Promise<(script: Script) => Promise<Observed>> => {
  const { baseURL, model, apiKey } = options
  switch (peer) {
    case "@openai/agents":
    case "@openai/agents@current": {
      const lib = await loadOpenAiAgents(peer === "@openai/agents@current")
      return (script) => openAiAgentsRun(lib, peer, script, baseURL, model, apiKey)
    }
    case "ai":
    case "ai@7": {
      const lib = await loadAi(peer === "ai@7")
      return (script) => aiRun(lib, peer, script, baseURL, model, apiKey)
    }
  }
}
