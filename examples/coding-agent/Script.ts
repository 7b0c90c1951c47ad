/**
 * The scripted model the demo runs on without an API key. Each turn is
 * computed from the request, so any message gets a sensible reply, also after
 * a restart (the context then comes from the journal):
 *
 * - until `hello.py` has been written, or when asked to write again: it
 *   reasons, explains, and calls `write_file` (which needs your approval);
 * - asked what is in the sandbox: it calls `list_directory` (read-only, no
 *   approval);
 * - asked to sign up (or for a form), when server-everything is attached
 *   (`CODING_AGENT_EVERYTHING=true`): it calls its
 *   `trigger-elicitation-request` tool, whose form you answer in the terminal;
 * - anything else: it answers from the conversation so far;
 * - after a tool result: it says what happened.
 *
 * Every delta waits `latency` (60 ms by default), slow enough to watch and to
 * stop with Ctrl-C.
 *
 * @since 0.1.0
 */
import { ContextItem, ScriptedModel } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import type { Duration, Layer } from "effect"

/** The file the scripted task creates, relative to the sandbox. */
export const fileName = "hello.py"

/** What the first `write_file` puts in `hello.py`. */
export const helloPy = [
  "#!/usr/bin/env python3",
  "\"\"\"Say hello: written by the Chorus demo agent.\"\"\"",
  "",
  "",
  "def main() -> None:",
  "    print(\"Hello from the Chorus sandbox!\")",
  "",
  "",
  "if __name__ == \"__main__\":",
  "    main()",
  ""
].join("\n")

/** What a later `write_file` (the n-th, n >= 2) puts in `hello.py`. */
export const helloPyAgain = (n: number): string =>
  helloPy.replace("Hello from the Chorus sandbox!", `Hello again from the Chorus sandbox! (version ${n})`)

/** The explanation streamed before the first write; long enough to stop half-way. */
export const plan =
  "Sure. I will create a small Python program, hello.py, in the sandbox. It defines a main function that prints " +
  "a greeting, and calls it when the file is run as a script, so you can try it with python3 hello.py. " +
  "Writing a file changes the sandbox, so the filesystem server asks for your approval first: " +
  "you will see the exact arguments before anything happens."

/** Does the message ask for a (new) write? */
export const asksToWrite = (message: string): boolean => /\b(write|create|again|rewrite|make)\b/i.test(message)

/** Does the message ask what is in the sandbox? */
export const asksToList = (message: string): boolean => /\b(list|ls|files|sandbox|directory)\b/i.test(message)

/** server-everything's tool that asks the person for a form's worth of input (an MCP elicitation). */
export const elicitingTool = "trigger-elicitation-request"

/** Does the message ask to fill in a form? */
export const asksForForm = (message: string): boolean => /\b(form|sign me up|sign up|profile|survey)\b/i.test(message)

/** What the model says after the form's call: the server's own words, without its debugging dump. */
export const afterForm = (output: string): string => `The server answered:\n${output.split("\nRaw result:")[0]!.trim()}`

/** The text of a message shown to the model, without the `author: ` attribution the agent adds. */
const unattributed = (item: ContextItem.UserMessage): string => {
  const text = ContextItem.text(item)
  const prefix = `${item.author}: `
  return text.startsWith(prefix) ? text.slice(prefix.length) : text
}

const quote = (text: string, max = 60): string => `"${text.length > max ? `${text.slice(0, max - 1)}…` : text}"`

const lines = (text: string): number => text.split("\n").filter((line) => line.length > 0).length

/** What the request shows of the conversation. */
const conversation = (items: ReadonlyArray<ContextItem.ContextItem>) => {
  const messages = items.filter((item): item is ContextItem.UserMessage => item._tag === "UserMessage").map(unattributed)
  const calls = new Map<string, ContextItem.FunctionCall>()
  for (const item of items) if (item._tag === "FunctionCall") calls.set(item.callId, item)
  const writes = items.filter((item): item is ContextItem.FunctionCallOutput =>
    item._tag === "FunctionCallOutput" && !item.isError && calls.get(item.callId)?.name === "write_file"
  ).length
  return { messages, calls, writes }
}

/**
 * What the model says after a call that did not run. A rejection reaches the model as the agent's explanation
 * ("The call was rejected by you: <reason>. Do not retry it unchanged."); the person reads the reason itself.
 */
