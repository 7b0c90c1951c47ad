/**
 * A served environment for the server tests: a scripted agent that reasons
 * and answers, asks approval for `save_note` when a message mentions a note,
 * and writes slowly when asked to be slow.
 */
import { Agent, ContextItem, Environment, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { Conversations, Routes } from "@chorus/server"
import { Effect, Layer, Schema } from "effect"
import type { Duration } from "effect"

export const longAnswer = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ")

const lastUser = (items: ReadonlyArray<ContextItem.ContextItem>) => {
  for (let i = items.length - 1; i >= 0; i--) if (items[i]!._tag === "UserMessage") return ContextItem.text(items[i]!)
  return ""
}

export const turn = (request: InferenceRunner.Request): ReadonlyArray<ScriptedModel.Step> => {
  const last = request.items[request.items.length - 1]
  if (last?._tag === "FunctionCallOutput") {
    return [ScriptedModel.text(last.isError ? "Not saved." : "Saved the note.")]
  }
  const message = lastUser(request.items)
  if (/note/i.test(message)) {
    return [
      ScriptedModel.reasoning("They want a note."),
      ScriptedModel.functionCall("save_note", { title: "groceries", body: "milk\neggs" }, { chunks: 4 })
    ]
  }
  if (/slow/i.test(message)) return [ScriptedModel.text(longAnswer)]
  return [ScriptedModel.reasoning("A greeting."), ScriptedModel.text("Hello back, friend.")]
}

export const saveNote = Tool.make("save_note", {
  description: "Saves a note",
  parameters: Schema.Struct({ title: Schema.String, body: Schema.String }),
  approval: "always",
  handler: ({ title }) => Effect.succeed(`saved ${title}`)
})

/** The agent (`assistant`) in the environment in context. */
export const joinAgent = (options?: { readonly latency?: Duration.DurationInput }) =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const model = yield* ScriptedModel.make({
      turns: [turn],
      whenExhausted: "repeat-last",
      latency: options?.latency ?? "1 millis",
      model: "scripted"
    })
    yield* env.join(Agent.make({ id: "assistant", approval: { tools: { save_note: "always" } } })).pipe(
      Effect.provide(Layer.merge(model.layer, Toolkit.make(saveNote).layer))
    )
    return env
  })

/** The routes over a fresh in-memory environment with the agent, served on 127.0.0.1. */
export const served = (options?: {
  readonly latency?: Duration.DurationInput
  readonly speaker?: Routes.Speaker
  readonly environment?: Layer.Layer<Environment.Environment>
}) =>
  Effect.gen(function*() {
    // Built in the caller's scope: the environment lives as long as the test's server.
    const context = yield* Layer.build(options?.environment ?? Environment.layerMemory())
    const env = yield* joinAgent(options).pipe(Effect.provide(context))
    const server = yield* Routes.serve(Routes.router({
      conversations: Conversations.single(env),
      ...(options?.speaker === undefined ? {} : { speaker: options.speaker })
    }))
    return { env, url: server.url.replace(/\/$/, "") }
  })

/** Reads an SSE body until `until` says stop (or the body ends); returns the frames as `{ event, id, data }`. */
export const readSse = async (
  response: Response,
  until: (frames: ReadonlyArray<SseFrame>) => boolean
): Promise<Array<SseFrame>> => {
  const frames: Array<SseFrame> = []
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  try {
    while (!until(frames)) {
      const { done, value } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const frame: SseFrame = { event: "message", id: undefined, data: "" }
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) frame.event = line.slice(7)
          else if (line.startsWith("id: ")) frame.id = line.slice(4)
          else if (line.startsWith("data: ")) frame.data += line.slice(6)
        }
        if (frame.data !== "") frames.push(frame)
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return frames
}

export interface SseFrame {
  event: string
  id: string | undefined
  data: string
}
