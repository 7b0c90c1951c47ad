/**
 * The web chat: an agent and the browsers' human in one environment, served
 * by `@chorus/server`'s routes plus the page and its two libraries. This file
 * is wiring; the HTTP protocol lives in `@chorus/server`.
 *
 * - `GET /` — the page (`page.html`, plain JavaScript).
 * - `GET /assets/marked.js`, `GET /assets/purify.js` — Markdown rendering
 *   (`marked`) and sanitising (`DOMPurify`), served from `node_modules`.
 * - everything `Routes.router` serves: `GET /snapshot` (the first paint),
 *   `GET /events` (OpenResponses SSE, resumable, tied to the journal),
 *   `POST /messages`, `/interrupt`, `/approvals`, `/clarifications`,
 *   `POST /chat` (`useChat`) and `POST /v1/responses` (any OpenAI client talks
 *   to the same conversation the browsers show).
 *
 * @since 0.1.0
 */
import { FileSystem, HttpRouter, HttpServerResponse } from "@effect/platform"
import type { HttpServerError, Path } from "@effect/platform"
import { Agent, Environment, Human, InputStream } from "@chorus/core"
import type { InferenceRunner } from "@chorus/core"
import { Conversations, Routes } from "@chorus/server"
import { Effect, Stream } from "effect"
import type { Scope } from "effect"
import { createRequire } from "node:module"
import * as NodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Notes from "./Notes.js"

/** Options of the server. */
export interface Options {
  /** Where `write_note` writes. */
  readonly sandbox: string
  /** The port; 0 (default) picks a free one. */
  readonly port?: number | undefined
  /** The interface to listen on. Default `127.0.0.1`. */
  readonly host?: string | undefined
  /** The agent's id. Default `assistant`. */
  readonly agent?: string | undefined
  /** The id the browsers speak as. Default `you`. */
  readonly human?: string | undefined
  /** The agent's system prompt. */
  readonly instructions?: string | undefined
  /** The page's title. */
  readonly title?: string | undefined
}

/** A running web chat. */
export interface WebChat {
  /** The page's address, e.g. `http://127.0.0.1:8787/`. */
  readonly url: string
  readonly port: number
  readonly agent: string
  readonly human: string
}

const defaultInstructions =
  "You are a helpful assistant in a web chat. Answer clearly; you may use Markdown. When the user asks you to write, " +
  `save or remember something, use the ${Notes.toolName} tool; the user approves every note before it is written.`

const pageFile = fileURLToPath(new URL("./page.html", import.meta.url))
const require = createRequire(import.meta.url)

/** The page's libraries, bundled by their authors for a browser (UMD / IIFE builds). */
export const assets: Readonly<Record<string, string>> = {
  "marked.js": NodePath.join(NodePath.dirname(require.resolve("marked/package.json")), "lib", "marked.umd.js"),
  "purify.js": require.resolve("dompurify/purify.min.js")
}

/** The page with its configuration filled in. */
const renderPage = (template: string, config: unknown) =>
  // `<` is escaped so that no value can close the script element.
  template.replace("/*CHORUS_CONFIG*/null", JSON.stringify(config).replace(/</g, "\\u003c"))

/**
 * Starts the web chat on the environment in context: joins the browsers'
 * human and the agent (on the `InferenceRunner` in context, `write_note`
 * needing approval) and serves on `host:port` until the scope closes. On an
 * environment whose journal already holds a conversation, the agent resumes
 * it and the page shows it.
 */
export const make = (
  options: Options
): Effect.Effect<
  WebChat,
  HttpServerError.ServeError | Environment.ParticipantAlreadyJoined | Environment.ParticipantStartFailed,
  Environment.Environment | InferenceRunner.InferenceRunner | FileSystem.FileSystem | Path.Path | Scope.Scope
> =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    const fs = yield* FileSystem.FileSystem
    const agent = options.agent ?? "assistant"
    const human = options.human ?? "you"
    const template = yield* Effect.orDie(fs.readFileString(pageFile))
    const page = renderPage(template, { agent, human, title: options.title ?? "Chorus web chat" })
    const files = yield* Effect.forEach(Object.entries(assets), ([name, path]) =>
      Effect.map(Effect.orDie(fs.readFileString(path)), (text) => [name, text] as const))

    yield* env.join(Human.make({ id: human })).pipe(Effect.provide(InputStream.layer(Stream.never)))
    yield* env.join(Agent.make({
      id: agent,
      instructions: options.instructions ?? defaultInstructions,
      approval: { tools: { [Notes.toolName]: "always" } }
    })).pipe(Effect.provide(Notes.toolkit(options.sandbox).layer))

    const app = Routes.router({ conversations: Conversations.single(env), speaker: Routes.localHuman(human) }).pipe(
      HttpRouter.get("/", Effect.succeed(HttpServerResponse.text(page, { contentType: "text/html; charset=utf-8" }))),
      (router) =>
        files.reduce((router, [name, text]) =>
          HttpRouter.get(router, `/assets/${name}`, Effect.succeed(HttpServerResponse.text(text, {
            contentType: "text/javascript; charset=utf-8",
            headers: { "cache-control": "public, max-age=3600" }
          }))), router)
    )
    const server = yield* Routes.serve(app, { port: options.port, host: options.host })
    return { url: server.url, port: server.port, agent, human }
  })