const afterError = (name: string, output: string): string => {
  const rejection = /rejected by [^:]+: (.*)\. Do not retry/s.exec(output)
  if (rejection === null) return `${name} did not work (${output.split("\n")[0] ?? ""}). What would you like me to do instead?`
  const reason = rejection[1] ?? ""
  if (reason.startsWith("instead: ")) {
    return `Understood, I did not run ${name}. You asked for something else: ${quote(reason.slice("instead: ".length), 80)}. ` +
      "I am a scripted model and only know my one task; set OPENAI_API_KEY for a real one."
  }
  return reason === "rejected"
    ? `OK, I did not run ${name}. Tell me what you would like me to do instead.`
    : `OK, I did not run ${name} (${quote(reason, 80)}). Tell me what you would like me to do instead.`
}

/** One scripted turn, chosen from what the model is shown. */
export const turn = (request: InferenceRunner.Request): ReadonlyArray<ScriptedModel.Step> => {
  const items = request.items
  const { calls, messages, writes } = conversation(items)
  const last = items[items.length - 1]

  if (last?._tag === "FunctionCallOutput") {
    const call = calls.get(last.callId)
    const output = ContextItem.text(last)
    if (last.isError) return [ScriptedModel.text(afterError(call?.name ?? "the call", output))]
    if (call?.name === elicitingTool) return [ScriptedModel.text(afterForm(output))]
    if (call?.name === "write_file") {
      return [
        ScriptedModel.text(
          `Done: ${fileName} is in the sandbox (${output}). Run it with python3 ${fileName}. ` +
            "Ask me what is in the sandbox, or ask me anything about what we did."
        )
      ]
    }
    const entries = output.split("\n").filter((line) => line.trim() !== "")
    return [
      ScriptedModel.text(
        entries.length === 0
          ? "The sandbox is empty."
          : `The sandbox holds ${entries.length} ${entries.length === 1 ? "entry" : "entries"}: ${entries.join(", ")}.`
      )
    ]
  }

  const message = messages[messages.length - 1] ?? ""
  if (asksForForm(message) && request.tools.some((tool) => tool.name === elicitingTool)) {
    return [
      ScriptedModel.reasoning("The user wants to sign up. server-everything's form tool asks them for the details itself."),
      ScriptedModel.functionCall(elicitingTool, {})
    ]
  }
  if (writes > 0 && asksToList(message)) {
    return [
      ScriptedModel.reasoning("The user wants to see the sandbox; listing a directory is read-only, no approval needed."),
      ScriptedModel.functionCall("list_directory", { path: "." }, { chunks: 2 })
    ]
  }
  if (writes === 0 || asksToWrite(message)) {
    const content = writes === 0 ? helloPy : helloPyAgain(writes + 1)
    return [
      ScriptedModel.reasoning(
        writes === 0
          ? `The user asked: ${quote(message)}. My one scripted task is a hello-world program, so I will write ${fileName}.`
          : `The user wants ${fileName} written again. I will write version ${writes + 1}.`
      ),
      ScriptedModel.text(writes === 0 ? plan : `Writing version ${writes + 1} of ${fileName}; it needs your approval again.`),
      ScriptedModel.functionCall("write_file", { path: fileName, content }, { chunks: 12 })
    ]
  }
  return [
    ScriptedModel.reasoning("A question about our conversation: I will answer from what I remember of it."),
    ScriptedModel.text(
      `You said ${quote(message)}. So far you sent me ${messages.length} messages; the first was ` +
        `${quote(messages[0] ?? "")}. I wrote ${fileName} ${writes === 1 ? "once" : `${writes} times`} ` +
        `(${lines(helloPy)} lines). I am a scripted model: set OPENAI_API_KEY for real answers.`
    )
  ]
}

/** The scripted model as a layer; `latency` is the time before each delta (default 60 ms). */
export const layer = (options?: { readonly latency?: Duration.DurationInput | undefined }): Layer.Layer<
  InferenceRunner.InferenceRunner
> =>
  ScriptedModel.layer({
    turns: [turn],
    whenExhausted: "repeat-last",
    latency: options?.latency ?? "60 millis",
    model: "scripted"
  })
