/**
 * The scripted model the example runs on without an API key: it reasons,
 * answers at length, writes a note (with approval) when asked to, and, when
 * server-everything is attached (`WEB_CHAT_EVERYTHING`), calls its
 * `trigger-elicitation-request` tool when asked to fill in a form, so that
 * the server asks the person in the page. Slowly enough to watch every part
 * of the page move.
 *
 * @since 0.1.0
 */
import { ContextItem, ScriptedModel } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import type { Duration, Layer } from "effect"
import * as Notes from "./Notes.js"

/** Does this message ask for a note? */
export const asksForNote = (message: string): boolean => /\b(note|write|save|remember)\b/i.test(message)

/** server-everything's tool that asks the person for a form's worth of input (an MCP elicitation). */
export const elicitingTool = "trigger-elicitation-request"

/** Does this message ask for a form to fill in? */
export const asksForForm = (message: string): boolean => /\b(form|sign me up|profile|survey)\b/i.test(message)

/** The note the scripted model writes for the `index`-th request (1-based) asking for one. */
export const noteFor = (message: string, index: number) => ({
  filename: `note-${index}.md`,
  content: `# Note ${index}\n\n${message}\n`
})

/** The long answer the scripted model gives to a message. */
export const answerFor = (message: string): string =>
  `You said: "${message}". This answer comes from the scripted model, word by word, so you can watch it stream. ` +
  "Chorus puts agents and people in one environment: every token, every reasoning step and every tool call is an " +
  "event that all participants see as it happens. Press Stop while I am writing and the partial answer is kept, " +
  "marked incomplete. Send another message while I am busy and it waits in my queue until I am done. Ask me to " +
  "write a note and I will ask for your approval before touching the disk. Set OPENAI_API_KEY to talk to a real model."

/** The last message from someone else, without the `author: ` attribution the agent adds. */
const lastMessage = (items: ReadonlyArray<ContextItem.ContextItem>): string => {
  for (let i = items.length - 1; i >= 0; i--) {
    const item = items[i]!
    if (item._tag !== "UserMessage") continue
    const text = ContextItem.text(item)
    const prefix = `${item.author}: `
    return text.startsWith(prefix) ? text.slice(prefix.length) : text
  }
  return ""
}

/** One scripted turn, chosen from what the model is shown. */
export const turn = (request: InferenceRunner.Request): ReadonlyArray<ScriptedModel.Step> => {
  const items = request.items
  const last = items[items.length - 1]
  if (last?._tag === "FunctionCallOutput") {
    const output = ContextItem.text(last)
    const call = items.find((item): item is ContextItem.FunctionCall =>
      item._tag === "FunctionCall" && item.callId === last.callId
    )
    if (call?.name === elicitingTool) {
      return [ScriptedModel.text(`The server answered:\n\n${output.split("\nRaw result:")[0]!.trim()}`)]
    }
    return last.isError
      ? [ScriptedModel.text(`The note was not written: ${output} Tell me if you want me to try something else.`)]
      : [ScriptedModel.text(`Done. ${output} You can find it in the notes folder of this example.`)]
  }
  const message = lastMessage(items)
  if (asksForForm(message) && request.tools.some((tool) => tool.name === elicitingTool)) {
    return [
      ScriptedModel.reasoning("The user wants to fill in a form. The MCP server's tool asks them for it directly."),
      ScriptedModel.functionCall(elicitingTool, {})
    ]
  }
  if (asksForNote(message)) {
    const index = items.filter((item) => item._tag === "FunctionCall").length + 1
    return [
      ScriptedModel.reasoning(
        "The user wants this written down. I will save it as a note; writing a file needs their approval first."
      ),
      ScriptedModel.functionCall(Notes.toolName, noteFor(message, index), { chunks: 6 })
    ]
  }
  return [
    ScriptedModel.reasoning("A question. I will answer it at length so the streaming is easy to follow."),
    ScriptedModel.text(answerFor(message))
  ]
}

/** The scripted model as a layer; `latency` is the time before each delta (default 40 ms). */
export const layer = (options?: { readonly latency?: Duration.DurationInput | undefined }): Layer.Layer<
  InferenceRunner.InferenceRunner
> =>
  ScriptedModel.layer({
    turns: [turn],
    whenExhausted: "repeat-last",
    latency: options?.latency ?? "40 millis",
    model: "scripted"
  })
