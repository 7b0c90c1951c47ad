/**
 * An environment over HTTP: routes a user mounts in their own
 * `@effect/platform` app, and a ready server.
 *
 * | route | what it does |
 * | --- | --- |
 * | `GET /events` | the events as SSE in OpenResponses payloads (`chorus.` extensions), resumable with `Last-Event-ID`, tied to the journal's identity |
 * | `GET /snapshot` | the conversation folded for a first paint, with the journal identity and the sequence to resume from |
 * | `POST /messages` `{ text, policy? }` | a user message |
 * | `POST /interrupt` `{ participant?, runId? }` | stops a run (default: the running agent's) |
 * | `POST /approvals` `{ callId, approved, reason? }` | answers an approval; 404 / 409 when no such call waits, nothing published |
 * | `POST /clarifications` `{ callId, answer }` | answers an agent's question |
 * | `POST /elicitations` `{ elicitationId, action, content? }` | answers an MCP server's elicitation; content checked against its form (400), unknown 404, ended 409 |
 * | `POST /chat` | the AI SDK UI message stream (`useChat` with `DefaultChatTransport`) |
 * | `POST /v1/responses` | OpenResponses-compatible Responses API, streaming and not |
 *
 * With `Conversations.keyed` every route is under `/conversations/:conversation`.
 * Bodies are decoded with Schema; a malformed one is a 4xx and is never
 * published. Every request speaks for the participant the `speaker` hook
 * names (default: one local human, for requests from 127.0.0.1 / ::1).
 *
 * @since 0.1.0
 */
import type { HttpServerRequest } from "@effect/platform"
import { HttpRouter, HttpServer } from "@effect/platform"
import type { HttpServerError } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Environment } from "@chorus/core"
import { Effect, Layer } from "effect"
import type { Scope } from "effect"
import * as Http from "node:http"
import * as Conversations from "./Conversations.js"
import { Refused } from "./internal/http.js"
import * as internal from "./internal/routes.js"

export {
  /** Why a request was refused: the HTTP status and the message the client gets. */
  Refused
}

/** Maps a request to the participant it speaks for, or refuses it (`Refused` with 401 / 403). */
export type Speaker = (request: HttpServerRequest.HttpServerRequest) => Effect.Effect<string, Refused>

/** The default {@link Speaker}: one local human `id`, for requests from this machine only. */
export const localHuman: (id: string) => Speaker = internal.localHuman

/** Options of the routes. */
export interface Options {
  readonly conversations: Conversations.Conversations
  /** Who a request speaks for. Default `localHuman("you")`. */
  readonly speaker?: Speaker | undefined
  /** The largest body of the small endpoints (messages, approvals…). Default 64 KiB. */
  readonly maxBodyBytes?: number | undefined
  /** The largest body of `/chat` and `/v1/responses` (they carry a history). Default 1 MiB. */
  readonly maxHistoryBodyBytes?: number | undefined
}

/** The routes' request bodies. */
export const MessageBody = internal.MessageBody
export const InterruptBody = internal.InterruptBody
export const ApprovalBody = internal.ApprovalBody
export const ClarificationBody = internal.ClarificationBody
export const ElicitationBody = internal.ElicitationBody

/**
 * The routes, to mount in an app (`HttpRouter.mount`, `HttpRouter.concat`).
 *
 * @example
 * import { HttpRouter, HttpServerResponse } from "@effect/platform"
 * import { Effect } from "effect"
 * import { Environment } from "@chorus/core"
 * import { Conversations, Routes } from "@chorus/server"
 *
 * const app = Effect.gen(function*() {
 *   const env = yield* Environment.Environment
 *   return HttpRouter.empty.pipe(
 *     HttpRouter.get("/", HttpServerResponse.text("my app")),
 *     HttpRouter.mount("/chorus", Routes.router({ conversations: Conversations.single(env) }))
 *   )
 * })
 */
export const router = (options: Options): HttpRouter.HttpRouter<never, never> =>
  internal.make({
    conversations: options.conversations,
    speaker: options.speaker ?? internal.localHuman("you"),
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    maxResponsesBodyBytes: options.maxHistoryBodyBytes ?? 1024 * 1024
  })

/** A running server. */
export interface Server {
  /** e.g. `http://127.0.0.1:8787/` */
  readonly url: string
  readonly port: number
}

/**
 * Serves an app (the routes, or an app that mounts them) on `host:port`
 * (default `127.0.0.1`, a free port) until the scope closes; then the open
 * streams are cut and the server closes.
 */
export const serve = <E>(
  app: HttpRouter.HttpRouter<E, never>,
  options?: { readonly port?: number | undefined; readonly host?: string | undefined }
): Effect.Effect<Server, HttpServerError.ServeError, Scope.Scope> =>
  Effect.gen(function*() {
    let server: Http.Server | undefined = undefined
    const context = yield* Layer.build(
      NodeHttpServer.layer(() => (server = Http.createServer()), { port: options?.port ?? 0, host: options?.host ?? "127.0.0.1" })
    )
    // Runs before the server closes: an open event stream would keep `server.close` waiting forever.
    yield* Effect.addFinalizer(() => Effect.sync(() => server?.closeAllConnections()))
    yield* HttpServer.serveEffect(app).pipe(Effect.provide(context))
    const address = yield* HttpServer.addressWith((address) => Effect.succeed(address)).pipe(Effect.provide(context))
    const port = address._tag === "TcpAddress" ? address.port : 0
    const host = address._tag === "TcpAddress" ? address.hostname : "127.0.0.1"
    return { url: `http://${host.includes(":") ? `[${host}]` : host}:${port}/`, port }
  })

/** The routes over one environment (the one in context), served: the quickest way to put an environment on HTTP. */
export const serveEnvironment = (
  options?: Omit<Options, "conversations"> & { readonly port?: number | undefined; readonly host?: string | undefined }
): Effect.Effect<Server, HttpServerError.ServeError, Environment.Environment | Scope.Scope> =>
  Effect.gen(function*() {
    const env = yield* Environment.Environment
    return yield* serve(router({ ...options, conversations: Conversations.single(env) }), options)
  })
