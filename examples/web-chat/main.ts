/**
 * `pnpm web-chat`: a chat with an agent in the browser, journaled: start it
 * again and the conversation (and any open tab) goes on where it was.
 *
 * Uses OpenAI (Responses API) when `OPENAI_API_KEY` is set — `OPENAI_MODEL`
 * (default `gpt-4.1-mini`) and `OPENAI_BASE_URL` (any OpenAI-compatible
 * server) apply — and a scripted model otherwise. `PORT` (default 8787) and
 * `WEB_CHAT_NOTES` (default a folder in the system's temp directory) are
 * optional; `WEB_CHAT_JOURNAL` (default `chorus-web-chat.jsonl` in the
 * system's temp directory) is where the conversation is kept.
 * `WEB_CHAT_EVERYTHING=true` attaches the MCP server `server-everything`:
 * ask the scripted model for a form and the server asks you, in the page
 * (an MCP elicitation).
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Environment, Journal } from "@chorus/core"
import { OpenAiResponses } from "@chorus/providers"
import { Config, Console, Effect, Layer, Option } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Script from "./Script.js"
import * as WebChat from "./WebChat.js"

const program = Effect.gen(function*() {
  const apiKey = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  const model = yield* Config.string("OPENAI_MODEL").pipe(Config.withDefault("gpt-4.1-mini"))
  const baseUrl = yield* Config.option(Config.string("OPENAI_BASE_URL"))
  const port = yield* Config.integer("PORT").pipe(
    Config.validate({ message: "PORT must be a port number (0 picks a free one)", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(8787)
  )
  const sandbox = yield* Config.string("WEB_CHAT_NOTES").pipe(
    Config.withDefault(Path.join(Os.tmpdir(), "chorus-web-chat-notes"))
  )
  const journal = yield* Config.string("WEB_CHAT_JOURNAL").pipe(
    Config.withDefault(Path.join(Os.tmpdir(), "chorus-web-chat.jsonl"))
  )
  const everything = yield* Config.boolean("WEB_CHAT_EVERYTHING").pipe(Config.withDefault(false))
  const inference = Option.isSome(apiKey)
    ? OpenAiResponses.layerConfig({ model })
    : Script.layer({ latency: "40 millis" })
  yield* Console.log(
    Option.isSome(apiKey)
      ? `web-chat: using OpenAI (${model}${Option.match(baseUrl, { onNone: () => "", onSome: (url) => ` at ${url}` })})`
      : "web-chat: OPENAI_API_KEY is not set, using the scripted model (ask it to write a note to see an approval)"
  )
  yield* Effect.gen(function*() {
    const chat = yield* WebChat.make({ sandbox, port, ...(everything ? WebChat.everything() : {}) })
    if (everything) yield* Console.log("web-chat: MCP server-everything attached: ask for a form (\"sign me up\") to see an elicitation")
    yield* Console.log(`web-chat: open ${chat.url} (notes are written to ${sandbox}; Ctrl-C to quit)`)
    yield* Console.log(`web-chat: the conversation is kept in ${journal}; OpenAI clients can talk to it at ${chat.url}v1`)
    return yield* Effect.never
  }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(
    Environment.layer().pipe(Layer.provide(Journal.layerFile(journal)), Layer.provide(NodeContext.layer)),
    inference
  )))
})

program.pipe(Effect.provide(NodeContext.layer), NodeRuntime.runMain)
